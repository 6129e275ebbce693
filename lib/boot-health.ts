import type { InstanceDeparture } from './ports';

/**
 * Pure: is the pool crash-looping? An instance that boots, fails and leaves
 * is replaced by the group, which boots, fails and leaves again: the floor is
 * "healthy" by every count and every job waits forever. The reconcile sees
 * it in one period from cheap data: the group's terminations since the last
 * reconcile (DescribeScalingActivities), which runners ever took a job (the
 * ledger's RUNNER# items, lib/runner-jobs.ts) and the open jobs' queue times.
 *
 *  - an instance that ran a job and left: fine (that is what runners do);
 *  - left without a job while nothing was queued: scale-in or a spot
 *    interruption of an idle runner, fine;
 *  - our own scale-in victims: fine, whatever was queued (an idle runner may
 *    be removed while a job is being handed to another);
 *  - left without a job while a job was waiting: a boot failure. Two or more
 *    in one period is a crash loop (one alone may be a spot interruption of a
 *    booting instance).
 */
export const CRASH_LOOP_THRESHOLD = 2;

/**
 * A job counts as waiting only once it has been queued this long: a healthy
 * pool with an idle runner starts a job within seconds, so an instance that
 * leaves in that moment (say a scale-in victim beyond the 20 the decision log
 * names) is not a boot failure, while a crash loop keeps jobs queued for
 * whole boot times (minutes).
 */
export const WAIT_GRACE_MS = 60_000;

/** When a job waited: from queuedAt (plus WAIT_GRACE_MS) until startedAt (still waiting when null). Epoch ms. */
export interface JobWait {
  queuedAt: number;
  startedAt: number | null;
}

export interface BootHealthInput {
  departures: readonly InstanceDeparture[];
  /** Runner (= instance) names that took a job. */
  tookJob: ReadonlySet<string>;
  /** Instances the autoscaler itself removed as idle (scale-in victims). */
  scaleInVictims: ReadonlySet<string>;
  waits: readonly JobWait[];
}

export interface BootHealth {
  /** Instances that left without running a job, for whatever reason. */
  leftWithoutJob: string[];
  /** Of those, the ones that left while a job was waiting: boot failures. */
  leftWhileJobsWaited: string[];
  crashLoop: boolean;
}

function jobWaitingAt(waits: readonly JobWait[], at: number): boolean {
  return waits.some((wait) => wait.queuedAt + WAIT_GRACE_MS <= at && (wait.startedAt === null || wait.startedAt > at));
}

export function assessBootHealth(input: BootHealthInput): BootHealth {
  const seen = new Set<string>();
  const leftWithoutJob: string[] = [];
  const leftWhileJobsWaited: string[] = [];
  for (const departure of input.departures) {
    if (seen.has(departure.instanceId)) continue;
    seen.add(departure.instanceId);
    if (input.tookJob.has(departure.instanceId) || input.scaleInVictims.has(departure.instanceId)) continue;
    leftWithoutJob.push(departure.instanceId);
    if (jobWaitingAt(input.waits, departure.at)) leftWhileJobsWaited.push(departure.instanceId);
  }
  return { leftWithoutJob, leftWhileJobsWaited, crashLoop: leftWhileJobsWaited.length >= CRASH_LOOP_THRESHOLD };
}

/** Pure: where the next check starts. The last reconcile when known, else one hour back; never more than six hours back. */
export function bootHealthWindowStart(lastReconcileAt: number | null, now: number): number {
  const floor = now - 6 * 3600_000;
  return Math.max(floor, lastReconcileAt ?? now - 3600_000);
}
