import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import type { AutoScalerDeps, AutoScalerLogger, AutoScalerMetrics } from '../../../AutoScaler/src/deps';
import { createStateMachineHandlers, TASK_STATES, type StateMachineHandlers } from '../../../AutoScaler/src/handlers';
import { EVENT_SOURCE, WORKFLOW_JOB_DETAIL_TYPE, type WorkflowJobEvent } from '../../../lib/events';
import type {
  Clock,
  DeleteRunnerOutcome,
  GitHubJob,
  GitHubPort,
  GroupInstance,
  GroupState,
  JitConfigRequest,
  RunnerRegistration,
  ScalingGroupPort,
} from '../../../lib/ports';

/**
 * In-process stand-ins with the behaviour the autoscaler relies on (not
 * canned answers): a fleet that validates desired capacity like Auto Scaling
 * and launches/terminates instances, and a GitHub that keeps runners and jobs
 * and refuses to delete a busy runner.
 */
export class ManualClock implements Clock {
  constructor(public time = Date.parse('2026-03-01T12:00:00Z')) {}
  now(): number {
    return this.time;
  }
  advance(seconds: number): void {
    this.time += seconds * 1000;
  }
}

export class FakeAwsError extends Error {
  constructor(name: string, message: string, readonly $metadata: { httpStatusCode: number } = { httpStatusCode: 400 }) {
    super(message);
    this.name = name;
  }
}

type Fault = { error: () => Error; remaining: number };

class Faults {
  private readonly faults = new Map<string, Fault>();
  /** The next `times` calls of `method` throw (Infinity: every call). */
  fail(method: string, error: () => Error, times = 1): void {
    this.faults.set(method, { error, remaining: times });
  }
  check(method: string): void {
    const fault = this.faults.get(method);
    if (!fault || fault.remaining <= 0) return;
    fault.remaining -= 1;
    throw fault.error();
  }
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));

export class FakeFleet implements ScalingGroupPort {
  readonly instances = new Map<string, GroupInstance>();
  readonly desiredHistory: number[] = [];
  readonly terminations: Array<{ instanceId: string; decrement: boolean }> = [];
  readonly faults = new Faults();
  desired: number;
  private counter = 0;

  constructor(
    private readonly clock: Clock,
    public min = 1,
    public max = 100,
    private readonly onDemandBase = 1,
  ) {
    this.desired = 0;
  }

  get maxDesiredSeen(): number {
    return Math.max(0, ...this.desiredHistory);
  }

  /** How many times instance details were asked for (EC2 DescribeInstances in AWS). */
  detailLookups = 0;

  /** Its describe() always has market and launch time; the lookup is only counted. */
  async withInstanceDetails(group: GroupState): Promise<GroupState> {
    this.detailLookups += 1;
    return group;
  }

  async describe(): Promise<GroupState> {
    await tick();
    this.faults.check('describe');
    return { name: 'fake-group', desired: this.desired, min: this.min, max: this.max, instances: [...this.instances.values()].map((i) => ({ ...i })) };
  }

  async setDesiredCapacity(desired: number): Promise<void> {
    await tick();
    this.faults.check('setDesiredCapacity');
    if (desired < this.min || desired > this.max) {
      throw new FakeAwsError('ValidationError', `New SetDesiredCapacity value ${desired} is below min value ${this.min} or above max value ${this.max} for the AutoScalingGroup.`);
    }
    this.desired = desired;
    this.desiredHistory.push(desired);
    this.converge();
  }

  async terminateInstance(instanceId: string, decrement: boolean): Promise<void> {
    await tick();
    this.faults.check('terminateInstance');
    if (!this.instances.has(instanceId)) throw new FakeAwsError('ValidationError', `Instance Id not found - No managed instance found for instance ID: ${instanceId}`);
    if (decrement && this.desired - 1 < this.min) {
      throw new FakeAwsError('ValidationError', `Currently, desiredSize equals minSize (${this.min}). Terminating instance without replacement will violate group's min size constraint.`);
    }
    this.instances.delete(instanceId);
    this.terminations.push({ instanceId, decrement });
    if (decrement) this.desired -= 1;
    this.converge();
  }

