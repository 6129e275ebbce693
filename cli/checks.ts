import { checkBootHealth, type BootHealthFact } from './boot-health';
import { randomUUID } from 'node:crypto';
import { matchesEventPattern, type EventPattern } from '../lib/event-pattern';
import { EVENT_SOURCE, SCALING_ACTIONS, WORKFLOW_JOB_DETAIL_TYPE, type WorkflowJobEvent } from '../lib/events';
import type { Settings } from '../lib/settings';

/**
 * The doctor's checks: pure functions over facts gathered beforehand, so each
 * is tested on its own with facts a broken deployment would produce.
 */
export type CheckStatus = 'PASS' | 'WARN' | 'FAIL';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  message: string;
  fix?: string;
}

export type Fact<T> = { ok: true; value: T } | { ok: false; error: string } | { skipped: string };

export interface StackFact {
  name: string;
  exists: boolean;
  status?: string;
  outputs: Record<string, string>;
  parameters: Record<string, string>;
}

export interface SsmParameterFact {
  name: string;
  purpose: string;
  exists: boolean;
  type?: string;
}

export interface DeliveryFact {
  id: number;
  event?: string;
  action?: string | null;
  status?: string;
  statusCode: number;
  deliveredAt?: string;
  redelivery?: boolean;
}

export interface GroupFact {
  name: string;
  minSize: number;
  maxSize: number;
  desired: number;
  mixedInstancesPolicy?: {
    onDemandBaseCapacity?: number;
    onDemandPercentageAboveBaseCapacity?: number;
    spotAllocationStrategy?: string;
    instanceTypes: number;
  };
  newInstancesProtectedFromScaleIn?: boolean;
  unprotectedInstances: string[];
  /** Read from a template with parameter defaults (local mode), not a deployed group: sizes are not comparable to settings. */
  fromTemplate?: boolean;
}

/** Instance types a MixedInstancesPolicy may use: explicit overrides plus InstanceRequirements.AllowedInstanceTypes. */
export function instanceTypeCount(overrides: unknown): number {
  if (!Array.isArray(overrides)) return 0;
  let count = 0;
  for (const override of overrides as Array<Record<string, any>>) {
    if (override?.InstanceType) count += 1;
    const allowed = override?.InstanceRequirements?.AllowedInstanceTypes;
    if (Array.isArray(allowed)) count += allowed.length;
    else if (typeof allowed === 'string') count += allowed.split(',').filter(Boolean).length;
    else if (override?.InstanceRequirements) count += 2; // attribute-based selection: many types
  }
  return count;
}

export interface RuleFact {
  name: string;
  pattern: EventPattern;
}

export interface DoctorFacts {
  mode: 'aws' | 'local';
  stackPrefix: string;
  stacks: Fact<{ infrastructure: StackFact; autoScaler: StackFact; runners: StackFact }>;
  ssm: Fact<SsmParameterFact[]>;
  deliveries: Fact<{ hook: string; recent: DeliveryFact[] }>;
  group: Fact<GroupFact>;
  settings: Fact<{ exists: boolean; settings: Settings; problems: string[] }>;
  /** The workflow_job rules, and the pool's labels the webhook forwards (Infrastructure's RunnerLabels). */
  rules: Fact<{ source: string; rules: RuleFact[]; labels: string[] }>;
  /** The reconcile's last boot-failure check (cli/boot-health.ts); not judged when absent. */
  bootHealth?: Fact<BootHealthFact>;
}

const pass = (check: string, message: string): CheckResult => ({ check, status: 'PASS', message });
const warn = (check: string, message: string, fix?: string): CheckResult => ({ check, status: 'WARN', message, ...(fix ? { fix } : {}) });
const fail = (check: string, message: string, fix: string): CheckResult => ({ check, status: 'FAIL', message, fix });

/** A fact that could not be gathered: skipped is a WARN, an error reading it a FAIL. */
function unavailable(check: string, fact: Fact<unknown>, fix: string): CheckResult | undefined {
  if ('skipped' in fact) return warn(check, `skipped: ${fact.skipped}`);
  if (!fact.ok) return fail(check, `could not check: ${fact.error}`, fix);
  return undefined;
}

