import type { Clock, GroupInstance, GroupState, InstanceDeparture, Market, ScalingActivitiesPort, ScalingGroupPort } from '../lib/ports';

/**
 * A simulated Auto Scaling Group with the behaviour the autoscaler relies on:
 *  - desired/min/max validated as AWS does (ValidationError outside [min, max]);
 *  - new instances are Pending for `bootMs`, then InService (and then the
 *    `instanceBooted` hook runs: the runner asks for a JIT config and registers);
 *  - market per the MixedInstancesPolicy: the first `onDemandBase` instances
 *    on-demand, everything above spot (OnDemandPercentageAboveBaseCapacity 0);
 *  - every instance is protected from scale-in, so lowering the desired
 *    capacity never picks a victim: only TerminateInstanceInAutoScalingGroup
 *    removes an instance, and with decrement it refuses to go below min;
 *  - terminating without decrement launches a replacement.
 * Time comes from the clock; `tick()` advances the boot state machine, so tests
 * drive it deterministically (the local stack calls it on an interval).
 */
/** Deterministic, AWS-looking ids (i- and 17 hex digits): a multiplicative hash of the launch counter. */
export function instanceIdFor(counter: number): string {
  const mixed = (BigInt(counter) * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  return `i-0${mixed.toString(16).padStart(16, '0')}`;
}

export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValidationError';
  }
}

export interface FleetInstance extends GroupInstance {
  bootedAt: number | null;
  readyAt: number;
}

export interface FleetTermination {
  instanceId: string;
  market: Market;
  decrement: boolean;
  /** autoscaler: TerminateInstanceInAutoScalingGroup from the state machine; self: the instance's runner finished its job; lifecycle: launch abandoned; interruption: spot reclaimed by EC2. */
  by: 'autoscaler' | 'self' | 'lifecycle' | 'interruption';
  at: number;
}

export interface FleetHooks {
  /**
   * With a launch lifecycle hook: the instance waits in Pending:Wait until
   * completeLifecycleAction (what the Runners stack's jit-config function does).
   */
  instanceLaunching?(instance: FleetInstance): void | Promise<void>;
  /** The instance finished booting: start its runner (JIT config, registration). */
  instanceBooted?(instance: FleetInstance): void | Promise<void>;
  /** The instance is gone (its runner process with it). */
  instanceTerminated?(instance: FleetInstance, termination: FleetTermination): void;
  changed?(): void;
}

export interface SimulatedFleetOptions {
  name?: string;
  min: number;
  max: number;
  desired?: number;
  /** OnDemandBaseCapacity: this many instances run on-demand, the rest spot. */
  onDemandBase: number;
  /** Boot time of each new instance: a constant, or drawn per launch (the simulator's jitter). */
  bootMs?: number | (() => number);
  clock: Clock;
  instanceTypes?: string[];
  hooks?: FleetHooks;
  /** New instances wait in Pending:Wait for completeLifecycleAction, as with the Runners stack's launch hook. */
  launchHook?: boolean;
}

export class SimulatedFleet implements ScalingGroupPort, ScalingActivitiesPort {
  readonly name: string;
  private min: number;
  private max: number;
  private desired: number;
  private onDemandBase: number;
  private readonly bootMsFor: () => number;
  private readonly clock: Clock;
  private readonly instanceTypes: string[];
  private hooks: FleetHooks;
  private readonly launchHook: boolean;
  private readonly instances = new Map<string, FleetInstance>();
  private counter = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly terminations: FleetTermination[] = [];
  /** Every desired capacity the group was set to, in order (for invariant checks). */
  readonly desiredHistory: number[] = [];
  private maxInstancesSeen = 0;
  /** Times the desired capacity was set below the number of instances (they stay: all are scale-in protected). */
  readonly desiredBelowInstances: Array<{ at: number; desired: number; instances: number; source: 'SetDesiredCapacity' | 'limits' }> = [];