  /** Launches (Pending) until the group has `desired` instances; instances are protected from scale-in, so none is removed here. */
  converge(): void {
    while (this.instances.size < this.desired) {
      const id = `i-${(++this.counter).toString(16).padStart(17, '0')}`;
      const onDemand = [...this.instances.values()].filter((i) => i.market === 'on-demand').length < this.onDemandBase;
      this.instances.set(id, {
        instanceId: id,
        lifecycleState: 'Pending',
        market: onDemand ? 'on-demand' : 'spot',
        launchTime: new Date(this.clock.now()).toISOString(),
        protectedFromScaleIn: true,
        instanceType: 'm7g.large',
      });
    }
  }

  /** Every pending instance comes up and registers its runner, as the runner bootstrap does. */
  bootAll(github: FakeGitHub, labels: string[]): string[] {
    const booted: string[] = [];
    for (const instance of this.instances.values()) {
      if (instance.lifecycleState !== 'Pending') continue;
      instance.lifecycleState = 'InService';
      github.register(instance.instanceId, labels);
      booted.push(instance.instanceId);
    }
    return booted;
  }

  /** Starts a group of `count` booted instances with runners (what the floor looks like after a while). */
  seed(count: number, github: FakeGitHub, labels: string[], ageSeconds = 3600): void {
    this.desired = count;
    this.converge();
    for (const instance of this.instances.values()) instance.launchTime = new Date(this.clock.now() - ageSeconds * 1000).toISOString();
    this.bootAll(github, labels);
  }
}

export class FakeGitHub implements GitHubPort {
  readonly runners = new Map<number, RunnerRegistration>();
  readonly jobs = new Map<number, GitHubJob>();
  readonly deleted: number[] = [];
  readonly faults = new Faults();
  requestCount = 0;
  private nextRunnerId = 100;

  register(name: string, labels: string[], status: 'online' | 'offline' = 'online'): RunnerRegistration {
    const runner: RunnerRegistration = { id: ++this.nextRunnerId, name, status, busy: false, labels: [...labels] };
    this.runners.set(runner.id, runner);
    return runner;
  }

  runnerByName(name: string): RunnerRegistration | undefined {
    return [...this.runners.values()].find((r) => r.name === name);
  }

  setBusy(name: string, busy: boolean): void {
    const runner = this.runnerByName(name);
    if (!runner) throw new Error(`no runner ${name}`);
    runner.busy = busy;
  }

  addJob(job: Partial<GitHubJob> & { id: number }): GitHubJob {
    const full: GitHubJob = {
      runId: job.id * 10,
      repository: 'acme/app',
      status: 'queued',
      conclusion: null,
      labels: ['self-hosted', 'linux', 'x64'],
      runnerName: null,
      createdAt: new Date(0).toISOString(),
      ...job,
    };
    this.jobs.set(full.id, full);
    return full;
  }

  async listRunners(): Promise<RunnerRegistration[]> {
    this.requestCount += 1;
    await tick();
    this.faults.check('listRunners');
    return [...this.runners.values()].map((r) => ({ ...r, labels: [...r.labels] }));
  }

  async deleteRunner(runnerId: number): Promise<DeleteRunnerOutcome> {
    this.requestCount += 1;
    await tick();
    this.faults.check('deleteRunner');
    const runner = this.runners.get(runnerId);
    if (!runner) return 'not_found';
    if (runner.busy) return 'busy';
    this.runners.delete(runnerId);
    this.deleted.push(runnerId);
    return 'deleted';
  }

  async getJob(_repository: string, jobId: number): Promise<GitHubJob | null> {
    this.requestCount += 1;
    await tick();
    this.faults.check('getJob');
    const job = this.jobs.get(jobId);
    return job ? { ...job } : null;
  }

  async listQueuedJobs(): Promise<GitHubJob[]> {
    this.requestCount += 1;
    await tick();
    this.faults.check('listQueuedJobs');
    return [...this.jobs.values()].filter((j) => j.status === 'queued').map((j) => ({ ...j }));
  }

  async generateJitConfig(request: JitConfigRequest): Promise<{ runnerId: number; encodedJitConfig: string }> {
    this.requestCount += 1;
    const runner = this.register(request.name, request.labels, 'offline');
    return { runnerId: runner.id, encodedJitConfig: Buffer.from(`jit-${runner.id}`).toString('base64') };
  }
}