const STACK_DIRS = { infrastructure: 'Infrastructure', autoScaler: 'AutoScaler', runners: 'Runners' } as const;

export function checkStacksExist(facts: Pick<DoctorFacts, 'stacks' | 'stackPrefix'>): CheckResult[] {
  const name = 'stacks exist';
  const missing = unavailable(name, facts.stacks, 'check --region/--profile and that the credentials may call cloudformation:DescribeStacks');
  if (missing) return [missing];
  const stacks = (facts.stacks as { ok: true; value: Record<keyof typeof STACK_DIRS, StackFact> }).value;
  return (Object.keys(STACK_DIRS) as Array<keyof typeof STACK_DIRS>).map((key) => {
    const stack = stacks[key];
    const check = `stack ${stack.name}`;
    const deploy = `sam deploy --template-file ${STACK_DIRS[key]}/template.yaml --stack-name ${stack.name} --capabilities CAPABILITY_IAM (deploy order: Infrastructure, Runners, AutoScaler)`;
    if (!stack.exists) return fail(check, 'does not exist', `${deploy}; or pass the right --stack-prefix/--region`);
    const status = stack.status ?? 'UNKNOWN';
    if (/FAILED$|ROLLBACK_COMPLETE$|^ROLLBACK|DELETE/.test(status)) {
      return fail(check, `status ${status}`, `see the stack events (aws cloudformation describe-stack-events --stack-name ${stack.name}), fix the cause and redeploy`);
    }
    if (/IN_PROGRESS$/.test(status)) return warn(check, `status ${status}: an update is under way`, 'run doctor again when it completes');
    return pass(check, `status ${status}`);
  });
}

/** Outputs every consumer needs, by stack. */
export const REQUIRED_OUTPUTS = {
  infrastructure: ['EventBusName', 'WebhookUrl', 'WebhookSecretParameterName', 'GitHubCredentialsParameterName'],
  autoScaler: ['TableName'],
  runners: ['AutoScalingGroupName'],
} as const;

/**
 * Outputs exist, and wherever a consuming stack takes a parameter named like
 * a producing stack's output (EventBusName, AutoScalingGroupName, ...), the
 * values agree: a stack deployed against an old bus or group is caught here.
 */
export function checkStackOutputs(facts: Pick<DoctorFacts, 'stacks'>): CheckResult[] {
  const check = 'stack outputs match';
  if (!('ok' in facts.stacks) || !facts.stacks.ok) return [];
  const stacks = facts.stacks.value;
  if (!stacks.infrastructure.exists || !stacks.autoScaler.exists || !stacks.runners.exists) return [warn(check, 'skipped: not all three stacks exist')];
  const problems: string[] = [];
  for (const key of Object.keys(REQUIRED_OUTPUTS) as Array<keyof typeof REQUIRED_OUTPUTS>) {
    const outputs = stacks[key].outputs;
    for (const output of REQUIRED_OUTPUTS[key]) {
      const present = key === 'autoScaler' ? Object.keys(outputs).some((k) => /Table(Name)?$/.test(k)) : outputs[output] !== undefined;
      if (!present) problems.push(`${stacks[key].name} has no output ${output}`);
    }
  }
  const producers: Array<keyof typeof stacks> = ['infrastructure', 'runners', 'autoScaler'];
  for (const consumer of producers) {
    for (const producer of producers) {
      if (producer === consumer) continue;
      for (const [parameter, value] of Object.entries(stacks[consumer].parameters)) {
        const produced = stacks[producer].outputs[parameter];
        if (produced !== undefined && value !== '' && !value.startsWith('{{resolve:') && produced !== value) {
          problems.push(`${stacks[consumer].name} parameter ${parameter}=${value} but ${stacks[producer].name} output ${parameter}=${produced}`);
        }
      }
    }
  }
  // AutoScaler imports `${InfrastructureStackName}-EventBusName` etc.: those parameters must name these stacks.
  const byRole: Record<string, StackFact> = { Infrastructure: stacks.infrastructure, Runners: stacks.runners, AutoScaler: stacks.autoScaler };
  for (const consumer of producers) {
    for (const [parameter, value] of Object.entries(stacks[consumer].parameters)) {
      const role = /^(Infrastructure|Runners|AutoScaler)StackName$/.exec(parameter)?.[1];
      if (role && value !== byRole[role].name) problems.push(`${stacks[consumer].name} parameter ${parameter}=${value}, so it imports from ${value}, not ${byRole[role].name}`);
    }
  }
  const pools = producers.map((k) => stacks[k].outputs.PoolName).filter((p): p is string => p !== undefined);
  if (new Set(pools).size > 1) problems.push(`the stacks serve different pools: ${producers.map((k) => `${stacks[k].name}=${stacks[k].outputs.PoolName ?? '-'}`).join(', ')}`);
  if (problems.length) {
    return [fail(check, problems.join('; '), 'redeploy the consuming stack with the producing stack\'s output value (or update the producer), in order Infrastructure, Runners, AutoScaler')];
  }
  return [pass(check, 'required outputs present; parameters agree with the outputs they refer to')];
}