  constructor(options: SimulatedFleetOptions) {
    if (options.min > options.max) throw new ValidationError(`min (${options.min}) must be <= max (${options.max})`);
    this.name = options.name ?? 'runner-autoscaler-local';
    this.min = options.min;
    this.max = options.max;
    this.desired = options.desired ?? options.min;
    this.onDemandBase = options.onDemandBase;
    const bootMs = options.bootMs ?? 10000;
    this.bootMsFor = typeof bootMs === 'function' ? bootMs : () => bootMs;
    this.clock = options.clock;
    this.instanceTypes = options.instanceTypes ?? ['m7g.large', 'm6g.large', 'c7g.large'];
    this.hooks = options.hooks ?? {};
    this.launchHook = options.launchHook ?? false;
    this.desiredHistory.push(this.desired);
    this.converge();
  }

  setHooks(hooks: FleetHooks): void {
    this.hooks = { ...this.hooks, ...hooks };
  }

  /** Mirrors UpdateAutoScalingGroup for min/max (and the on-demand base that follows the floor). */
  updateLimits(limits: { min?: number; max?: number; onDemandBase?: number }): void {
    const min = limits.min ?? this.min;
    const max = limits.max ?? this.max;
    if (min > max) throw new ValidationError(`min (${min}) must be <= max (${max})`);
    this.min = min;
    this.max = max;
    if (limits.onDemandBase !== undefined) this.onDemandBase = limits.onDemandBase;
    const clamped = Math.max(min, Math.min(max, this.desired));
    if (clamped < this.instances.size && clamped !== this.desired) this.desiredBelowInstances.push({ at: this.clock.now(), desired: clamped, instances: this.instances.size, source: 'limits' });
    if (clamped !== this.desired) this.setDesired(clamped);
    this.converge();
  }

  /** Always with market and launch time: they are known here without another call. */
  async withInstanceDetails(group: GroupState): Promise<GroupState> {
    return group;
  }

  async describe(): Promise<GroupState> {
    return {
      name: this.name,
      desired: this.desired,
      min: this.min,
      max: this.max,
      instances: this.list().map(({ bootedAt: _b, readyAt: _r, ...instance }) => ({ ...instance })),
    };
  }

  async setDesiredCapacity(desired: number): Promise<void> {
    if (!Number.isInteger(desired) || desired < this.min || desired > this.max) {
      throw new ValidationError(`New SetDesiredCapacity value ${desired} is below min value ${this.min} or above max value ${this.max} for the AutoScalingGroup.`);
    }
    if (desired < this.instances.size) this.desiredBelowInstances.push({ at: this.clock.now(), desired, instances: this.instances.size, source: 'SetDesiredCapacity' });
    this.setDesired(desired);
    this.converge();
  }

  async terminateInstance(instanceId: string, decrement: boolean): Promise<void> {
    this.terminate(instanceId, decrement, 'autoscaler');
  }

  /** DescribeScalingActivities as the reconcile reads it: the terminations since `since`, newest first. */
  async departuresSince(since: number): Promise<InstanceDeparture[]> {
    return this.terminations
      .filter((t) => t.at >= since)
      .map((t) => ({ instanceId: t.instanceId, at: t.at, cause: t.by }))
      .reverse();
  }

  /** The runner on this instance finished its one job: the instance takes itself out of the group. */
  instanceFinished(instanceId: string): void {
    if (!this.instances.has(instanceId)) return;
    try {
      this.terminate(instanceId, true, 'self');
    } catch (error) {
      // At the floor the group refuses the decrement; leave without it and let a fresh instance replace this one.
      if (!(error instanceof ValidationError)) throw error;
      this.terminate(instanceId, false, 'self');
    }
  }

  /** EC2 reclaimed a spot instance: it leaves without decrement, so the group launches a replacement. */
  interrupt(instanceId: string): void {
    if (this.instances.has(instanceId)) this.terminate(instanceId, false, 'interruption');
  }

  /** CompleteLifecycleAction: CONTINUE lets the instance boot; ABANDON terminates it and the group launches a replacement. */
  async completeLifecycleAction(instanceId: string, result: 'CONTINUE' | 'ABANDON'): Promise<void> {
    const instance = this.instances.get(instanceId);
    if (!instance || instance.lifecycleState !== 'Pending:Wait') {
      throw new ValidationError(`No active Lifecycle Action found with instance ID ${instanceId}`);
    }
    if (result === 'ABANDON') {
      this.abandoned += 1;
      this.terminate(instanceId, false, 'lifecycle');
      return;
    }
    instance.lifecycleState = 'Pending';
    instance.readyAt = this.clock.now() + this.bootMsFor();
    this.hooks.changed?.();
    if (instance.readyAt <= this.clock.now()) this.tick();
  }

