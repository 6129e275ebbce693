import { DescribeAutoScalingGroupsCommand, type AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { GetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createGitHubPort, loadGitHubCredentials } from '../lib/adapters/github';
import { parseGitHubScope, type GitHubCredentials, type GitHubScope, type RunnerRegistration } from '../lib/ports';
import { keys, OPEN_JOBS_HASH, OPEN_JOBS_INDEX } from '../lib/table';
import { CliError, type CliContext } from './context';

/**
 * Read-only views of the deployment for `status` and `doctor`. The job
 * ledger and activity items are read raw with the keys of lib/table.ts, so
 * the CLI depends on the table layout, not on the AutoScaler's code.
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

/** Open jobs of the pool from the sparse GSI (only jobs not yet completed are in it), oldest first. */
export async function readOpenJobs(doc: DynamoDBDocumentClient, tableName: string, pool: string, now: number): Promise<OpenJob[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: OPEN_JOBS_INDEX,
        KeyConditionExpression: '#pool = :pool',
        ExpressionAttributeNames: { '#pool': OPEN_JOBS_HASH },
        ExpressionAttributeValues: { ':pool': pool },
        ExclusiveStartKey: startKey,
      }),
    );
    items.push(...((page.Items ?? []) as Record<string, unknown>[]));
    startKey = page.LastEvaluatedKey as Record<string, unknown> | undefined;
  } while (startKey && items.length < 10_000);
  return items.map((item) => {
    const queuedMs = toMillis(item.queuedAt);
    const jobId = String(item.jobId ?? String(item.pk ?? '').replace(/^JOB#/, ''));
    return {
      jobId,
      status: String(item.status ?? 'queued'),
      ...(typeof item.repository === 'string' ? { repository: item.repository } : {}),
      labels: Array.isArray(item.labels) ? item.labels.map(String) : [],
      ...(queuedMs !== undefined ? { queuedAt: new Date(queuedMs).toISOString(), ageSeconds: Math.max(0, (now - queuedMs) / 1000) } : {}),
    };
  });
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
  const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: keys.activity(pool) }, ConsistentRead: true }));
  if (!Item) return null;
  const iso = (v: unknown) => {
    const ms = toMillis(v);
    return ms === undefined ? undefined : new Date(ms).toISOString();
  };
  const listed = [Item.decisions, Item.recentDecisions, Item.recent].find(Array.isArray) as unknown[] | undefined;
  const decisions = (listed ?? []).map(toDecision).filter((d): d is DecisionRecord => Boolean(d));
  const last = toDecision(Item.lastDecision);
  if (last && !decisions.some((d) => d.time === last.time && d.action === last.action)) decisions.unshift(last);
  decisions.sort((a, b) => String(b.time ?? '').localeCompare(String(a.time ?? '')));
  const view: ActivityView = { version: Number(Item.version ?? 0), decisions };
  const out = iso(Item.lastScaleOutAt);
  const inAt = iso(Item.lastScaleInAt);
  const reconcile = iso(Item.lastReconcileAt);
  if (out) view.lastScaleOutAt = out;
  if (inAt) view.lastScaleInAt = inAt;
  if (reconcile) view.lastReconcileAt = reconcile;
  const failure = Item.lastFailure as Record<string, unknown> | undefined;
  if (failure && typeof failure === 'object') {
    const at = iso(failure.at);
    view.lastFailure = { ...(at ? { at } : {}), error: [failure.error, failure.cause].filter((x) => typeof x === 'string' && x).join(': ') || 'unknown error' };
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
  raw?: AutoScalingGroup;
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
  const asg = await ctx.autoScaling();
  const { AutoScalingGroups } = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  const group = AutoScalingGroups?.[0];
  if (!group) throw new CliError(`Auto Scaling group ${name} does not exist`);
  const instances = group.Instances ?? [];
  // The group does not say which instances are spot; EC2 does (InstanceLifecycle).
  const markets = new Map<string, { market: string; launchTime?: string }>();
  if (instances.length) {
    const ec2 = await ctx.ec2();
    {
      const ids = instances.map((i) => i.InstanceId!).filter(Boolean);
      for (let i = 0; i < ids.length; i += 100) {
        const { Reservations } = await ec2.send(new DescribeInstancesCommand({ InstanceIds: ids.slice(i, i + 100) }));
        for (const instance of (Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
          markets.set(instance.InstanceId!, {
            market: instance.InstanceLifecycle === 'spot' ? 'spot' : 'on-demand',
            ...(instance.LaunchTime ? { launchTime: instance.LaunchTime.toISOString() } : {}),
          });
        }
      }
    }
  }
  return {
    name,
    desired: group.DesiredCapacity ?? 0,
    min: group.MinSize ?? 0,
    max: group.MaxSize ?? 0,
    source: 'aws',
    raw: group,
    instances: instances.map((i) => ({
      instanceId: i.InstanceId ?? '?',
      lifecycleState: String(i.LifecycleState ?? 'unknown'),
      market: markets.get(i.InstanceId ?? '')?.market ?? 'unknown',
      ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
      ...(markets.get(i.InstanceId ?? '')?.launchTime ? { launchTime: markets.get(i.InstanceId ?? '')!.launchTime } : {}),
      protectedFromScaleIn: Boolean(i.ProtectedFromScaleIn),
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