export function checkSsmParameters(facts: Pick<DoctorFacts, 'ssm'>): CheckResult[] {
  const check = 'SSM parameters';
  const missing = unavailable(check, facts.ssm, 'allow ssm:DescribeParameters/GetParameter for the CLI\'s credentials, or check --region');
  if (missing) return [missing];
  return (facts.ssm as { ok: true; value: SsmParameterFact[] }).value.map((p) => {
    const name = `SSM ${p.name}`;
    if (!p.exists) {
      return fail(name, `${p.purpose}: parameter does not exist`, `aws ssm put-parameter --type SecureString --name ${p.name} --value '...'  (see docs/ingress.md)`);
    }
    if (p.type !== 'SecureString') {
      return fail(name, `${p.purpose}: type is ${p.type ?? 'unknown'}, not SecureString`, `re-create it encrypted: aws ssm put-parameter --overwrite --type SecureString --name ${p.name} --value '...'`);
    }
    return pass(name, `${p.purpose}: SecureString`);
  });
}

export function checkWebhookDeliveries(facts: Pick<DoctorFacts, 'deliveries'>): CheckResult[] {
  const check = 'webhook deliveries';
  const missing = unavailable(check, facts.deliveries, 'check the GitHub credentials in SSM and the webhook id (--hook-id)');
  if (missing) return [missing];
  const { hook, recent: listed } = (facts.deliveries as { ok: true; value: { hook: string; recent: DeliveryFact[] } }).value;
  // A delivery still waiting for its answer has not failed (yet).
  const recent = listed.filter((d) => !/^pending$/i.test(d.status ?? ''));
  if (recent.length === 0) return [warn(check, `no recent deliveries on ${hook}`, 'queue a workflow job, or use "Redeliver"/ping in the webhook settings to test it')];
  const failed = recent.filter((d) => !(d.statusCode >= 200 && d.statusCode < 300));
  if (failed.length === 0) return [pass(check, `${recent.length} recent deliveries on ${hook} all succeeded`)];
  const codes = [...new Set(failed.map((d) => (d.statusCode === 0 ? 'no response' : String(d.statusCode))))].join(', ');
  const newest = failed[0];
  const hint = failed.some((d) => d.statusCode === 401)
    ? 'the webhook secret at GitHub differs from the SSM webhook secret: set the same value in both (docs/ingress.md, rotation)'
    : failed.some((d) => d.statusCode === 0 || d.statusCode >= 500)
      ? 'check the webhook function\'s logs and the Infrastructure WebhookUrl output; then redeliver the failed deliveries (GitHub never retries on its own)'
      : 'open the failed delivery at GitHub to see the response body';
  return [
    fail(
      check,
      `${failed.length} of ${recent.length} recent deliveries on ${hook} failed (${codes}); newest failed: #${newest.id}${newest.deliveredAt ? ` at ${newest.deliveredAt}` : ''}`,
      hint,
    ),
  ];
}

