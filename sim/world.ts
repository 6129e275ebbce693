import { SimulatedFleet, type FleetInstance, type FleetTermination, type SimulatedFleetOptions } from '../local/fleet';
import type { WorkflowJobEvent } from '../lib/events';
import { DEFAULT_POOL_LABELS, normalizeLabels, runnerCanTakeJob } from '../lib/labels';
import type { Clock, DeleteRunnerOutcome, GitHubJob, GitHubPort, GroupState, JitConfigRequest, Market, RunnerRegistration, ScalingGroupPort } from '../lib/ports';
import type { Settings } from '../lib/settings';
import type { SimModel } from './model';
import { exponential, seededRandom, seedFrom, uniform, type Random } from './random';
import type { TraceJob } from './trace';

/**
 * One policy's run over one trace, in virtual time: a discrete-event loop
 * (a heap of timed callbacks) around a simulated GitHub (job queue, runner
 * registrations, routing by GitHub's label rule, webhooks with delay and loss)
 * and the local mode's simulated Auto Scaling Group. Policies see only the
 * ports the Lambdas see (ScalingGroupPort, GitHubPort) plus webhook deliveries.
 *
 * Randomness that is part of the world (which deliveries are lost, how late
 * they arrive) is drawn per job and action from the seed, so every policy
 * faces the same lost webhooks on the same trace.
 */
export const SIM_EPOCH_MS = Date.UTC(2026, 0, 5, 0, 0, 0);

export type SimJobStatus = 'pending' | 'queued' | 'in_progress' | 'completed';

export interface SimJob {
  /** Trace id. */
  id: string;
  /** Numeric GitHub job id (the ledger's key). */
  jobId: number;
  runId: number;
  queuedAt: number;
  durationMs: number;
  labels: string[];
  status: SimJobStatus;
  conclusion: 'success' | 'failure' | 'cancelled' | null;
  startedAt: number | null;
  completedAt: number | null;
  runnerName: string | null;
  /** Why a running job died: its instance was terminated by the policy, or reclaimed by EC2. */
  killedBy?: 'policy' | 'interruption';
}

interface SimRunner {
  id: number;
  name: string;
  labels: string[];
  status: 'online' | 'offline';
  job: SimJob | null;
  ephemeral: boolean;
}

export interface Sample {
  /** Seconds from trace start. */
  t: number;
  queued: number;
  busy: number;
  /** Instances in the group (booting included). */
  capacity: number;
}

export interface WorldStats {
  busyTerminations: number;
  interruptedJobs: number;
  scaleApiCalls: number;
  webhooksSent: number;
  webhooksLost: number;
  instancesLaunched: number;
  peakInstances: number;
}

export interface BillingRecord {
  instanceId: string;
  market: Market;
  launchedAt: number;
  endedAt: number | null;
}

export type WebhookListener = (event: WorkflowJobEvent) => void | Promise<void>;

const REPOSITORY = 'sim-org/sim-repo';

/** Binary min-heap of timed callbacks; ties run in scheduling order. */
class EventHeap {
  private readonly items: Array<{ at: number; seq: number; run: () => unknown }> = [];
  private seq = 0;

  get size(): number {
    return this.items.length;
  }

  push(at: number, run: () => unknown): void {
    const item = { at, seq: this.seq++, run };
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.less(items[parent], items[i])) break;
      [items[parent], items[i]] = [items[i], items[parent]];
      i = parent;
    }
  }

  pop(): { at: number; run: () => unknown } | undefined {
    const items = this.items;
    if (items.length === 0) return undefined;
    const top = items[0];
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.less(items[left], items[smallest])) smallest = left;
        if (right < items.length && this.less(items[right], items[smallest])) smallest = right;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i], items[smallest]];
        i = smallest;
      }
    }
    return top;
  }

  private less(a: { at: number; seq: number }, b: { at: number; seq: number }): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
}

/**
 * github.com as far as runners and jobs go: the queue, registrations, routing
 * (a job goes to an online idle runner whose labels are a superset of its
 * own; a runner coming online takes the oldest job it can), and the REST
 * calls the product makes, each counted.
 */
