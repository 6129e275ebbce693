import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeRuleCommand, ListRulesCommand } from '@aws-sdk/client-eventbridge';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { Stack } from '@aws-sdk/client-cloudformation';
import { createAppAuth } from '@octokit/auth-app';
import { loadTemplate, parameterDefaults, resolveIntrinsics, resourcesOfType, runnerLabelsImport } from '../../lib/cfn-template';
import { normalizeLabels } from '../../lib/labels';
import { EVENT_SOURCE, WORKFLOW_JOB_DETAIL_TYPE } from '../../lib/events';
import type { EventPattern } from '../../lib/event-pattern';
import { readSettings } from '../../lib/settings-store';
import { rulesFromTemplate } from '../../local/bus';
import {
  instanceTypeCount,
  runChecks,
  type CheckResult,
  type DeliveryFact,
  type DoctorFacts,
  type Fact,
  type GroupFact,
  type RuleFact,
  type SsmParameterFact,
  type StackFact,
} from '../checks';
import { gatherBootHealth } from '../boot-health';
import { EXIT, type CliContext } from '../context';
import type { Output } from '../output';
import { runnerVersionChecks } from '../runner-version';
import { githubAccess, groupName, type GitHubAccess } from '../sources';

/**
 * `doctor`: gathers facts (each independently; a failure to read one is
 * itself a finding), then runs the pure checks of cli/checks.ts over them.
 */
export interface DoctorOptions {
  group?: string;
  githubScope?: string;
  hookId?: number;
  templateDir?: string;
}

async function fact<T>(work: () => Promise<T | { skipped: string }>): Promise<Fact<T>> {
  try {
    const value = await work();
    if (value && typeof value === 'object' && 'skipped' in (value as object) && Object.keys(value as object).length === 1) return value as { skipped: string };
    return { ok: true, value: value as T };
  } catch (error) {
    const name = (error as { name?: string }).name;
    const message = (error as Error).message ?? String(error);
    return { ok: false, error: name && name !== 'Error' && !message.includes(name) ? `${name}: ${message}` : message };
  }
}

function stackFact(name: string, stack: Stack | null): StackFact {
  return {
    name,
    exists: Boolean(stack),
    ...(stack?.StackStatus ? { status: stack.StackStatus } : {}),
    outputs: Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? ''])),
    parameters: Object.fromEntries((stack?.Parameters ?? []).map((p) => [p.ParameterKey ?? '', p.ResolvedValue ?? p.ParameterValue ?? ''])),
  };
}

async function gatherStacks(ctx: CliContext) {
  const names = ctx.stacks;
  const [infrastructure, autoScaler, runners] = await Promise.all([names.infrastructure, names.autoScaler, names.runners].map((n) => ctx.describeStack(n)));
  return {
    infrastructure: stackFact(names.infrastructure, infrastructure),
    autoScaler: stackFact(names.autoScaler, autoScaler),
    runners: stackFact(names.runners, runners),
  };
}

async function gatherSsm(ctx: CliContext, stacks: Fact<{ infrastructure: StackFact }>): Promise<SsmParameterFact[] | { skipped: string }> {
  if (!('ok' in stacks) || !stacks.ok || !stacks.value.infrastructure.exists) return { skipped: `stack ${ctx.stacks.infrastructure} not found, parameter names unknown` };
  const outputs = stacks.value.infrastructure.outputs;
  const wanted: Array<[string, string | undefined]> = [
    ['webhook secret', outputs.WebhookSecretParameterName],
    ['GitHub credentials', outputs.GitHubCredentialsParameterName],
  ];
  const ssm = await ctx.ssm();
  const facts: SsmParameterFact[] = [];
  for (const [purpose, name] of wanted) {
    if (!name) continue;
    try {
      // Without decryption: the type is all we need, the value never leaves SSM.
      const { Parameter } = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: false }));
      facts.push({ name, purpose, exists: true, ...(Parameter?.Type ? { type: Parameter.Type } : {}) });
    } catch (error) {
      if ((error as { name?: string }).name === 'ParameterNotFound') facts.push({ name, purpose, exists: false });
      else throw error;
    }
  }
  return facts;
}

interface RawDelivery {
  id: number;
  event?: string;
  action?: string | null;
  status?: string;
  status_code?: number;
  delivered_at?: string;
  redelivery?: boolean;
}

