import { readActivity } from '../../lib/activity';
import { countOpenJobs } from '../../lib/ledger';
import { classifyFleet, type Observation } from '../../lib/policy';
import type { Settings } from '../../lib/settings';
import type { RunnerRegistration } from '../../lib/ports';
import type { AutoScalerDeps } from './deps';
import { classifyErrors } from './errors';

export interface ObserveInput {
  executionId: string;
  settings: Settings;
  attempt?: number;
}

/**
 * One consistent-enough picture of demand and supply.
 *
 * The activity version is read FIRST, before the ledger, the group and
 * GitHub. Why: our job was written to the ledger before this step ran. If our
 * claim later fails because another execution moved the version past what we
 * read here, that execution claimed after this read; an execution that then
 * observed ITS version read the activity after our ledger write and so counted
 * our job in its ledger read, which comes after its activity read. That is
 * why, after one re-observe, yielding to the newer execution loses no demand.
 */
export async function observe(deps: AutoScalerDeps, input: ObserveInput): Promise<Observation> {
  const { doc, tableName, pool, scalingGroup, clock, metrics } = deps;
  return classifyErrors('Observe', async () => {
    const activity = await readActivity(doc, tableName, pool);
    const [ledger, group, runners] = await Promise.all([countOpenJobs(doc, tableName, pool), scalingGroup.describe(), listRunnersOrNull(deps)]);
    const now = clock.now();
    // Without GitHub's view every instance counts as booting: scale-out still follows the ledger, scale-in
    // (which needs to know which runners are idle) waits until GitHub answers again.
    const fleet = runners
      ? classifyFleet(group.instances, runners, now, input.settings.bootTimeoutSeconds)
      : classifyFleet(group.instances, [], now, Number.MAX_SAFE_INTEGER / 1000);
    const count = (state: string) => fleet.filter((m) => m.state === state).length;
    metrics?.addMetric('Queued', 'Count', ledger.queued);
    metrics?.addMetric('InProgress', 'Count', ledger.inProgress);
    metrics?.addMetric('Busy', 'Count', count('busy'));
    metrics?.addMetric('Idle', 'Count', count('idle'));
    metrics?.addMetric('Booting', 'Count', count('booting'));
    metrics?.addMetric('Desired', 'Count', group.desired);
    return {
      now,
      group: { desired: group.desired, min: group.min, max: group.max },
      fleet,
      ledger,
      activity: { version: activity.version, lastScaleOutAt: activity.lastScaleOutAt, lastScaleInAt: activity.lastScaleInAt },
    };
  });
}

/**
 * GitHub being down or rate-limited must not stop scale-out for jobs the
 * ledger already knows: the failure is logged and counted, and the step goes
 * on without runner states.
 */
async function listRunnersOrNull(deps: AutoScalerDeps): Promise<RunnerRegistration[] | null> {
  try {
    return await deps.github.listRunners();
  } catch (error) {
    const e = error as Error;
    deps.logger.warn('GitHub runners unavailable: observing without them (no scale-in this time)', { error: `${e.name}: ${e.message}` });
    deps.metrics?.addMetric('GitHubUnavailable', 'Count', 1);
    return null;
  }
}