export class SimGitHub implements GitHubPort {
  requestCount = 0;
  private readonly runners = new Map<string, SimRunner>();
  private readonly runnersById = new Map<number, SimRunner>();
  private readonly idle = new Set<SimRunner>();
  private readonly queue: SimJob[] = [];
  private head = 0;
  private queuedCount = 0;
  private nextRunnerId = 1;
  private readonly jobsById = new Map<number, SimJob>();

  constructor(private readonly world: World) {}

  track(job: SimJob): void {
    this.jobsById.set(job.jobId, job);
  }

  get queued(): number {
    return this.queuedCount;
  }

  get busy(): number {
    let busy = 0;
    for (const runner of this.runners.values()) if (runner.job) busy += 1;
    return busy;
  }

  enqueue(job: SimJob): void {
    job.status = 'queued';
    this.queue.push(job);
    this.queuedCount += 1;
    this.world.webhook(job, 'queued');
    for (const runner of this.idle) {
      if (runnerCanTakeJob(runner.labels, job.labels)) {
        this.start(job, runner);
        return;
      }
    }
  }

  cancel(job: SimJob): void {
    if (job.status !== 'queued') return;
    this.queuedCount -= 1;
    this.world.finishJob(job, 'cancelled');
  }

  /** A runner process on `name` connected: online and ready for one job (ephemeral) or many. */
  connect(name: string, labels: readonly string[], ephemeral: boolean): void {
    let runner = this.runners.get(name);
    if (!runner) {
      // No JIT config was made for this machine: it registered itself with a registration token.
      this.requestCount += 1;
      runner = this.register(name, labels, ephemeral);
    }
    runner.status = 'online';
    this.becomeIdle(runner);
  }

  /** The machine under a runner is gone: the registration goes offline; a running job dies with it. */
  machineGone(name: string): SimJob | null {
    const runner = this.runners.get(name);
    if (!runner) return null;
    runner.status = 'offline';
    this.idle.delete(runner);
    const job = runner.job;
    runner.job = null;
    return job;
  }

  /** The runner's job ended: an ephemeral runner exits and GitHub removes its registration. */
  jobEnded(name: string): void {
    const runner = this.runners.get(name);
    if (!runner) return;
    runner.job = null;
    if (runner.ephemeral) this.unregister(runner);
    else this.becomeIdle(runner);
  }

  isBusy(name: string): boolean {
    return Boolean(this.runners.get(name)?.job);
  }

  // --- GitHubPort: the REST subset the product calls ---

  async listRunners(): Promise<RunnerRegistration[]> {
    this.requestCount += Math.max(1, Math.ceil(this.runners.size / 100));
    return [...this.runners.values()].map((runner) => ({
      id: runner.id,
      name: runner.name,
      status: runner.status,
      busy: runner.job !== null,
      labels: runner.labels,
    }));
  }

  async deleteRunner(runnerId: number): Promise<DeleteRunnerOutcome> {
    this.requestCount += 1;
    const runner = this.runnersById.get(runnerId);
    if (!runner) return 'not_found';
    if (runner.job) return 'busy';
    this.unregister(runner);
    return 'deleted';
  }

  async getJob(_repository: string, jobId: number): Promise<GitHubJob | null> {
    this.requestCount += 1;
    const job = this.jobsById.get(jobId);
    return job ? gitHubJob(job) : null;
  }

  async listQueuedJobs(): Promise<GitHubJob[]> {
    this.requestCount += Math.max(1, Math.ceil(this.queuedCount / 100));
    const queued: GitHubJob[] = [];
    for (let i = this.head; i < this.queue.length; i++) if (this.queue[i].status === 'queued') queued.push(gitHubJob(this.queue[i]));
    return queued;
  }

  async generateJitConfig(request: JitConfigRequest): Promise<{ runnerId: number; encodedJitConfig: string }> {
    this.requestCount += 1;
    const runner = this.register(request.name, request.labels, true);
    return { runnerId: runner.id, encodedJitConfig: `jit-${runner.id}` };
  }