async function githubGet(access: GitHubAccess, path: string, token: string, scheme = 'token'): Promise<unknown> {
  const base = access.baseUrl ?? 'https://api.github.com';
  const response = await fetch(`${base}${path}`, {
    headers: { authorization: `${scheme} ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'runner-autoscaler-cli' },
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    const body = (await response.json().catch(() => ({}))) as { message?: string };
    const error = new Error(`GitHub GET ${path} answered ${response.status}${body.message ? `: ${String(body.message).slice(0, 200)}` : ''}`);
    (error as Error & { status?: number }).status = response.status;
    throw error;
  }
  return response.json();
}

async function gatherDeliveries(ctx: CliContext, options: DoctorOptions, webhookUrl: string | undefined): Promise<{ hook: string; recent: DeliveryFact[] } | { skipped: string }> {
  const access = await githubAccess(ctx, options.githubScope);
  if ('skipped' in access) return access;
  const toFacts = (raw: unknown) =>
    (Array.isArray(raw) ? (raw as RawDelivery[]) : []).map(
      (d): DeliveryFact => ({
        id: d.id,
        statusCode: Number(d.status_code ?? 0),
        ...(d.event ? { event: d.event } : {}),
        ...(d.action !== undefined ? { action: d.action } : {}),
        ...(d.status ? { status: d.status } : {}),
        ...(d.delivered_at ? { deliveredAt: d.delivered_at } : {}),
        ...(d.redelivery !== undefined ? { redelivery: d.redelivery } : {}),
      }),
    );
  if (access.credentials.type === 'app') {
    // An App's webhook deliveries are read with the App's own JWT, not an installation token.
    const auth = createAppAuth({ appId: access.credentials.appId, privateKey: access.credentials.privateKey });
    const { token } = await auth({ type: 'app' });
    return { hook: 'the GitHub App webhook', recent: toFacts(await githubGet(access, '/app/hook/deliveries?per_page=30', token, 'Bearer')) };
  }
  const token = access.credentials.token;
  const scopePath = access.scope.kind === 'org' ? `/orgs/${access.scope.org}` : `/repos/${access.scope.owner}/${access.scope.repo}`;
  let hookId = options.hookId;
  if (hookId === undefined) {
    try {
      const hooks = (await githubGet(access, `${scopePath}/hooks?per_page=100`, token)) as Array<{ id: number; config?: { url?: string } }>;
      const target = webhookUrl ?? (ctx.options.local ? (await ctx.localState()).endpoints.webhook : undefined);
      const found = hooks.find((h) => target && h.config?.url === target);
      if (!found) return { skipped: `no webhook at ${scopePath} points at ${target ?? 'the WebhookUrl output'}; pass --hook-id` };
      hookId = found.id;
    } catch (error) {
      if (ctx.options.local && (error as { status?: number }).status === 404) hookId = 1; // the simulated GitHub's only hook
      else return { skipped: `cannot list webhooks (${(error as Error).message}); the token needs admin:org_hook / repo hook read, or pass --hook-id` };
    }
  }
  return { hook: `hook ${hookId} (${scopePath})`, recent: toFacts(await githubGet(access, `${scopePath}/hooks/${hookId}/deliveries?per_page=30`, token)) };
}

async function gatherGroup(ctx: CliContext, options: DoctorOptions): Promise<GroupFact | { skipped: string }> {
  if (ctx.options.local && !options.group) return templateGroup(options.templateDir ?? '.');
  const name = await groupName(ctx, options.group);
  const asg = await ctx.autoScaling();
  const { AutoScalingGroups } = await asg.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
  const group = AutoScalingGroups?.[0];
  if (!group) throw new Error(`Auto Scaling group ${name} does not exist`);
  const mixed = group.MixedInstancesPolicy;
  const distribution = mixed?.InstancesDistribution;
  return {
    name,
    minSize: group.MinSize ?? 0,
    maxSize: group.MaxSize ?? 0,
    desired: group.DesiredCapacity ?? 0,
    ...(mixed
      ? {
          mixedInstancesPolicy: {
            ...(distribution?.OnDemandBaseCapacity !== undefined ? { onDemandBaseCapacity: distribution.OnDemandBaseCapacity } : {}),
            ...(distribution?.OnDemandPercentageAboveBaseCapacity !== undefined ? { onDemandPercentageAboveBaseCapacity: distribution.OnDemandPercentageAboveBaseCapacity } : {}),
            ...(distribution?.SpotAllocationStrategy ? { spotAllocationStrategy: distribution.SpotAllocationStrategy } : {}),
            instanceTypes: instanceTypeCount(mixed.LaunchTemplate?.Overrides),
          },
        }
      : {}),
    newInstancesProtectedFromScaleIn: Boolean(group.NewInstancesProtectedFromScaleIn),
    unprotectedInstances: (group.Instances ?? []).filter((i) => !i.ProtectedFromScaleIn && !/^Terminat/.test(String(i.LifecycleState))).map((i) => i.InstanceId ?? '?'),
  };
}

/** Local mode: the group the Runners template would create, with its parameter defaults. */
function templateGroup(dir: string): GroupFact | { skipped: string } {
  const path = resolve(dir, 'Runners', 'template.yaml');
  if (!existsSync(path)) return { skipped: `local mode and ${path} does not exist yet` };
  const template = loadTemplate(path);
  const groups = resourcesOfType(template, 'AWS::AutoScaling::AutoScalingGroup');
  if (groups.length === 0) throw new Error(`${path} defines no AWS::AutoScaling::AutoScalingGroup`);
  const [logicalId, resource] = groups[0];
  const names = { ...parameterDefaults(template), 'AWS::Region': 'us-east-1', 'AWS::AccountId': '000000000000', 'AWS::StackName': 'runner-autoscaler-runners', 'AWS::Partition': 'aws' };
  const p = (resolveIntrinsics(resource.Properties ?? {}, names) ?? {}) as Record<string, any>;
  const num = (v: unknown) => (v === undefined || v === null || v === '' ? undefined : Number(v));
  const mixed = p.MixedInstancesPolicy as Record<string, any> | undefined;
  const distribution = (mixed?.InstancesDistribution ?? {}) as Record<string, unknown>;
  const overrides = mixed?.LaunchTemplate?.Overrides;
  return {
    name: `${logicalId} in ${path} (parameter defaults)`,
    minSize: num(p.MinSize) ?? 0,
    maxSize: num(p.MaxSize) ?? 0,
    desired: num(p.DesiredCapacity) ?? num(p.MinSize) ?? 0,
    ...(mixed
      ? {
          mixedInstancesPolicy: {
            ...(num(distribution.OnDemandBaseCapacity) !== undefined ? { onDemandBaseCapacity: num(distribution.OnDemandBaseCapacity) } : {}),
            ...(num(distribution.OnDemandPercentageAboveBaseCapacity) !== undefined ? { onDemandPercentageAboveBaseCapacity: num(distribution.OnDemandPercentageAboveBaseCapacity) } : {}),
            ...(typeof distribution.SpotAllocationStrategy === 'string' ? { spotAllocationStrategy: distribution.SpotAllocationStrategy } : {}),
            instanceTypes: instanceTypeCount(overrides),
          },
        }
      : {}),
    newInstancesProtectedFromScaleIn: p.NewInstancesProtectedFromScaleIn === true || p.NewInstancesProtectedFromScaleIn === 'true',
    unprotectedInstances: [],
    fromTemplate: true,
  };
}

function parsePattern(text: string | undefined): EventPattern | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as EventPattern;
  } catch {
    return undefined;
  }
}

/** Rules that can carry workflow_job events (the schedule rule has no pattern). */
function isWorkflowJobRule(pattern: EventPattern): boolean {
  const text = JSON.stringify(pattern);
  return text.includes(WORKFLOW_JOB_DETAIL_TYPE) || text.includes(EVENT_SOURCE);
}

async function gatherRules(
  ctx: CliContext,
  options: DoctorOptions,
  stacks: Fact<{ infrastructure: StackFact; autoScaler: StackFact }>,
): Promise<{ source: string; rules: RuleFact[]; labels: string[] } | { skipped: string }> {
  if (ctx.options.local || !('ok' in stacks) || !stacks.ok || !stacks.value.autoScaler.exists) {
    if (!ctx.options.local) {
      if (!('ok' in stacks) || !stacks.ok) return { skipped: 'stacks could not be read' };
      return { skipped: `stack ${ctx.stacks.autoScaler} not found` };
    }
    const dir = resolve(options.templateDir ?? '.');
    const path = join(dir, 'AutoScaler', 'template.yaml');
    if (!existsSync(path)) return { skipped: `${path} does not exist (pass --template-dir with a checkout)` };
    const template = loadTemplate(path);
    const machines = [...resourcesOfType(template, 'AWS::Serverless::StateMachine'), ...resourcesOfType(template, 'AWS::StepFunctions::StateMachine')];
    if (machines.length === 0) throw new Error(`${path} defines no state machine`);
    // The labels a default deploy forwards: the Infrastructure template's RunnerLabels, which the rule imports.
    const infrastructure = join(dir, 'Infrastructure', 'template.yaml');
    const labels = existsSync(infrastructure) ? normalizeLabels(String(parameterDefaults(loadTemplate(infrastructure)).RunnerLabels ?? '').split(',')) : [];
    const names = {
      ...parameterDefaults(template),
      ...runnerLabelsImport(template, labels),
      'AWS::Region': 'us-east-1',
      'AWS::AccountId': '000000000000',
      'AWS::StackName': 'runner-autoscaler-autoscaler',
      'AWS::Partition': 'aws',
    };
    const rules = rulesFromTemplate(template, machines[0][0], names)
      .filter((r) => r.pattern && isWorkflowJobRule(r.pattern))
      .map((r) => ({ name: r.name, pattern: r.pattern! }));
    return { source: path, rules, labels };
  }
  const bus = stacks.value.infrastructure.outputs.EventBusName;
  const events = await ctx.eventBridge();
  const rules: RuleFact[] = [];
  let next: string | undefined;
  do {
    const page = await events.send(new ListRulesCommand({ ...(bus ? { EventBusName: bus } : {}), NextToken: next }));
    for (const listed of page.Rules ?? []) {
      if (!listed.Name || listed.State === 'DISABLED') continue;
      const described = await events.send(new DescribeRuleCommand({ Name: listed.Name, ...(bus ? { EventBusName: bus } : {}) }));
      const pattern = parsePattern(described.EventPattern ?? listed.EventPattern);
      if (pattern && isWorkflowJobRule(pattern)) rules.push({ name: listed.Name, pattern });
    }
    next = page.NextToken;
  } while (next);
  const labels = normalizeLabels((stacks.value.infrastructure.outputs.RunnerLabels ?? '').split(','));
  return { source: `EventBridge bus ${bus ?? 'default'}`, rules, labels };
}

export async function gatherFacts(ctx: CliContext, options: DoctorOptions): Promise<DoctorFacts> {
  const local = Boolean(ctx.options.local);
  const stacks: DoctorFacts['stacks'] = local ? { skipped: 'local mode: no CloudFormation stacks' } : await fact(() => gatherStacks(ctx));
  const ssm: DoctorFacts['ssm'] = local ? { skipped: 'local mode: no SSM parameters (the webhook secret is in the banner)' } : await fact(() => gatherSsm(ctx, stacks));
  const webhookUrl = 'ok' in stacks && stacks.ok ? stacks.value.infrastructure.outputs.WebhookUrl : undefined;
  const [deliveries, group, settings, rules] = await Promise.all([
    fact(() => gatherDeliveries(ctx, options, webhookUrl)),
    fact(() => gatherGroup(ctx, options)),
    fact(async () => {
      const stored = await readSettings(await ctx.doc(), await ctx.tableName(), ctx.pool);
      return { exists: Boolean(stored.item), settings: stored.settings, problems: stored.problems.map((p) => p.message) };
    }),
    fact(() => gatherRules(ctx, options, stacks)),
  ]);
  const runnersOutputs = 'ok' in stacks && stacks.ok ? stacks.value.runners.outputs : undefined;
  const bootHealth = await fact(() => gatherBootHealth(ctx, runnersOutputs));
  return { mode: local ? 'local' : 'aws', stackPrefix: ctx.options.stackPrefix, stacks, ssm, deliveries, group, settings, rules, bootHealth };
}

export function renderChecks(results: CheckResult[], out: Pick<Output, 'colors'>): string[] {
  const c = out.colors;
  const paint = { PASS: c.green, WARN: c.yellow, FAIL: c.red } as const;
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${paint[r.status](r.status.padEnd(4))}  ${r.check}: ${r.message}`);
    if (r.fix && r.status !== 'PASS') lines.push(`      fix: ${r.fix}`);
  }
  const count = (s: string) => results.filter((r) => r.status === s).length;
  lines.push('');
  lines.push(`${count('PASS')} passed, ${count('WARN')} warnings, ${count('FAIL')} failed`);
  return lines;
}

export async function doctorCommand(ctx: CliContext, out: Output, options: DoctorOptions): Promise<number> {
  const facts = await out.spin('checking stacks, SSM, GitHub, the group, settings and rules', () => gatherFacts(ctx, options));
  const results = [...runChecks(facts), ...(ctx.options.local ? [] : await runnerVersionChecks(facts.stacks))];
  const failed = results.some((r) => r.status === 'FAIL');
  if (ctx.options.json) out.line(JSON.stringify({ ok: !failed, results }, null, 2));
  else for (const line of renderChecks(results, out)) out.line(line);
  return failed ? EXIT.invalid : EXIT.ok;
}
