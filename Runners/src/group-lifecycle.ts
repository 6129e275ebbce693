/**
 * What the Runners stack's lifecycle custom resource decides, free of AWS: the
 * ports it needs, which Delete empties the group, and what one round of
 * emptying does. Runners/src/group-lifecycle-handler.ts runs it; the AWS side
 * is Runners/src/group-lifecycle-aws.ts.
 *
 * Why it exists (issue 13, defects 3 and 8):
 * - Every instance is protected from scale-in and an idle JIT runner never
 *   exits. CloudFormation deletes an Auto Scaling group by setting its sizes to
 *   0 and waiting for the instances to go (docs.aws.amazon.com/autoscaling/ec2/
 *   userguide/as-process-shutdown.html); a scale-in leaves protected instances
 *   running ("Could not scale to desired capacity because all remaining
 *   instances are protected from scale-in", ec2-auto-scaling-instance-
 *   protection.html; seen as a hung stack deletion in aws/aws-cdk#14732 and
 *   buildkite/elastic-ci-stack-for-aws#927). So before CloudFormation deletes
 *   the group, this removes the protection and terminates the instances.
 * - AZRebalance launches a replacement before it terminates the instance it
 *   moves (AutoScalingBehavior: "Auto Scaling always launches new instances
 *   before attempting to terminate old ones"), and runners that leave with
 *   decrement unbalance the zones all the time. Every instance is protected, so
 *   the old one is never terminated: the group keeps an extra instance (up to
 *   10 % above its maximum) that registers as a runner nobody asked for.
 *   CloudFormation has no property for a group's suspended processes outside
 *   UpdatePolicy (aws-cloudformation/cloudformation-coverage-roadmap#2429;
 *   cfn-lint 1.51's schema of AWS::AutoScaling::AutoScalingGroup has none), so
 *   Create and Update suspend it through the API.
 */

/** Processes suspended on Create and Update. */
export const SUSPENDED_PROCESSES = ['AZRebalance'] as const;

export interface GroupMember {
  instanceId: string;
  lifecycleState: string;
  protectedFromScaleIn: boolean;
}

export interface GroupSnapshot {
  name: string;
  min: number;
  max: number;
  desired: number;
  newInstancesProtectedFromScaleIn: boolean;
  suspendedProcesses: string[];
  instances: GroupMember[];
}

/** The one Auto Scaling group the resource names. */
export interface GroupLifecyclePort {
  /** undefined when the group does not exist (never created, or already deleted). */
  describe(): Promise<GroupSnapshot | undefined>;
  suspendProcesses(processes: readonly string[]): Promise<void>;
  /** MinSize = MaxSize = DesiredCapacity = 0 and new instances unprotected. */
  close(): Promise<void>;
  removeProtection(instanceIds: string[]): Promise<void>;
  /** Terminates one instance without decrementing (the desired capacity is already 0). */
  terminate(instanceId: string): Promise<void>;
  /** Ends the launch hook of a Pending:Wait instance with ABANDON, which terminates it (CompleteLifecycleAction by instance id). */
  abandonLaunch(instanceId: string): Promise<void>;
}

export interface StackStatusPort {
  /** The stack's status (DELETE_IN_PROGRESS, ...), or undefined when CloudFormation does not know the stack. */
  status(stackId: string): Promise<string | undefined>;
}

/**
 * Which Delete empties the group. CloudFormation also sends Delete when only
 * this resource goes while the group stays: an update that removes or
 * replaces it (UPDATE_COMPLETE_CLEANUP_IN_PROGRESS), or the rollback of the
 * update that added it (UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS).
 * Terminating then would kill busy runners of a live pool, so only a stack
 * deletion and the rollback of a failed stack creation (ROLLBACK_IN_PROGRESS),
 * where the group is deleted right after this resource, empty it.
 */
export type DeleteIntent = 'empty-group' | 'leave-group';

export function deleteIntent(stackStatus: string | undefined): DeleteIntent {
  return stackStatus === 'DELETE_IN_PROGRESS' || stackStatus === 'ROLLBACK_IN_PROGRESS' ? 'empty-group' : 'leave-group';
}

/** States an instance leaves the group through; nothing more to do for it. */
const LEAVING = /^(Terminating|Terminated|Detaching|Detached)/;
/**
 * SetInstanceProtection refuses other states ("The instance ... is not in
 * InService or EnteringStandby or Standby", as reported in
 * infrahouse/infrahouse-toolkit#223 and guardian/riff-raff#510).
 */
const PROTECTION_STATES = new Set(['InService', 'EnteringStandby', 'Standby']);
/** States TerminateInstanceInAutoScalingGroup is sent for; a Pending instance finishes its launch hook first. */
const TERMINABLE = new Set(['InService', 'Standby']);