  private register(name: string, labels: readonly string[], ephemeral: boolean): SimRunner {
    const runner: SimRunner = { id: this.nextRunnerId++, name, labels: normalizeLabels(labels), status: 'offline', job: null, ephemeral };
    this.runners.set(name, runner);
    this.runnersById.set(runner.id, runner);
    return runner;
  }

  private unregister(runner: SimRunner): void {
    this.runners.delete(runner.name);
    this.runnersById.delete(runner.id);
    this.idle.delete(runner);
  }

  private becomeIdle(runner: SimRunner): void {
    if (runner.status !== 'online' || runner.job) return;
    while (this.head < this.queue.length && this.queue[this.head].status !== 'queued') this.head += 1;
    for (let i = this.head; i < this.queue.length; i++) {
      const job = this.queue[i];
      if (job.status === 'queued' && runnerCanTakeJob(runner.labels, job.labels)) {
        this.start(job, runner);
        return;
      }
    }
    this.idle.add(runner);
  }

  private start(job: SimJob, runner: SimRunner): void {
    this.idle.delete(runner);
    this.queuedCount -= 1;
    runner.job = job;
    this.world.startJob(job, runner.name);
  }
}

function gitHubJob(job: SimJob): GitHubJob {
  return {
    id: job.jobId,
    runId: job.runId,
    repository: REPOSITORY,
    status: job.status === 'pending' ? 'queued' : job.status,
    conclusion: job.conclusion,
    labels: job.labels,
    runnerName: job.runnerName,
    createdAt: new Date(SIM_EPOCH_MS + job.queuedAt).toISOString(),
  };
}

export interface FleetSpec extends Omit<SimulatedFleetOptions, 'clock' | 'hooks' | 'bootMs' | 'name'> {
  /** Runners on these instances take one job and leave (true) or stay for the next (false). */
  ephemeral: boolean;
}

export class World {
  now = 0;
  readonly clock: Clock = { now: () => SIM_EPOCH_MS + this.now };
  readonly github: SimGitHub;
  readonly jobs: SimJob[];
  readonly samples: Sample[] = [];
  readonly billing = new Map<string, BillingRecord>();
  readonly stats: WorldStats = {
    busyTerminations: 0,
    interruptedJobs: 0,
    scaleApiCalls: 0,
    webhooksSent: 0,
    webhooksLost: 0,
    instancesLaunched: 0,
    peakInstances: 0,
  };
  fleet: SimulatedFleet | undefined;
  endedAt = 0;
  private readonly heap = new EventHeap();
  private remaining: number;
  private listener: WebhookListener | undefined;
  private interruptionListener: ((instanceId: string) => void | Promise<void>) | undefined;
  private launchListener: ((instanceId: string) => void | Promise<void>) | undefined;
  private fleetSpec: FleetSpec | undefined;
  private readonly bootRandom: Random;
  private readonly interruptionRandom: Random;
  private deliveries = 0;
  private stopped = false;

  constructor(
    trace: readonly TraceJob[],
    readonly settings: Settings,
    readonly model: SimModel,
  ) {
    this.github = new SimGitHub(this);
    this.bootRandom = seededRandom(seedFrom('boot', model.seed));
    this.interruptionRandom = seededRandom(seedFrom('interruption', model.seed));
    this.jobs = trace.map((job, index) => ({
      id: job.id,
      jobId: 1_000_000 + index,
      runId: 500_000 + index,
      queuedAt: Math.round(job.queuedAt * 1000),
      durationMs: Math.round(job.durationSeconds * 1000),
      labels: normalizeLabels(job.labels),
      status: 'pending',
      conclusion: null,
      startedAt: null,
      completedAt: null,
      runnerName: null,
    }));
    this.remaining = this.jobs.length;
    for (const job of this.jobs) {
      this.github.track(job);
      this.at(job.queuedAt, () => this.github.enqueue(job));
      this.at(job.queuedAt + model.queueTimeoutSeconds * 1000, () => this.github.cancel(job));
    }
    this.every(model.sampleSeconds * 1000, () => this.sample(), 0);
  }

  // --- scheduling ---

  at(time: number, run: () => unknown): void {
    this.heap.push(Math.max(time, this.now), run);
  }

