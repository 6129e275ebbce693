import nock from 'nock';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AutoScalingClient,
  AutoScalingServiceException,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { FAKE_AWS } from '../support/tools';
import type { ManualClock } from '../autoscaler/support/fakes';

/**
 * Fault injection for the hardening suites. A FaultPlan holds rules
 * ("the next N calls of TARGET fail like this"); every stand-in below asks
 * it before answering, and it counts what it injected by kind, so the suite
 * can report the figures.
 */
export type FaultReply = { status: number; body?: unknown; headers?: Record<string, string> } | { error: unknown };

interface FaultRule {
  kind: string;
  target: string;
  remaining: number;
  /** Calls of the target to let through before the first fault. */
  pass: number;
  make: () => FaultReply;
}

/** Every fault injected by any plan in this process, by kind (for the suite's figures). */
export const injectedTotals: Record<string, number> = {};

export class FaultPlan {
  private readonly rules: FaultRule[] = [];
  readonly injected: Record<string, number> = {};

  /** The next `times` calls of `target` fail (Infinity: until cleared). `kind` names the fault for the figures. */
  add(kind: string, target: string, times: number, make: () => FaultReply, options: { after?: number } = {}): void {
    this.rules.push({ kind, target, remaining: times, pass: options.after ?? 0, make });
  }

  clear(target?: string): void {
    for (const rule of this.rules) if (target === undefined || rule.target === target) rule.remaining = 0;
  }

  /** The fault for this call of `target`, if one is due. */
  take(target: string): FaultReply | undefined {
    const rule = this.rules.find((r) => r.target === target && r.remaining > 0);
    if (!rule) return undefined;
    if (rule.pass > 0) {
      rule.pass -= 1;
      return undefined;
    }
    rule.remaining -= 1;
    this.injected[rule.kind] = (this.injected[rule.kind] ?? 0) + 1;
    injectedTotals[rule.kind] = (injectedTotals[rule.kind] ?? 0) + 1;
    return rule.make();
  }

  /** Throws the due fault's error (AWS-style stand-ins). */
  check(target: string): void {
    const fault = this.take(target);
    if (!fault) return;
    if ('error' in fault) throw fault.error;
    throw new Error(`fault for ${target} must be an error`);
  }
}

/** AWS SDK service exceptions as the SDK deserialises them (name, $fault, status). */
export function awsError(name: string, status: number, message = name): Error {
  return new AutoScalingServiceException({ name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, message });
}

/**
 * Fault middleware on a real DynamoDB client (talking to dynalite): a due
 * fault for `dynamodb:<Operation>` fails the call as DynamoDB would after the
 * SDK's own retries gave up. Added at `initialize`, before the retry step.
 */
export function injectDynamoFaults(client: DynamoDBClient, faults: FaultPlan): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String((context as { commandName?: string }).commandName ?? '').replace(/Command$/, '');
      faults.check(`dynamodb:${operation}`);
      return next(args);
    },
    { step: 'initialize', name: 'hardeningFaults' },
  );
}

export interface EmulatedInstance {
  id: string;
  state: 'Pending' | 'InService';
  spot: boolean;
  launchTime: number;
}

/**
 * The Auto Scaling API behind the real AutoScalingGroupAdapter: the SDK
 * clients are real, their `send` is stubbed (aws-sdk-client-mock) by a small
 * group model that validates like Auto Scaling (desired within [min, max], no
 * decrement below min) and records every change, so the suite can check the
 * invariants on what was actually asked of AWS.
 */
export class AutoScalingEmulator {
  readonly name = 'runner-autoscaler-runners';
  readonly instances = new Map<string, EmulatedInstance>();
  readonly desiredHistory: number[] = [];
  readonly terminated: string[] = [];
  readonly violations: string[] = [];
  readonly clients = { autoScaling: new AutoScalingClient(FAKE_AWS), ec2: new EC2Client(FAKE_AWS) };
  desired = 0;
  calls = 0;
  private counter = 0;
  private readonly stubs: Array<{ restore(): void }> = [];