export interface Round {
  /** The sizes are not yet 0, or new instances would still be protected. */
  close: boolean;
  /** Protected instances whose protection can be removed now (at most 50 per call, batched by the adapter). */
  removeProtection: string[];
  terminate: string[];
  /** Instances held by the launch hook: abandoning the launch terminates them without waiting out the hook's heartbeat. */
  abandonLaunch: string[];
  /** Instances to wait for: protected and still launching, or entering standby. */
  waitFor: string[];
  /** Nothing left that CloudFormation's own "set to 0 and wait" could not finish. */
  done: boolean;
}

/**
 * One round of emptying. Closing comes first so that no terminated instance is
 * replaced and nobody can scale the group out again (MaxSize 0). Protection is
 * removed so that CloudFormation's own deletion can terminate whatever is left,
 * should a termination below fail. InService and Standby instances are
 * terminated now rather than left to the group. An instance still in its launch
 * hook (Pending:Wait) can be neither unprotected nor terminated: its launch is
 * abandoned (the hook's heartbeat may be up to two hours), and the next rounds
 * wait until it has gone or come into service. Done when
 * everything left is leaving, or launching unprotected (a group of size 0
 * terminates that by itself).
 */
export function planRound(group: GroupSnapshot): Round {
  const close = group.min !== 0 || group.max !== 0 || group.desired !== 0 || group.newInstancesProtectedFromScaleIn;
  const staying = group.instances.filter((i) => !LEAVING.test(i.lifecycleState));
  const removeProtection = staying.filter((i) => i.protectedFromScaleIn && PROTECTION_STATES.has(i.lifecycleState)).map((i) => i.instanceId);
  const terminate = staying.filter((i) => TERMINABLE.has(i.lifecycleState)).map((i) => i.instanceId);
  const abandonLaunch = staying.filter((i) => i.lifecycleState === 'Pending:Wait').map((i) => i.instanceId);
  const waitFor = staying
    .filter((i) => !TERMINABLE.has(i.lifecycleState) && (i.protectedFromScaleIn || i.lifecycleState === 'EnteringStandby'))
    .map((i) => i.instanceId);
  return { close, removeProtection, terminate, abandonLaunch, waitFor, done: !close && removeProtection.length + terminate.length + waitFor.length === 0 };
}

export interface EmptyGroupOptions {
  /** Epoch ms by which the caller must have answered CloudFormation. */
  deadline: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  log?: (message: string, details?: Record<string, unknown>) => void;
}

export type EmptyGroupResult =
  | { outcome: 'emptied' | 'already-gone'; rounds: number }
  /**
   * protectedLeft: instances still protected (or launching protected) as far
   * as is known, none meaning CloudFormation's own deletion can finish;
   * undefined when the group could not be described even once.
   */
  | { outcome: 'timed-out'; rounds: number; protectedLeft?: string[]; lastError?: string };

/**
 * Rounds of planRound until done or the deadline. Each step of a round is
 * tried on its own: an AWS fault (the SDK has already retried it) is logged
 * and the step is tried again in the next round, after a backoff. Every step is
 * idempotent, and each round's describe shows what actually happened.
 */
export async function emptyGroup(port: GroupLifecyclePort, options: EmptyGroupOptions): Promise<EmptyGroupResult> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = options.log ?? (() => undefined);
  let lastError: string | undefined;
  let protectedLeft: string[] | undefined;
  const step = async <T>(what: string, round: number, fn: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> => {
    try {
      return { ok: true, value: await fn() };
    } catch (error) {
      lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      log(`${what} failed; trying again in the next round`, { round, error: lastError });
      return { ok: false };
    }
  };
  for (let round = 1; ; round += 1) {
    const described = await step('DescribeAutoScalingGroups', round, () => port.describe());
    if (described.ok && !described.value) return { outcome: round === 1 ? 'already-gone' : 'emptied', rounds: round };
    if (described.ok && described.value) {
      const plan = planRound(described.value);
      protectedLeft = [...plan.removeProtection, ...plan.waitFor];
      if (plan.done) return { outcome: 'emptied', rounds: round };
      log('emptying the runner group', { round, ...plan });
      if (plan.close) await step('closing the group', round, () => port.close());
      if (plan.removeProtection.length && (await step('removing scale-in protection', round, () => port.removeProtection(plan.removeProtection))).ok) {
        protectedLeft = plan.waitFor;
      }
      for (const instanceId of plan.terminate) await step(`terminating ${instanceId}`, round, () => port.terminate(instanceId));
      for (const instanceId of plan.abandonLaunch) await step(`abandoning the launch of ${instanceId}`, round, () => port.abandonLaunch(instanceId));
    }
    const wait = Math.min(15_000, 1_000 * 1.5 ** (round - 1));
    if (now() + wait >= options.deadline) {
      return { outcome: 'timed-out', rounds: round, ...(protectedLeft ? { protectedLeft } : {}), ...(lastError ? { lastError } : {}) };
    }
    await sleep(wait);
  }
}