  /** Runs `run` every `periodMs`, first at `firstAt` (default: one period in). */
  every(periodMs: number, run: () => unknown, firstAt = periodMs): void {
    const tick = async () => {
      await run();
      if (!this.stopped) this.at(this.now + periodMs, tick);
    };
    this.at(firstAt, tick);
  }

  onWebhook(listener: WebhookListener): void {
    this.listener = listener;
  }

  /** Called 2 minutes' worth of warning before EC2 reclaims a spot instance (the policy may deregister an idle runner). */
  onInterruption(listener: (instanceId: string) => void | Promise<void>): void {
    this.interruptionListener = listener;
  }

  /** A new instance entered the group (the Runners stack's launch lifecycle hook runs here). */
  onLaunch(listener: (instanceId: string) => void | Promise<void>): void {
    this.launchListener = listener;
  }

  async run(): Promise<void> {
    if (this.remaining === 0) this.stopped = true;
    while (!this.stopped) {
      const next = this.heap.pop();
      if (!next) break;
      this.now = next.at;
      await next.run();
    }
    this.endedAt = this.now;
    this.sample();
    for (const record of this.billing.values()) if (record.endedAt === null) record.endedAt = this.endedAt;
  }

  // --- the fleet ---

  /** The policy's Auto Scaling Group: the local mode's simulated group with this world's clock and boot times. */
  createFleet(spec: FleetSpec): ScalingGroupPort {
    this.fleetSpec = spec;
    const bootMs = this.model.bootSeconds * 1000;
    const jitterMs = this.model.bootJitterSeconds * 1000;
    this.fleet = new SimulatedFleet({
      ...spec,
      name: 'sim',
      clock: this.clock,
      // Instances launched at time 0 are already booted: the fleet existed before the trace began.
      bootMs: () => (this.now === 0 ? 0 : Math.max(0, Math.round(uniform(this.bootRandom, bootMs - jitterMs, bootMs + jitterMs)))),
      hooks: { instanceTerminated: (instance, termination) => this.instanceGone(instance, termination) },
    });
    this.sync();
    return this.countingPort(this.fleet);
  }

  /** An API call made outside the ScalingGroupPort (lifecycle hook completion, CreateFleet of the anchor, ...). */
  countScaleCall(count = 1): void {
    this.stats.scaleApiCalls += count;
  }

  private countingPort(fleet: SimulatedFleet): ScalingGroupPort {
    return {
      describe: async (): Promise<GroupState> => {
        this.stats.scaleApiCalls += 1;
        return fleet.describe();
      },
      // Market and launch time come with describe() here; in AWS they are an EC2 call, not a scaling call.
      withInstanceDetails: (group: GroupState) => fleet.withInstanceDetails(group),
      setDesiredCapacity: async (desired: number) => {
        this.stats.scaleApiCalls += 1;
        await fleet.setDesiredCapacity(desired);
        this.sync();
      },
      terminateInstance: async (instanceId: string, decrement: boolean) => {
        this.stats.scaleApiCalls += 1;
        if (this.github.isBusy(instanceId)) this.stats.busyTerminations += 1;
        await fleet.terminateInstance(instanceId, decrement);
        this.sync();
      },
    };
  }

  /** Picks up instances the group launched since the last look: billing, boot, spot interruptions. */
  sync(): void {
    const fleet = this.fleet;
    if (!fleet) return;
    const instances = fleet.list();
    this.stats.peakInstances = Math.max(this.stats.peakInstances, instances.length);
    for (const instance of instances) {
      if (this.billing.has(instance.instanceId)) continue;
      this.stats.instancesLaunched += 1;
      this.billing.set(instance.instanceId, { instanceId: instance.instanceId, market: instance.market, launchedAt: this.now, endedAt: null });
      if (this.launchListener) {
        const listener = this.launchListener;
        this.at(this.now, () => listener(instance.instanceId));
      }
      this.at(instance.readyAt - SIM_EPOCH_MS, () => this.booted(instance.instanceId));
      if (instance.market === 'spot' && this.model.spotInterruptionRatePerHour > 0) {
        const after = exponential(this.interruptionRandom, 3600_000 / this.model.spotInterruptionRatePerHour);
        this.at(this.now + after, () => this.interrupt(instance.instanceId));
      }
    }
  }