  /** DescribeAutoScalingInstances for one instance. */
  async membership(instanceId: string): Promise<{ groupName: string; lifecycleState: string } | undefined> {
    const instance = this.instances.get(instanceId);
    return instance ? { groupName: this.name, lifecycleState: instance.lifecycleState } : undefined;
  }

  /** Launches abandoned by the lifecycle hook (the runner could not be prepared). */
  abandoned = 0;

  list(): FleetInstance[] {
    return [...this.instances.values()];
  }

  get limits(): { min: number; max: number; desired: number; onDemandBase: number } {
    return { min: this.min, max: this.max, desired: this.desired, onDemandBase: this.onDemandBase };
  }

  get peakInstances(): number {
    return this.maxInstancesSeen;
  }

  /** Moves booted instances to InService and runs their boot hook. */
  tick(): void {
    const now = this.clock.now();
    for (const instance of this.instances.values()) {
      if (instance.lifecycleState === 'Pending' && now >= instance.readyAt) {
        instance.lifecycleState = 'InService';
        instance.bootedAt = now;
        this.hooks.changed?.();
        void Promise.resolve()
          .then(() => this.hooks.instanceBooted?.(instance))
          .catch(() => {
            /* a runner that fails to register stays unregistered; the reconcile's boot timeout deals with it */
          });
      }
    }
  }

  start(intervalMs = 100): void {
    this.stop();
    this.timer = setInterval(() => this.tick(), intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private setDesired(desired: number): void {
    this.desired = desired;
    this.desiredHistory.push(desired);
    if (this.desiredHistory.length > 10000) this.desiredHistory.splice(0, this.desiredHistory.length - 10000);
    this.hooks.changed?.();
  }

  private terminate(instanceId: string, decrement: boolean, by: FleetTermination['by']): void {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new ValidationError(`Instance Id not found - No managed instance found for instance ID: ${instanceId}`);
    if (decrement && this.desired - 1 < this.min) {
      throw new ValidationError(
        `Currently, desiredSize equals minSize (${this.min}). Terminating instance without replacement will violate group's min size constraint. Either set shouldDecrementDesiredCapacity flag to false or lower group's min size.`,
      );
    }
    this.instances.delete(instanceId);
    const termination: FleetTermination = { instanceId, market: instance.market, decrement, by, at: this.clock.now() };
    this.terminations.push(termination);
    if (decrement) this.setDesired(this.desired - 1);
    instance.lifecycleState = 'Terminated';
    this.hooks.instanceTerminated?.(instance, termination);
    this.converge();
    this.hooks.changed?.();
  }

  /** Launches until the group holds `desired` instances; never removes one (all are scale-in protected). */
  private converge(): void {
    while (this.instances.size < this.desired) this.launch();
    this.maxInstancesSeen = Math.max(this.maxInstancesSeen, this.instances.size);
  }

  private launch(): void {
    this.counter += 1;
    const now = this.clock.now();
    const onDemand = [...this.instances.values()].filter((i) => i.market === 'on-demand').length;
    const instance: FleetInstance = {
      instanceId: instanceIdFor(this.counter),
      lifecycleState: this.launchHook ? 'Pending:Wait' : 'Pending',
      market: onDemand < this.onDemandBase ? 'on-demand' : 'spot',
      launchTime: new Date(now).toISOString(),
      protectedFromScaleIn: true,
      instanceType: this.instanceTypes[(this.counter - 1) % this.instanceTypes.length],
      bootedAt: null,
      readyAt: now + this.bootMsFor(),
    };
    this.instances.set(instance.instanceId, instance);
    this.hooks.changed?.();
    if (this.launchHook) {
      void Promise.resolve()
        .then(() => this.hooks.instanceLaunching?.(instance))
        .catch(() => {
          /* the hook's own timeout (DefaultResult ABANDON) is not simulated; the reconcile's boot timeout applies */
        });
    } else if (instance.readyAt <= now) this.tick();
  }
}