  constructor(
    private readonly faults: FaultPlan,
    private readonly clock: ManualClock,
    readonly min: number,
    readonly max: number,
    /** Asked before a termination: is a job running on this instance? (a violation if so) */
    private readonly busy: (instanceId: string) => boolean = () => false,
  ) {
    const asg = mockClient(this.clients.autoScaling);
    const ec2 = mockClient(this.clients.ec2);
    this.stubs.push(asg, ec2);
    asg.on(DescribeAutoScalingGroupsCommand).callsFake(async () => {
      this.calls += 1;
      this.faults.check('autoscaling:DescribeAutoScalingGroups');
      return {
        AutoScalingGroups: [
          {
            AutoScalingGroupName: this.name,
            MinSize: this.min,
            MaxSize: this.max,
            DesiredCapacity: this.desired,
            Instances: [...this.instances.values()].map((i) => ({ InstanceId: i.id, LifecycleState: i.state, ProtectedFromScaleIn: true, InstanceType: 'm7g.large' })),
          },
        ],
      };
    });
    ec2.on(DescribeInstancesCommand).callsFake(async () => {
      this.calls += 1;
      this.faults.check('ec2:DescribeInstances');
      return {
        Reservations: [
          { Instances: [...this.instances.values()].map((i) => ({ InstanceId: i.id, InstanceLifecycle: i.spot ? 'spot' : undefined, LaunchTime: new Date(i.launchTime) })) },
        ],
      };
    });
    asg.on(SetDesiredCapacityCommand).callsFake(async (input: { DesiredCapacity: number }) => {
      this.calls += 1;
      this.faults.check('autoscaling:SetDesiredCapacity');
      const desired = input.DesiredCapacity;
      if (desired < this.min || desired > this.max) {
        this.violations.push(`SetDesiredCapacity(${desired}) outside [${this.min}, ${this.max}]`);
        throw awsError('ValidationError', 400, `New SetDesiredCapacity value ${desired} is below min value ${this.min} or above max value ${this.max}`);
      }
      this.desired = desired;
      this.desiredHistory.push(desired);
      this.converge();
      return {};
    });
    asg.on(TerminateInstanceInAutoScalingGroupCommand).callsFake(async (input: { InstanceId: string; ShouldDecrementDesiredCapacity: boolean }) => {
      this.calls += 1;
      this.faults.check('autoscaling:TerminateInstanceInAutoScalingGroup');
      if (!this.instances.has(input.InstanceId)) throw awsError('ValidationError', 400, `Instance Id not found - No managed instance found for instance ID: ${input.InstanceId}`);
      if (input.ShouldDecrementDesiredCapacity && this.desired - 1 < this.min) {
        throw awsError('ValidationError', 400, `Currently, desiredSize equals minSize (${this.min}). Terminating instance without replacement will violate group's min size constraint.`);
      }
      if (this.busy(input.InstanceId)) this.violations.push(`terminated ${input.InstanceId} while its runner was busy`);
      this.instances.delete(input.InstanceId);
      this.terminated.push(input.InstanceId);
      if (input.ShouldDecrementDesiredCapacity) this.desired -= 1;
      this.converge();
      return {};
    });
  }

  /** Launches until the group has `desired` instances (the first `min` on demand, the rest spot). */
  converge(): void {
    while (this.instances.size < this.desired) {
      const id = `i-${(++this.counter).toString(16).padStart(17, '0')}`;
      const onDemand = [...this.instances.values()].filter((i) => !i.spot).length < this.min;
      this.instances.set(id, { id, state: 'Pending', spot: !onDemand, launchTime: this.clock.now() });
    }
  }

  /** Pending instances come up; `register` is the runner bootstrap registering at GitHub. */
  boot(register: (instanceId: string) => void): string[] {
    const booted: string[] = [];
    for (const instance of this.instances.values()) {
      if (instance.state !== 'Pending') continue;
      instance.state = 'InService';
      register(instance.id);
      booted.push(instance.id);
    }
    return booted;
  }

  /** A group that has run its floor for an hour. */
  seed(count: number, register: (instanceId: string) => void): void {
    this.desired = count;
    this.converge();
    for (const instance of this.instances.values()) instance.launchTime = this.clock.now() - 3600_000;
    this.boot(register);
  }

  restore(): void {
    for (const stub of this.stubs) stub.restore();
  }
}

/** SSM behind the real credentials loader (Powertools SSMProvider): one SecureString, faults on GetParameter. */
export function emulateSsm(faults: FaultPlan, parameters: Record<string, string>): { client: SSMClient; calls: () => number; restore(): void } {
  const client = new SSMClient(FAKE_AWS);
  const stub = mockClient(client);
  let calls = 0;
  stub.on(GetParameterCommand).callsFake(async (input: { Name: string; WithDecryption?: boolean }) => {
    calls += 1;
    faults.check('ssm:GetParameter');
    const value = parameters[input.Name];
    if (value === undefined) throw awsError('ParameterNotFound', 400);
    return { Parameter: { Name: input.Name, Type: 'SecureString', Value: value, Version: 1 } };
  });
  return { client, calls: () => calls, restore: () => stub.restore() };
}

export interface ModelRunner {
  id: number;
  name: string;
  status: 'online' | 'offline';
  busy: boolean;
  labels: string[];
}

export interface ModelJob {
  id: number;
  run_id: number;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  labels: string[];
  runner_name: string | null;
  created_at: string;
}

/**
 * GitHub's REST API for one organization and one repository, as nock
 * interceptors over a small model (runners, jobs). The real GitHub adapter
 * (octokit, its retry and rate-limit handling) talks to it over its HTTP
 * stack; a due fault for `github:<route>` answers with the fault's status and
 * headers, or fails the connection. Every request is counted, by route.
 */
export class GitHubModel {
  static readonly API = 'https://api.github.com';
  readonly runners = new Map<number, ModelRunner>();
  readonly jobs = new Map<number, ModelJob>();
  readonly requests: Array<{ route: string; at: number; status: number }> = [];
  private nextRunnerId = 1000;