  private booted(instanceId: string): void {
    const fleet = this.fleet!;
    fleet.tick();
    const instance = fleet.list().find((i) => i.instanceId === instanceId);
    if (!instance || instance.lifecycleState !== 'InService') return;
    this.github.connect(instanceId, DEFAULT_POOL_LABELS, this.fleetSpec!.ephemeral);
  }

  private async interrupt(instanceId: string): Promise<void> {
    const fleet = this.fleet!;
    if (!fleet.list().some((i) => i.instanceId === instanceId)) return;
    await this.interruptionListener?.(instanceId);
    fleet.interrupt(instanceId);
    this.sync();
  }

  private instanceGone(instance: FleetInstance, termination: FleetTermination): void {
    const record = this.billing.get(instance.instanceId);
    if (record) record.endedAt = this.now;
    const job = this.github.machineGone(instance.instanceId);
    if (job) {
      job.killedBy = termination.by === 'interruption' ? 'interruption' : 'policy';
      if (job.killedBy === 'interruption') this.stats.interruptedJobs += 1;
      this.finishJob(job, 'failure');
    }
  }

  // --- jobs and webhooks ---

  startJob(job: SimJob, runnerName: string): void {
    job.status = 'in_progress';
    job.startedAt = this.now;
    job.runnerName = runnerName;
    this.webhook(job, 'in_progress');
    const startedAt = this.now;
    this.at(this.now + job.durationMs, () => {
      if (job.status !== 'in_progress' || job.startedAt !== startedAt) return; // killed meanwhile
      this.finishJob(job, 'success');
      this.github.jobEnded(runnerName);
      if (this.fleetSpec?.ephemeral) {
        // The runner bootstrap's last step: the instance takes itself out of the group.
        this.countScaleCall();
        this.fleet?.instanceFinished(runnerName);
        this.sync();
      }
    });
  }

  finishJob(job: SimJob, conclusion: 'success' | 'failure' | 'cancelled'): void {
    job.status = 'completed';
    job.conclusion = conclusion;
    job.completedAt = this.now;
    this.webhook(job, 'completed');
    this.remaining -= 1;
    if (this.remaining === 0) this.stopped = true;
  }

  /** GitHub sends a delivery for `job`; it is lost, or arrives a little later. */
  webhook(job: SimJob, action: 'queued' | 'in_progress' | 'completed'): void {
    this.stats.webhooksSent += 1;
    const draw = seededRandom(seedFrom(`${job.jobId}:${action}`, this.model.seed));
    if (draw() < this.model.webhookLossRate) {
      this.stats.webhooksLost += 1;
      return;
    }
    const delayMs = this.model.webhookDelaySeconds * 1000 * uniform(draw, 0.5, 1.5);
    const event = this.workflowJobEvent(job, action);
    this.at(this.now + delayMs, () => this.listener?.(event));
  }

  private workflowJobEvent(job: SimJob, action: 'queued' | 'in_progress' | 'completed'): WorkflowJobEvent {
    const iso = (ms: number | null) => (ms === null ? null : new Date(SIM_EPOCH_MS + ms).toISOString());
    this.deliveries += 1;
    return {
      deliveryId: `sim-${this.deliveries}`,
      event: 'workflow_job',
      action,
      jobId: job.jobId,
      runId: job.runId,
      runAttempt: 1,
      labels: job.labels,
      repository: REPOSITORY,
      owner: 'sim-org',
      installationId: null,
      runnerName: action === 'queued' ? null : job.runnerName,
      runnerId: null,
      createdAt: iso(job.queuedAt),
      startedAt: action === 'queued' ? null : iso(job.startedAt),
      completedAt: action === 'completed' ? iso(job.completedAt) : null,
      status: action,
      conclusion: action === 'completed' ? job.conclusion : null,
      receivedAt: new Date(this.clock.now()).toISOString(),
    };
  }

  private sample(): void {
    this.samples.push({
      t: this.now / 1000,
      queued: this.github.queued,
      busy: this.github.busy,
      capacity: this.fleet ? this.fleet.list().length : 0,
    });
  }
}
