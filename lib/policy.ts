import type { GroupInstance, GroupState, Market, RunnerRegistration } from './ports';
import type { Settings } from './settings';

/**
 * The scaling decision, as a pure function of one observation.
 *
 * Level-triggered: the target is computed from the whole picture
 * (busy + queued + headroom, clamped to [floor, max]), never "+1 per event",
 * so duplicated, lost, reordered or concurrent events cannot make it drift.
 *
 *   target  = clamp(floor, max, busy + queued + headroom)
 *             where busy = max(ledger in-progress, busy runners) and a job
 *             already running on a runner is never also counted as queued
 *   current = desired capacity (booting instances count: capacity on the way)
 *   target > current  -> scale out to target   (only the scale-out cooldown applies)
 *   target < current  -> scale in idle runners only, spot before on-demand,
 *                        oldest first, never below floor (scale-in cooldown)
 */
export type RunnerState = 'booting' | 'idle' | 'busy' | 'offline' | 'unregistered';

export interface FleetMember {
  instanceId: string;
  market: Market;
  launchedAt: number;
  lifecycleState: string;
  state: RunnerState;
  runnerId?: number;
}

/**
 * The most idle runners one scale-in removes, and so the most members an
 * observation carries. Step Functions caps an execution's state at 256 KB; a
 * whole fleet there (about 130 bytes a member) passes it at about 1,900
 * instances and every execution would fail. An observation carries every
 * member's state as counts and only the victim candidates as members
 * (compactFleet); a bigger surplus is removed by the next scale-ins.
 */
export const MAX_VICTIMS_PER_SCALE_IN = 200;

export type FleetCounts = Record<RunnerState, number>;

export interface Observation {
  now: number;
  group: { desired: number; min: number; max: number };
  /**
   * Members decide() looks at one by one: in an observation from
   * buildObservation, the victim candidates only (compactFleet). A whole
   * fleet is the same input when fleetCounts is absent.
   */
  fleet: FleetMember[];
  /** Every member, by state; counted from `fleet` when absent. */
  fleetCounts?: FleetCounts;
  ledger: { queued: number; inProgress: number };
  activity: { version: number; lastScaleOutAt?: number | null; lastScaleInAt?: number | null };
}

export interface Victim {
  instanceId: string;
  runnerId: number;
}

export type DecisionAction = 'scale_out' | 'scale_in' | 'none';

export interface Decision {
  action: DecisionAction;
  current: number;
  target: number;
  /** Desired capacity after the action. */
  desired: number;
  victims: Victim[];
  reason: string;
  counts: { queued: number; busy: number; idle: number; booting: number; offline: number; unregistered: number };
}

const LEAVING = /^(Terminating|Terminated|Detaching|Detached|Warmed)/;

/** Joins the group's instances with GitHub's registrations (runner name = instance id). */
export function classifyFleet(
  instances: readonly GroupInstance[],
  runners: readonly RunnerRegistration[],
  now: number,
  bootTimeoutSeconds: number,
): FleetMember[] {
  const runnerByName = new Map(runners.map((runner) => [runner.name, runner]));
  return instances
    .filter((instance) => !LEAVING.test(instance.lifecycleState))
    .map((instance) => {
      const launchedAt = Date.parse(instance.launchTime);
      const runner = runnerByName.get(instance.instanceId);
      let state: RunnerState;
      if (!runner) state = now - launchedAt > bootTimeoutSeconds * 1000 ? 'unregistered' : 'booting';
      else if (runner.busy) state = 'busy';
      else if (runner.status === 'online') state = 'idle';
      else state = 'offline';
      return {
        instanceId: instance.instanceId,
        market: instance.market,
        launchedAt,
        lifecycleState: instance.lifecycleState,
        state,
        ...(runner ? { runnerId: runner.id } : {}),
      };
    });
}

/**
 * The observation from what Observe read. Without GitHub's runner list
 * (skipped, or GitHub unavailable) every instance counts as booting: the
 * target then follows the ledger alone, and nothing is idle, so nothing is
 * scaled in.
 */
export function buildObservation(
  parts: { now: number; group: GroupState; runners: readonly RunnerRegistration[] | null; ledger: Observation['ledger']; activity: Observation['activity'] },
  bootTimeoutSeconds: number,
): Observation & { fleetCounts: FleetCounts } {
  const { now, group, runners, ledger, activity } = parts;
  const fleet = runners
    ? classifyFleet(group.instances, runners, now, bootTimeoutSeconds)
    : classifyFleet(group.instances, [], now, Number.MAX_SAFE_INTEGER / 1000);
  return {
    now,
    group: { desired: group.desired, min: group.min, max: group.max },
    ...compactFleet(fleet),
    ledger: { queued: ledger.queued, inProgress: ledger.inProgress },
    activity: { version: activity.version, lastScaleOutAt: activity.lastScaleOutAt, lastScaleInAt: activity.lastScaleInAt },
  };
}

/**
 * Auto Scaling refuses a desired capacity outside [MinSize, MaxSize], so the
 * settings are bounded by the group's own limits before deciding.
 */
export function withGroupLimits(settings: Settings, group: { min: number; max: number }): Settings {
  const max = Math.min(settings.max, group.max);
  const floor = Math.min(Math.max(settings.floor, group.min), max);
  return max === settings.max && floor === settings.floor ? settings : { ...settings, max, floor };
}