export class RecordingLogger implements AutoScalerLogger {
  readonly lines: Array<{ level: string; message: string; extra: Array<Record<string, unknown>> }> = [];
  debug(message: string, ...extra: Array<Record<string, unknown>>) {
    this.lines.push({ level: 'debug', message, extra });
  }
  info(message: string, ...extra: Array<Record<string, unknown>>) {
    this.lines.push({ level: 'info', message, extra });
  }
  warn(message: string, ...extra: Array<Record<string, unknown>>) {
    this.lines.push({ level: 'warn', message, extra });
  }
  error(message: string, ...extra: Array<Record<string, unknown>>) {
    this.lines.push({ level: 'error', message, extra });
  }
}

export class RecordingMetrics implements AutoScalerMetrics {
  readonly values: Array<{ name: string; value: number }> = [];
  addMetric(name: string, _unit: 'Count', value: number): void {
    this.values.push({ name, value });
  }
  total(name: string): number {
    return this.values.filter((v) => v.name === name).reduce((sum, v) => sum + v.value, 0);
  }
}

export const ROOT = join(__dirname, '..', '..', '..');
export const ASL_PATH = join(ROOT, 'statemachine', 'autoscaler.asl.json');

/** The real definition with each `${XFunctionArn}` substitution turned into a Lambda ARN, as CloudFormation does. */
export function loadDefinition(): Record<string, any> {
  const text = readFileSync(ASL_PATH, 'utf8').replace(/\$\{([A-Za-z0-9]+)FunctionArn\}/g, (_whole, name: string) => `arn:aws:lambda:us-east-1:123456789012:function:runner-autoscaler-${name}`);
  return JSON.parse(text);
}

export interface RunResult {
  status: 'SUCCEEDED' | 'FAILED';
  output?: any;
  error?: { name: string; message: string; cause?: unknown };
  events: Array<{ type: string; state?: { name: string }; [key: string]: unknown }>;
}

export function createMachine(
  deps: AutoScalerDeps,
  options: { withExecutionId?: boolean; wrap?: (handlers: StateMachineHandlers) => StateMachineHandlers } = {},
) {
  const machine = new StateMachine(loadDefinition() as any, { validationOptions: { checkArn: true } });
  const handlers = (options.wrap ?? ((h) => h))(createStateMachineHandlers(deps));
  // Backoff is asserted on the definition; here retries wait 1 ms so the suite stays fast.
  const retryIntervalOverrides = Object.fromEntries(TASK_STATES.map((name) => [name, 1]));
  return async function run(input: unknown): Promise<RunResult> {
    const execution = machine.run(input as any, {
      overrides: { taskResourceLocalHandlers: handlers as any, retryIntervalOverrides },
      ...(options.withExecutionId === false ? {} : { context: { Execution: { Id: `arn:aws:states:us-east-1:123456789012:express:runner-autoscaler:${randomUUID()}`, Name: randomUUID() } } }),
    });
    const events: RunResult['events'] = [];
    const collecting = (async () => {
      for await (const event of execution.eventLogs) events.push(event as any);
    })();
    try {
      const output = await execution.result;
      await collecting;
      return { status: 'SUCCEEDED', output, events };
    } catch (error) {
      await collecting;
      const e = error as Error & { cause?: any };
      return { status: 'FAILED', error: { name: e.cause?.name ?? e.name, message: e.message, cause: e.cause }, events };
    }
  };
}

let deliveryCounter = 0;

export function jobEvent(action: WorkflowJobEvent['action'], jobId: number, overrides: Partial<WorkflowJobEvent> = {}) {
  const detail: WorkflowJobEvent = {
    deliveryId: `delivery-${++deliveryCounter}-${randomUUID()}`,
    event: 'workflow_job',
    action,
    jobId,
    runId: jobId * 10,
    runAttempt: 1,
    labels: ['self-hosted', 'linux', 'x64'],
    repository: 'acme/app',
    owner: 'acme',
    installationId: null,
    runnerName: null,
    runnerId: null,
    createdAt: '2026-03-01T11:59:00Z',
    startedAt: null,
    completedAt: null,
    status: action,
    conclusion: action === 'completed' ? 'success' : null,
    receivedAt: '2026-03-01T12:00:00Z',
    ...overrides,
  };
  return { version: '0', id: randomUUID(), 'detail-type': WORKFLOW_JOB_DETAIL_TYPE, source: EVENT_SOURCE, account: '123456789012', time: '2026-03-01T12:00:00Z', region: 'us-east-1', resources: [], detail };
}

export const RECONCILE_INPUT = { trigger: 'reconcile' };