export function checkGroupPolicy(facts: Pick<DoctorFacts, 'group' | 'settings'>): CheckResult[] {
  const check = 'Auto Scaling group';
  const missing = unavailable(check, facts.group, 'pass --group NAME or check the Runners stack');
  if (missing) return [missing];
  const g = (facts.group as { ok: true; value: GroupFact }).value;
  // A template's parameter defaults are not the deployment: compare its structure, not its sizes, with the settings.
  const floor = !g.fromTemplate && 'ok' in facts.settings && facts.settings.ok ? facts.settings.value.settings.floor : undefined;
  const max = !g.fromTemplate && 'ok' in facts.settings && facts.settings.ok ? facts.settings.value.settings.max : undefined;
  const results: CheckResult[] = [];
  const redeploy = 'redeploy the Runners stack (Runners/template.yaml sets it); do not edit the group by hand';
  const policy = g.mixedInstancesPolicy;
  if (!policy) results.push(fail(`${check} ${g.name}`, 'has no MixedInstancesPolicy (spot above an on-demand floor)', redeploy));
  else {
    if (floor !== undefined && policy.onDemandBaseCapacity !== floor) {
      results.push(fail(`${check} ${g.name}`, `OnDemandBaseCapacity is ${policy.onDemandBaseCapacity ?? 'unset'}, settings floor is ${floor}`, `redeploy the Runners stack with Floor=${floor}, or \`settings set floor=${policy.onDemandBaseCapacity ?? 0}\``));
    }
    if (g.fromTemplate && policy.onDemandBaseCapacity !== g.minSize) {
      results.push(fail(`${check} ${g.name}`, `OnDemandBaseCapacity (${policy.onDemandBaseCapacity ?? 'unset'}) and MinSize (${g.minSize}) differ: both must be the floor`, 'set both from the Floor parameter in Runners/template.yaml'));
    }
    if (policy.onDemandPercentageAboveBaseCapacity !== 0) {
      results.push(fail(`${check} ${g.name}`, `OnDemandPercentageAboveBaseCapacity is ${policy.onDemandPercentageAboveBaseCapacity ?? 'unset (100)'}, must be 0 (spot above the floor)`, redeploy));
    }
    if (policy.instanceTypes < 2) {
      results.push(warn(`${check} ${g.name}`, `only ${policy.instanceTypes} instance type(s): spot capacity is more likely to run out`, 'list several instance types in the Runners stack'));
    }
  }
  if (!g.newInstancesProtectedFromScaleIn) {
    results.push(fail(`${check} ${g.name}`, 'NewInstancesProtectedFromScaleIn is off: the group may pick a busy runner as victim', redeploy));
  }
  if (g.unprotectedInstances.length) {
    results.push(
      fail(`${check} ${g.name}`, `instances without scale-in protection: ${g.unprotectedInstances.slice(0, 5).join(', ')}${g.unprotectedInstances.length > 5 ? ', ...' : ''}`, `aws autoscaling set-instance-protection --protected-from-scale-in --auto-scaling-group-name ${g.name} --instance-ids ...`),
    );
  }
  if (floor !== undefined && g.minSize !== floor) {
    results.push(warn(`${check} ${g.name}`, `MinSize is ${g.minSize}, settings floor is ${floor}`, `redeploy the Runners stack with Floor=${floor}`));
  }
  if (max !== undefined && g.maxSize < max) {
    results.push(warn(`${check} ${g.name}`, `MaxSize ${g.maxSize} is below settings max ${max}: the group caps scale-out at ${g.maxSize}`, `redeploy the Runners stack with MaxSize>=${max}, or \`settings set max=${g.maxSize}\``));
  }
  if (results.length === 0) {
    return [pass(`${check} ${g.name}`, `MixedInstancesPolicy on-demand base ${policy!.onDemandBaseCapacity}, 0% on-demand above it, ${policy!.instanceTypes} instance types, new instances protected from scale-in`)];
  }
  return results;
}