/**
 * Whether the decision on this observation needs GitHub's runner list (one
 * paginated call per 100 runners, from a budget of 5,000 an hour shared with
 * everything else the installation does). It does not:
 *  - when the ledger alone already asks for more than the group's desired
 *    capacity: runners can only raise a scale-out target (jobs the ledger
 *    missed), never lower it, so scale out to the ledger's target now;
 *  - when the scale-in cooldown still holds: no runner can be removed yet.
 * In a burst of queued jobs this skips almost every listing. Jobs the ledger
 * missed are still counted: their in_progress webhook records them, and the
 * reconcile lists everything every period.
 */
export function needsRunnerList(
  observed: { now: number; group: { desired: number; min: number; max: number }; ledger: Observation['ledger']; activity: Observation['activity'] },
  settings: Settings,
): boolean {
  const limits = withGroupLimits(settings, observed.group);
  const ledgerTarget = clamp(limits.floor, limits.max, observed.ledger.queued + observed.ledger.inProgress + limits.headroom);
  if (ledgerTarget > observed.group.desired) return false;
  return cooledDown(observed.now, lastActivityAt(observed.activity), limits.scaleInCooldownSeconds);
}

function lastActivityAt(activity: Observation['activity']): number | null {
  const last = Math.max(activity.lastScaleOutAt ?? -Infinity, activity.lastScaleInAt ?? -Infinity);
  return Number.isFinite(last) ? last : null;
}

export function clamp(floor: number, max: number, value: number): number {
  return Math.max(floor, Math.min(max, value));
}

function countStates(fleet: readonly FleetMember[]): FleetCounts {
  const counts: FleetCounts = { booting: 0, idle: 0, busy: 0, offline: 0, unregistered: 0 };
  for (const member of fleet) counts[member.state] += 1;
  return counts;
}

/** Idle registered members, in the order they are removed: spot first (keeps the on-demand floor), then oldest first. */
function victimCandidates(fleet: readonly FleetMember[]): FleetMember[] {
  return fleet
    .filter((member) => member.state === 'idle' && member.runnerId !== undefined)
    .sort((a, b) => (a.market === b.market ? a.launchedAt - b.launchedAt : a.market === 'spot' ? -1 : 1))
    .slice(0, MAX_VICTIMS_PER_SCALE_IN);
}

/**
 * Pure: the fleet as an observation carries it, bounded whatever its size:
 * every member counted by state, and only the members a scale-in may remove.
 * decide() makes the same decision from this as from the whole fleet.
 */
export function compactFleet(fleet: readonly FleetMember[]): { fleet: FleetMember[]; fleetCounts: FleetCounts } {
  return { fleet: victimCandidates(fleet), fleetCounts: countStates(fleet) };
}

/** Up to `count` (and MAX_VICTIMS_PER_SCALE_IN) idle runners, in removal order. */
export function chooseVictims(fleet: readonly FleetMember[], count: number): Victim[] {
  if (count <= 0) return [];
  return victimCandidates(fleet)
    .slice(0, count)
    .map((member) => ({ instanceId: member.instanceId, runnerId: member.runnerId as number }));
}

function cooledDown(now: number, since: number | null | undefined, seconds: number): boolean {
  return since === undefined || since === null || now - since >= seconds * 1000;
}

export function decide(observation: Observation, settings: Settings): Decision {
  const { now, group, fleet, ledger, activity } = observation;
  const states = observation.fleetCounts ?? countStates(fleet);
  const busy = Math.max(ledger.inProgress, states.busy);
  // A runner can be busy with a job whose in_progress webhook has not been
  // recorded yet: that job is still "queued" in the ledger. Counting it in
  // both would over-provision, so busy runners beyond the ledger's in-progress
  // count are taken out of its queued count first.
  const startedButNotRecorded = Math.max(0, states.busy - ledger.inProgress);
  const queued = Math.max(0, ledger.queued - startedButNotRecorded);
  const target = clamp(settings.floor, settings.max, busy + queued + settings.headroom);
  const current = group.desired;
  const counts = { queued, busy, idle: states.idle, booting: states.booting, offline: states.offline, unregistered: states.unregistered };
  const none = (reason: string): Decision => ({ action: 'none', current, target, desired: current, victims: [], reason, counts });
  const demand = `busy ${busy} + queued ${queued} + headroom ${settings.headroom}`;

  if (target > current) {
    if (!cooledDown(now, activity.lastScaleOutAt, settings.scaleOutCooldownSeconds)) {
      return none(`scale-out to ${target} held: scale-out cooldown ${settings.scaleOutCooldownSeconds}s`);
    }
    return { action: 'scale_out', current, target, desired: target, victims: [], reason: `${demand} -> ${target} > ${current}`, counts };
  }

  if (target < current) {
    if (!cooledDown(now, lastActivityAt(activity), settings.scaleInCooldownSeconds)) {
      return none(`scale-in to ${target} held: scale-in cooldown ${settings.scaleInCooldownSeconds}s`);
    }
    const removable = Math.min(current - target, current - settings.floor);
    const victims = chooseVictims(fleet, removable);
    if (victims.length === 0) return none(`${current} > target ${target} but no idle runner to remove`);
    return {
      action: 'scale_in',
      current,
      target,
      desired: current - victims.length,
      victims,
      reason: `${demand} -> ${target} < ${current}: remove ${victims.length} idle`,
      counts,
    };
  }

  return none(`at target ${target} (${demand})`);
}
