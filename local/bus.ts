import { randomUUID } from 'node:crypto';
import type { CfnTemplate } from '../lib/cfn-template';
import { resolveIntrinsics } from '../lib/cfn-template';
import { matchesEventPattern, validateEventPattern, type EventPattern } from '../lib/event-pattern';
import type { BusEntry, Clock, EventBusPort } from '../lib/ports';

/**
 * The local EventBridge: the rules the AutoScaler template deploys (event
 * patterns and schedules, whether written as AWS::Events::Rule resources or as
 * SAM `Events` on the state machine), matched with the project's own pattern
 * matcher, each match starting one execution, as a rule target would.
 */
export interface BusRule {
  name: string;
  /** Name of the bus the rule listens on (undefined: any bus the local stack runs). */
  busName?: string;
  pattern?: EventPattern;
  schedule?: { expression: string; periodMs: number };
  /** Constant input, as a target's `Input` (JSON text) sets it. */
  input?: unknown;
  /** JSONPath-lite (`$.detail`) as a target's `InputPath`. */
  inputPath?: string;
}

export interface BusEnvelope {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: unknown;
}

export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';

/** rate(15 minutes) -> 900000. cron() schedules are not interpreted (they get the reconcile period). */
export function schedulePeriodMs(expression: string): number | undefined {
  const match = /^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$/.exec(expression.trim());
  if (!match) return undefined;
  const unit = match[2].startsWith('minute') ? 60_000 : match[2].startsWith('hour') ? 3_600_000 : 86_400_000;
  return Number(match[1]) * unit;
}

function parsePattern(raw: unknown, where: string): EventPattern {
  const pattern = typeof raw === 'string' ? JSON.parse(raw) : raw;
  try {
    validateEventPattern(pattern);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
  }
  return pattern as EventPattern;
}

function parseInput(raw: unknown): unknown {
  if (raw === undefined) return undefined;
  return typeof raw === 'string' ? JSON.parse(raw) : raw;
}

function busNameOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value.includes('/') ? value.split('/').pop() : value;
  return undefined;
}

/**
 * Reads every rule that targets the state machine `stateMachineResource` from
 * the template; `names` resolves Refs and Subs (parameter defaults, resource names).
 */
export function rulesFromTemplate(template: CfnTemplate, stateMachineResource: string, names: Record<string, unknown>): BusRule[] {
  const rules: BusRule[] = [];
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const properties = (resolveIntrinsics(resource.Properties ?? {}, names) ?? {}) as Record<string, any>;
    if (resource.Type === 'AWS::Events::Rule') {
      const targets: Array<Record<string, any>> = Array.isArray(resource.Properties?.Targets) ? resource.Properties!.Targets : [];
      const target = targets.find((t) => JSON.stringify(t.Arn ?? '').includes(stateMachineResource));
      if (!target) continue;
      if (properties.State === 'DISABLED') continue;
      const resolvedTarget = resolveIntrinsics(target, names) as Record<string, any>;
      rules.push(ruleFrom(logicalId, properties.EventPattern, properties.ScheduleExpression, busNameOf(properties.EventBusName), resolvedTarget.Input, resolvedTarget.InputPath));
    }
    if ((resource.Type === 'AWS::Serverless::StateMachine' && logicalId === stateMachineResource) && properties.Events) {
      for (const [eventId, event] of Object.entries(properties.Events as Record<string, any>)) {
        const p = (event.Properties ?? {}) as Record<string, any>;
        if (p.Enabled === false || p.State === 'DISABLED') continue;
        if (event.Type === 'EventBridgeRule' || event.Type === 'CloudWatchEvent') {
          rules.push(ruleFrom(`${logicalId}${eventId}`, p.Pattern, undefined, busNameOf(p.EventBusName), p.Input, p.InputPath));
        } else if (event.Type === 'Schedule' || event.Type === 'ScheduleV2') {
          rules.push(ruleFrom(`${logicalId}${eventId}`, undefined, p.Schedule ?? p.ScheduleExpression, undefined, p.Input, undefined));
        }
      }
    }
  }
  return rules;
}

function ruleFrom(name: string, pattern: unknown, schedule: unknown, busName: string | undefined, input: unknown, inputPath: unknown): BusRule {
  const rule: BusRule = { name };
  if (busName) rule.busName = busName;
  if (pattern !== undefined) rule.pattern = parsePattern(pattern, `rule ${name}`);
  if (typeof schedule === 'string') {
    rule.schedule = { expression: schedule, periodMs: schedulePeriodMs(schedule) ?? 15 * 60_000 };
  }
  if (!rule.pattern && !rule.schedule) throw new Error(`rule ${name} has neither an event pattern nor a schedule`);
  const parsedInput = parseInput(input);
  if (parsedInput !== undefined) rule.input = parsedInput;
  if (typeof inputPath === 'string') rule.inputPath = inputPath;
  return rule;
}