export function checkSettings(facts: Pick<DoctorFacts, 'settings'>): CheckResult[] {
  const check = 'settings';
  const missing = unavailable(check, facts.settings, 'check --table/--endpoint and that the credentials may read the table');
  if (missing) return [missing];
  const s = (facts.settings as { ok: true; value: { exists: boolean; problems: string[] } }).value;
  if (s.problems.length) {
    return [fail(check, `stored item is invalid (the autoscaler uses fallbacks): ${s.problems.join('; ')}`, 'runner-autoscaler settings set KEY=VALUE ... (see `settings show` for ranges)')];
  }
  if (!s.exists) return [warn(check, 'no settings item: defaults apply', 'runner-autoscaler settings set floor=1 (any change writes the full item)')];
  return [pass(check, 'valid')];
}

/** The slim event the webhook function would put on the bus for a job asking for `labels`. */
export function sampleEnvelope(labels: string[], action: WorkflowJobEvent['action']): Record<string, unknown> {
  const now = new Date().toISOString();
  const detail: WorkflowJobEvent = {
    deliveryId: randomUUID(),
    event: 'workflow_job',
    action,
    jobId: 1,
    runId: 1,
    runAttempt: 1,
    labels: labels.map((l) => l.toLowerCase()),
    repository: 'octo-org/app',
    owner: 'octo-org',
    installationId: null,
    runnerName: action === 'queued' ? null : 'i-0123456789abcdef0',
    runnerId: action === 'queued' ? null : 1,
    createdAt: now,
    startedAt: action === 'queued' ? null : now,
    completedAt: action === 'completed' ? now : null,
    status: action,
    conclusion: action === 'completed' ? 'success' : null,
    receivedAt: now,
  };
  return { version: '0', id: randomUUID(), 'detail-type': WORKFLOW_JOB_DETAIL_TYPE, source: EVENT_SOURCE, account: '000000000000', time: now, region: 'us-east-1', resources: [], detail };
}

/**
 * A job asking for exactly the pool's labels (the ones the webhook forwards) must start the state machine
 * for every action that changes demand; otherwise jobs wait forever. The templates derive the rule from
 * the same export, so this fails only for a rule edited by hand or stacks deployed from older templates.
 */
export function checkLabelsMatchRule(facts: Pick<DoctorFacts, 'rules'>): CheckResult[] {
  const check = 'labels vs. rule pattern';
  const missing = unavailable(check, facts.rules, 'check the AutoScaler stack (or AutoScaler/template.yaml locally)');
  if (missing) return [missing];
  const { source, rules, labels } = (facts.rules as { ok: true; value: { source: string; rules: RuleFact[]; labels: string[] } }).value;
  if (rules.length === 0) return [fail(check, `no workflow_job rule found (${source})`, 'deploy the AutoScaler stack; its rule starts the state machine on workflow_job events')];
  const unmatched = SCALING_ACTIONS.filter((action) => !rules.some((rule) => matchesEventPattern(rule.pattern, sampleEnvelope(labels, action))));
  if (unmatched.length) {
    return [
      fail(
        check,
        `a job with the pool's labels [${labels.join(', ')}] does not match ${rules.map((r) => r.name).join(', ')} (${source}) for: ${unmatched.join(', ')}; such jobs never start a scaling decision`,
        'redeploy the AutoScaler stack from this version of AutoScaler/template.yaml: its rule takes the labels from the Infrastructure stack\'s RunnerLabels export',
      ),
    ];
  }
  return [pass(check, `jobs with [${labels.join(', ')}] match ${rules.map((r) => r.name).join(', ')} (${source})`)];
}

export function runChecks(facts: DoctorFacts): CheckResult[] {
  return [
    ...checkStacksExist(facts),
    ...checkStackOutputs(facts),
    ...checkSsmParameters(facts),
    ...checkWebhookDeliveries(facts),
    ...checkGroupPolicy(facts),
    ...checkSettings(facts),
    ...checkLabelsMatchRule(facts),
    ...checkBootHealth(facts),
  ];
}
