import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readActivity as readActivityItem } from '../lib/activity';
import { AutoScalingGroupAdapter } from '../lib/adapters/auto-scaling';
import { createGitHubPort, loadGitHubCredentials } from '../lib/adapters/github';
import { listOpenJobs } from '../lib/ledger';
import { parseGitHubScope, type GitHubCredentials, type GitHubScope, type RunnerRegistration } from '../lib/ports';
import { CliError, type CliContext } from './context';

/**
 * Read-only views of the deployment for `status` and `doctor`, through the
 * same readers the Lambdas use: the ledger's sparse open-jobs index
 * (lib/ledger.ts), the ACTIVITY#<pool> item (lib/activity.ts) and the Auto
 * Scaling adapter (lib/adapters/auto-scaling.ts).
 */

export interface OpenJob {
  jobId: string;
  status: string;
  repository?: string;
  labels: string[];
  queuedAt?: string;
  ageSeconds?: number;
}

function toMillis(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value < 1e11 ? value * 1000 : value; // epoch seconds or ms
  if (typeof value === 'string' && value !== '') {
    if (/^\d+$/.test(value)) return toMillis(Number(value));
    const parsed = Date.parse(value);
    return Number.isFinite(parsed) ? parsed : undefined;
  }
  return undefined;
}

export { toMillis };

/** Open jobs of the pool (queued or in progress), oldest first, with their age. */
export async function readOpenJobs(doc: DynamoDBDocumentClient, tableName: string, pool: string, now: number): Promise<OpenJob[]> {
  const jobs = await listOpenJobs(doc, tableName, pool);
  return jobs
    .map((job) => {
      const queuedMs = toMillis(job.queuedAt);
      return {
        jobId: String(job.jobId),
        status: job.status,
        ...(job.repository ? { repository: job.repository } : {}),
        labels: job.labels,
        ...(queuedMs !== undefined ? { queuedAt: new Date(queuedMs).toISOString(), ageSeconds: Math.max(0, (now - queuedMs) / 1000) } : {}),
      };
    })
    .sort((a, b) => (b.ageSeconds ?? 0) - (a.ageSeconds ?? 0));
}

export interface DecisionRecord {
  time?: string;
  trigger?: string;
  action: string;
  current?: number | null;
  target?: number | null;
  reason?: string | null;
  error?: string;
}

export interface ActivityView {
  version: number;
  lastScaleOutAt?: string;
  lastScaleInAt?: string;
  lastReconcileAt?: string;
  decisions: DecisionRecord[];
  /** The last execution that failed (recorded by the state machine's Catch). */
  lastFailure?: { at?: string; error: string };
}

function toDecision(value: unknown): DecisionRecord | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const d = value as Record<string, unknown>;
  const time = toMillis(d.time ?? d.at ?? d.decidedAt ?? d.timestamp);
  const num = (v: unknown) => (typeof v === 'number' ? v : v === null ? null : undefined);
  return {
    action: String(d.action ?? 'none'),
    ...(time !== undefined ? { time: new Date(time).toISOString() } : {}),
    ...(typeof d.trigger === 'string' ? { trigger: d.trigger } : {}),
    ...(num(d.current) !== undefined ? { current: num(d.current) } : {}),
    ...(num(d.target) !== undefined ? { target: num(d.target) } : {}),
    ...(typeof d.reason === 'string' ? { reason: d.reason } : {}),
    ...(typeof d.error === 'string' ? { error: d.error } : {}),
  };
}

/** The ACTIVITY#<pool> item (null when the autoscaler never ran for the pool). */
export async function readActivity(doc: DynamoDBDocumentClient, tableName: string, pool: string): Promise<ActivityView | null> {
  const item = await readActivityItem(doc, tableName, pool);
  const never = item.version === 0 && !item.lastDecision && item.decisions.length === 0 && !item.lastReconcileAt && !item.lastFailure;
  if (never) return null;
  const iso = (v: unknown) => {
    const ms = toMillis(v);
    return ms === undefined ? undefined : new Date(ms).toISOString();
  };
  const decisions = item.decisions.map(toDecision).filter((d): d is DecisionRecord => Boolean(d));
  const last = toDecision(item.lastDecision);
  if (last && !decisions.some((d) => d.time === last.time && d.action === last.action)) decisions.unshift(last);
  decisions.sort((a, b) => String(b.time ?? '').localeCompare(String(a.time ?? '')));
  const view: ActivityView = { version: item.version, decisions };
  const out = iso(item.lastScaleOutAt);
  const inAt = iso(item.lastScaleInAt);
  const reconcile = iso(item.lastReconcileAt);
  if (out) view.lastScaleOutAt = out;
  if (inAt) view.lastScaleInAt = inAt;
  if (reconcile) view.lastReconcileAt = reconcile;
  if (item.lastFailure) {
    const at = iso(item.lastFailure.at);
    view.lastFailure = { ...(at ? { at } : {}), error: [item.lastFailure.error, item.lastFailure.cause].filter(Boolean).join(': ') || 'unknown error' };
  }
  return view;
}

export interface GroupInstanceView {
  instanceId: string;
  lifecycleState: string;
  market: string;
  instanceType?: string;
  launchTime?: string;
  protectedFromScaleIn?: boolean;
  /** Local mode only: the runner's state as the simulated GitHub sees it. */
  runnerStatus?: string;
}

export interface GroupView {
  name: string;
  desired: number;
  min: number;
  max: number;
  instances: GroupInstanceView[];
  source: 'aws' | 'local';
}