function applyInputPath(envelope: BusEnvelope, path: string | undefined): unknown {
  if (!path || path === '$') return envelope;
  let value: unknown = envelope;
  for (const part of path.replace(/^\$\.?/, '').split('.').filter(Boolean)) {
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  return value;
}

export interface Execution {
  id: string;
  rule: string;
  trigger: string;
  startedAt: number;
  finishedAt?: number;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  output?: unknown;
  error?: string;
}

export interface LocalBusOptions {
  rules: BusRule[];
  busName: string;
  /** Starts the rule target (the state machine) with the rule's input; resolves with its output. */
  startExecution(input: unknown, rule: BusRule): Promise<unknown>;
  clock?: Clock;
  /** Overrides every schedule's period (local mode's --reconcile-seconds). */
  schedulePeriodMs?: number;
  onExecution?(execution: Execution): void;
  logger?: { warn(message: string, extra?: Record<string, unknown>): void };
  /** Executions kept for the dashboard. */
  history?: number;
}

export class LocalBus implements EventBusPort {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly clock: Clock;
  private stopped = false;
  readonly executions: Execution[] = [];
  /** Events put on the bus, and how many rules each matched. */
  readonly delivered: Array<{ source: string; detailType: string; matched: string[]; time: string }> = [];

  constructor(private readonly options: LocalBusOptions) {
    this.clock = options.clock ?? { now: () => Date.now() };
  }

  get rules(): BusRule[] {
    return this.options.rules;
  }

  async putEvents(entries: BusEntry[]): Promise<{ failedCount: number }> {
    if (this.stopped) return { failedCount: entries.length };
    for (const entry of entries) this.publish(this.envelope(entry.source, entry.detailType, entry.detail));
    return { failedCount: 0 };
  }

  /** Starts the schedule rules' timers. */
  startSchedules(): void {
    for (const rule of this.options.rules) {
      if (!rule.schedule) continue;
      const period = this.options.schedulePeriodMs ?? rule.schedule.periodMs;
      const timer = setInterval(() => this.fireSchedule(rule), period);
      this.timers.push(timer);
    }
  }

  /** Fires a schedule rule now (what the timer does). */
  fireSchedule(rule: BusRule): void {
    if (this.stopped) return;
    const envelope = this.envelope('aws.events', 'Scheduled Event', {});
    envelope.resources = [`arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${rule.name}`];
    this.start(rule, envelope, 'schedule');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers.length = 0;
    await this.idle();
  }

  /** Resolves when no execution is running. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  get running(): number {
    return this.inFlight.size;
  }

  private envelope(source: string, detailType: string, detail: unknown): BusEnvelope {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': detailType,
      source,
      account: LOCAL_ACCOUNT,
      time: new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: LOCAL_REGION,
      resources: [],
      detail,
    };
  }

  private publish(envelope: BusEnvelope): void {
    const matched: string[] = [];
    for (const rule of this.options.rules) {
      if (!rule.pattern) continue;
      if (rule.busName && rule.busName !== this.options.busName) continue;
      if (!matchesEventPattern(rule.pattern, envelope)) continue;
      matched.push(rule.name);
      const detail = envelope.detail as { action?: string; jobId?: number } | undefined;
      this.start(rule, envelope, `${envelope['detail-type']}${detail?.action ? ` ${detail.action}` : ''}${detail?.jobId ? ` job ${detail.jobId}` : ''}`);
    }
    this.delivered.push({ source: envelope.source, detailType: envelope['detail-type'], matched, time: envelope.time });
    if (this.delivered.length > 500) this.delivered.splice(0, this.delivered.length - 500);
  }

  private start(rule: BusRule, envelope: BusEnvelope, trigger: string): void {
    const execution: Execution = { id: randomUUID(), rule: rule.name, trigger, startedAt: this.clock.now(), status: 'RUNNING' };
    const input = rule.input !== undefined ? rule.input : applyInputPath(envelope, rule.inputPath);
    const run = (async () => {
      try {
        execution.output = await this.options.startExecution(input, rule);
        execution.status = 'SUCCEEDED';
      } catch (error) {
        execution.status = 'FAILED';
        execution.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        this.options.logger?.warn('state machine execution failed', { rule: rule.name, trigger, error: execution.error });
      } finally {
        execution.finishedAt = this.clock.now();
        this.executions.push(execution);
        const keep = this.options.history ?? 200;
        if (this.executions.length > keep) this.executions.splice(0, this.executions.length - keep);
        this.options.onExecution?.(execution);
      }
    })();
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }
}