  constructor(
    private readonly faults: FaultPlan,
    private readonly clock: ManualClock,
    readonly org = 'acme',
    readonly repo = 'app',
  ) {}

  register(name: string, labels: string[]): ModelRunner {
    const runner: ModelRunner = { id: ++this.nextRunnerId, name, status: 'online', busy: false, labels: [...labels] };
    this.runners.set(runner.id, runner);
    return runner;
  }

  runnerByName(name: string): ModelRunner | undefined {
    return [...this.runners.values()].find((r) => r.name === name);
  }

  isBusy(name: string): boolean {
    return this.runnerByName(name)?.busy ?? false;
  }

  addJob(id: number, status: ModelJob['status'] = 'queued', labels = ['self-hosted', 'linux', 'x64']): ModelJob {
    const job: ModelJob = { id, run_id: id * 10, status, conclusion: status === 'completed' ? 'success' : null, labels, runner_name: null, created_at: new Date(this.clock.now() - 60_000).toISOString() };
    this.jobs.set(id, job);
    return job;
  }

  requestsSince(at: number): number {
    return this.requests.filter((r) => r.at >= at).length;
  }

  private answer(route: string, ok: () => [number, unknown?]): (uri?: string) => [number, unknown, Record<string, string>] {
    return () => {
      const fault = this.faults.take(`github:${route}`);
      if (fault && 'error' in fault) {
        this.requests.push({ route, at: this.clock.now(), status: 0 });
        throw fault.error;
      }
      const [status, body] = fault ? [fault.status, fault.body ?? { message: `HTTP ${fault.status}` }] : ok();
      this.requests.push({ route, at: this.clock.now(), status });
      return [status, body ?? '', { 'content-type': 'application/json', ...(fault && 'headers' in fault ? fault.headers : {}) }];
    };
  }

  install(): void {
    // nock 15 hands the reply function the intercepted Request (older versions: the path).
    const pathOf = (request: unknown) => (typeof request === 'string' ? request : (({ pathname, search }) => pathname + search)(new URL((request as { url: string }).url)));
    const runnerJson = (r: ModelRunner) => ({ id: r.id, name: r.name, os: 'linux', status: r.status, busy: r.busy, labels: r.labels.map((name, i) => ({ id: i + 1, name, type: 'custom' })) });
    const repoPath = `/repos/${this.org}/${this.repo}/actions`;
    nock(GitHubModel.API)
      .persist()
      .get((path) => path.startsWith(`/orgs/${this.org}/actions/runners`) && !/runners\/\d+/.test(path))
      .reply(this.answer('listRunners', () => [200, { total_count: this.runners.size, runners: [...this.runners.values()].map(runnerJson) }]))
      .delete((path) => /^\/orgs\/[^/]+\/actions\/runners\/\d+$/.test(path))
      .reply((request: unknown) => {
        const uri = pathOf(request);
        const id = Number(/runners\/(\d+)$/.exec(uri)![1]);
        return this.answer('deleteRunner', () => {
          const runner = this.runners.get(id);
          if (!runner) return [404, { message: 'Not Found' }];
          if (runner.busy) return [422, { message: 'Bad request - Runner "' + runner.name + '" is still running a job"' }];
          this.runners.delete(id);
          return [204];
        })(uri);
      })
      .get((path) => path.startsWith(`${repoPath}/jobs/`))
      .reply((request: unknown) => {
        const uri = pathOf(request);
        const id = Number(/jobs\/(\d+)/.exec(uri)![1]);
        return this.answer('getJob', () => {
          const job = this.jobs.get(id);
          return job ? [200, job] : [404, { message: 'Not Found' }];
        })(uri);
      })
      .get((path) => path.startsWith(`${repoPath}/runs`) && !/runs\/\d+\/jobs/.test(path))
      .reply((request: unknown) => {
        const uri = pathOf(request);
        const status = new URL(uri, GitHubModel.API).searchParams.get('status');
        return this.answer('listRuns', () => {
          // A run's status as GitHub derives it from its jobs; filtered when the request names one.
          const runStatus = (runId: number) => {
            const jobs = [...this.jobs.values()].filter((j) => j.run_id === runId);
            return jobs.every((j) => j.status === 'completed') ? 'completed' : jobs.every((j) => j.status === 'queued') ? 'queued' : 'in_progress';
          };
          const runIds = [...new Set([...this.jobs.values()].map((j) => j.run_id))].filter((id) => !status || runStatus(id) === status);
          return [200, { total_count: runIds.length, workflow_runs: runIds.map((id) => ({ id, status: runStatus(id) })) }];
        })(uri);
      })
      .get((path) => /runs\/\d+\/jobs/.test(path))
      .reply((request: unknown) => {
        const uri = pathOf(request);
        const runId = Number(/runs\/(\d+)\/jobs/.exec(uri)![1]);
        return this.answer('listRunJobs', () => {
          const jobs = [...this.jobs.values()].filter((j) => j.run_id === runId);
          return [200, { total_count: jobs.length, jobs }];
        })(uri);
      });
  }
}
