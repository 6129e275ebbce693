import type { GroupLifecyclePort, GroupMember, GroupSnapshot } from '../../Runners/src/group-lifecycle';

/**
 * A test double of one Auto Scaling group, for what moto does not model (moto
 * removes a group at once, has no Terminating or Pending:Wait states, and does
 * no AZ rebalancing). What it models, from the Auto Scaling user guide:
 * - scale-in protection: a scale-in (desired below the instance count) only
 *   terminates unprotected instances; protected ones stay ("Could not scale to
 *   desired capacity because all remaining instances are protected",
 *   ec2-auto-scaling-instance-protection.html). TerminateInstanceInAutoScalingGroup
 *   is not blocked by protection (same page);
 * - terminating takes time: an instance is Terminating(:Wait) for one describe, then gone;
 * - a Pending:Wait instance (in its launch hook) reaches InService after
 *   `pendingRounds` describes, keeping the protection flag it has, unless its
 *   launch is abandoned (CompleteLifecycleAction ABANDON terminates it);
 * - CloudFormation's deletion of the group: sizes to 0, then wait until no
 *   instance is left (as-process-shutdown.html); it never finishes while a
 *   protected instance stays;
 * - AZRebalance: launches in the short zone first and only then terminates in
 *   the long one, which fails for a protected instance (AutoScalingBehavior).
 */
export interface FakeInstance extends GroupMember {
  zone: string;
  pendingRounds?: number;
}

export class FakeAutoScalingGroup implements GroupLifecyclePort {
  min = 1;
  max = 10;
  desired: number;
  newInstancesProtectedFromScaleIn = true;
  suspended = new Set<string>();
  exists = true;
  calls: string[] = [];
  /** Errors thrown by the next calls of an operation, in order. */
  failures = new Map<string, unknown[]>();
  private launched = 0;

  constructor(
    readonly name: string,
    readonly instances: FakeInstance[],
  ) {
    this.desired = instances.length;
  }

  static protectedFleet(name: string, states: string[], zones = ['eu-west-1a', 'eu-west-1b']): FakeAutoScalingGroup {
    return new FakeAutoScalingGroup(
      name,
      states.map((lifecycleState, i) => ({
        instanceId: `i-0000000000000000${i}`,
        lifecycleState,
        protectedFromScaleIn: true,
        zone: zones[i % zones.length],
        ...(lifecycleState === 'Pending:Wait' ? { pendingRounds: 2 } : {}),
      })),
    );
  }

  failNext(operation: string, ...errors: unknown[]): void {
    this.failures.set(operation, [...(this.failures.get(operation) ?? []), ...errors]);
  }

  private call(operation: string): void {
    this.calls.push(operation);
    if (!this.exists) throw Object.assign(new Error(`AutoScalingGroup name not found - ${this.name}`), { name: 'ValidationError', $fault: 'client' });
    const queued = this.failures.get(operation);
    if (queued?.length) throw queued.shift();
  }

  /** What Auto Scaling does between calls: finish terminations, finish launch hooks, scale in unprotected excess. */
  private tick(): void {
    for (const instance of [...this.instances]) {
      // Terminating:Wait too: this group has no termination hook whose heartbeat would hold it.
      if (instance.lifecycleState.startsWith('Terminating')) this.instances.splice(this.instances.indexOf(instance), 1);
      else if (instance.lifecycleState === 'Pending:Wait' && (instance.pendingRounds = (instance.pendingRounds ?? 0) - 1) <= 0) {
        instance.lifecycleState = 'InService';
      }
    }
    let excess = this.instances.filter((i) => i.lifecycleState !== 'Terminating').length - this.desired;
    for (const instance of this.instances) {
      if (excess <= 0) break;
      if (instance.lifecycleState === 'InService' && !instance.protectedFromScaleIn) {
        instance.lifecycleState = 'Terminating';
        excess -= 1;
      }
    }
  }

  async describe(): Promise<GroupSnapshot | undefined> {
    if (!this.exists) return undefined;
    this.call('describe');
    this.tick();
    return {
      name: this.name,
      min: this.min,
      max: this.max,
      desired: this.desired,
      newInstancesProtectedFromScaleIn: this.newInstancesProtectedFromScaleIn,
      suspendedProcesses: [...this.suspended],
      instances: this.instances.map(({ instanceId, lifecycleState, protectedFromScaleIn }) => ({ instanceId, lifecycleState, protectedFromScaleIn })),
    };
  }

  async suspendProcesses(processes: readonly string[]): Promise<void> {
    this.call('suspendProcesses');
    for (const process of processes) this.suspended.add(process);
  }

  async close(): Promise<void> {
    this.call('close');
    this.min = this.max = this.desired = 0;
    this.newInstancesProtectedFromScaleIn = false;
  }

  async removeProtection(instanceIds: string[]): Promise<void> {
    this.call('removeProtection');
    const refused = this.instances.find((i) => instanceIds.includes(i.instanceId) && !['InService', 'EnteringStandby', 'Standby'].includes(i.lifecycleState));
    if (refused) {
      throw Object.assign(new Error(`The instance ${refused.instanceId} is not in InService or EnteringStandby or Standby.`), { name: 'ValidationError', $fault: 'client' });
    }
    if (instanceIds.length > 50) throw Object.assign(new Error('at most 50 instance ids'), { name: 'ValidationError', $fault: 'client' });
    for (const instance of this.instances) if (instanceIds.includes(instance.instanceId)) instance.protectedFromScaleIn = false;
  }

  async terminate(instanceId: string): Promise<void> {
    this.call('terminate');
    const instance = this.instances.find((i) => i.instanceId === instanceId);
    if (!instance || !['InService', 'Standby'].includes(instance.lifecycleState)) {
      throw Object.assign(new Error(`instance ${instanceId} is not in a state to terminate`), { name: 'ValidationError', $fault: 'client' });
    }
    instance.lifecycleState = 'Terminating';
  }

  async abandonLaunch(instanceId: string): Promise<void> {
    this.call('abandonLaunch');
    const instance = this.instances.find((i) => i.instanceId === instanceId);
    if (instance?.lifecycleState !== 'Pending:Wait') {
      throw Object.assign(new Error(`No active Lifecycle Action found with instance ID ${instanceId}`), { name: 'ValidationError', $fault: 'client' });
    }
    instance.lifecycleState = 'Terminating';
  }

  /** CloudFormation's deletion of the group: sizes to 0 and wait; 'hangs' when the wait would never end. */
  cloudFormationDelete(maxRounds = 50): 'deleted' | 'hangs' {
    this.min = this.max = this.desired = 0;
    for (let round = 0; round < maxRounds; round += 1) {
      this.tick();
      if (this.instances.length === 0) {
        this.exists = false;
        return 'deleted';
      }
    }
    return 'hangs';
  }

  /** One AZRebalance activity, unless suspended: launch in the zone with fewest instances, then try to terminate in the one with most. */
  rebalance(zones: string[]): void {
    if (this.suspended.has('AZRebalance')) return;
    const count = (zone: string) => this.instances.filter((i) => i.zone === zone).length;
    const sorted = [...zones].sort((a, b) => count(a) - count(b));
    const [short, long] = [sorted[0], sorted[sorted.length - 1]];
    if (count(long) - count(short) < 2) return;
    this.launched += 1;
    this.instances.push({ instanceId: `i-rebalance${this.launched}`, lifecycleState: 'InService', protectedFromScaleIn: this.newInstancesProtectedFromScaleIn, zone: short });
    const victim = this.instances.find((i) => i.zone === long && !i.protectedFromScaleIn);
    if (victim) victim.lifecycleState = 'Terminating';
  }
}