/** The group's name: --group, else the Runners stack output (AutoScalingGroupName or any output ending in GroupName). */
export async function groupName(ctx: CliContext, explicit?: string): Promise<string> {
  if (explicit) return explicit;
  const outputs = await ctx.stackOutputs(ctx.stacks.runners);
  if (!outputs) throw new CliError(`stack ${ctx.stacks.runners} does not exist; pass --group NAME`);
  const key = outputs.AutoScalingGroupName !== undefined ? 'AutoScalingGroupName' : Object.keys(outputs).find((k) => /GroupName$/.test(k));
  if (!key) throw new CliError(`stack ${ctx.stacks.runners} has no AutoScalingGroupName output; pass --group NAME`);
  return outputs[key];
}

export async function describeGroup(ctx: CliContext, name: string): Promise<GroupView> {
  const adapter = new AutoScalingGroupAdapter(name, { autoScaling: await ctx.autoScaling(), ec2: await ctx.ec2() });
  const group = await adapter.describe();
  return {
    name,
    desired: group.desired,
    min: group.min,
    max: group.max,
    source: 'aws',
    instances: group.instances.map((i) => ({
      instanceId: i.instanceId,
      lifecycleState: i.lifecycleState,
      market: i.market,
      ...(i.instanceType ? { instanceType: i.instanceType } : {}),
      launchTime: i.launchTime,
      protectedFromScaleIn: i.protectedFromScaleIn,
    })),
  };
}

export async function localGroup(ctx: CliContext): Promise<GroupView> {
  const state = await ctx.localState();
  return {
    name: state.group.name,
    desired: state.group.desired,
    min: state.group.min,
    max: state.group.max,
    source: 'local',
    instances: state.instances.map((i) => ({
      instanceId: i.id,
      lifecycleState: i.lifecycle,
      market: i.market,
      ...(i.instanceType ? { instanceType: i.instanceType } : {}),
      launchTime: i.launchedAt,
      runnerStatus: i.status,
    })),
  };
}

/** Finds a `org:NAME` / `repo:OWNER/NAME` value among the stacks' parameters and outputs. */
export async function githubScope(ctx: CliContext, explicit?: string): Promise<GitHubScope | undefined> {
  if (explicit) {
    try {
      return parseGitHubScope(explicit);
    } catch (error) {
      throw new CliError((error as Error).message, 1);
    }
  }
  for (const name of [ctx.stacks.autoScaler, ctx.stacks.runners, ctx.stacks.infrastructure]) {
    const stack = await ctx.describeStack(name).catch(() => null);
    const values = [...(stack?.Parameters ?? []).map((p) => p.ParameterValue), ...(stack?.Outputs ?? []).map((o) => o.OutputValue)];
    for (const value of values) {
      if (value && /^(org|repo):/.test(value)) {
        try {
          return parseGitHubScope(value);
        } catch {
          /* not a scope after all */
        }
      }
    }
  }
  return undefined;
}

export interface GitHubAccess {
  scope: GitHubScope;
  credentials: GitHubCredentials;
  baseUrl?: string;
  /** Where the credentials came from, for messages (never the value). */
  from: string;
}

function isLoopback(url: string | undefined): boolean {
  if (!url) return false;
  const host = new URL(url).hostname;
  return host === '127.0.0.1' || host === 'localhost';
}

/**
 * GitHub access as the autoscaler has it: credentials from the SSM SecureString
 * the Infrastructure stack names. The local mode's simulated GitHub takes any token.
 */
export async function githubAccess(ctx: CliContext, explicitScope?: string): Promise<GitHubAccess | { skipped: string }> {
  const baseUrl = ctx.options.githubUrl ?? (ctx.options.local ? (await ctx.localState()).endpoints.github : undefined);
  if (isLoopback(baseUrl)) {
    return { scope: (await githubScope(ctx, explicitScope)) ?? { kind: 'org', org: 'local-org' }, credentials: { type: 'pat', token: 'local-simulated-token' }, baseUrl, from: 'local simulated GitHub' };
  }
  const scope = await githubScope(ctx, explicitScope);
  if (!scope) return { skipped: 'GitHub scope unknown: pass --github-scope org:NAME or repo:OWNER/NAME' };
  const outputs = await ctx.stackOutputs(ctx.stacks.infrastructure).catch(() => null);
  const parameter = outputs?.GitHubCredentialsParameterName;
  // GitHub Enterprise Server: the AutoScaler stack's GitHubApiUrl parameter, unless --github-url overrides it.
  const autoScaler = baseUrl ? null : await ctx.describeStack(ctx.stacks.autoScaler).catch(() => null);
  const apiUrl = baseUrl ?? autoScaler?.Parameters?.find((p) => p.ParameterKey === 'GitHubApiUrl')?.ParameterValue;
  if (!parameter) return { skipped: `no GitHubCredentialsParameterName output on ${ctx.stacks.infrastructure}` };
  try {
    const credentials = await loadGitHubCredentials(parameter, { ssmClient: await ctx.ssm(), maxAgeSeconds: 0, forceRefresh: true });
    return { scope, credentials, ...(apiUrl ? { baseUrl: apiUrl } : {}), from: `SSM ${parameter}` };
  } catch (error) {
    return { skipped: `cannot read GitHub credentials from SSM ${parameter}: ${(error as Error).message}` };
  }
}

export async function listRunners(access: GitHubAccess): Promise<RunnerRegistration[]> {
  const port = createGitHubPort({ scope: access.scope, auth: access.credentials, ...(access.baseUrl ? { baseUrl: access.baseUrl } : {}), retry: { maxAttempts: 3 } });
  return port.listRunners();
}
