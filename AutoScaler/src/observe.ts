import { readActivity } from '../../lib/activity';
import { countOpenJobs } from '../../lib/ledger';
import { buildObservation, needsRunnerList, type Observation } from '../../lib/policy';
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
    // First the group without EC2's instance details: in a burst nothing more is needed, and EC2's
    // Describe* rate limit is shared with everything else in the account.
    const [ledger, bare] = await Promise.all([countOpenJobs(doc, tableName, pool), scalingGroup.describe({ instanceDetails: false })]);
    // GitHub's rate budget is spent only where the decision depends on it (see needsRunnerList).
    const now = clock.now();
    const listRunners = needsRunnerList({ now, group: bare, ledger, activity }, input.settings);
    if (!listRunners) metrics?.addMetric('RunnerListSkipped', 'Count', 1);
    // Only a decision that can scale in looks at markets and launch times (victim order, boot timeout).
    const [runners, group] = listRunners ? await Promise.all([listRunnersOrNull(deps), scalingGroup.withInstanceDetails(bare)]) : [null, bare];
    const observation = buildObservation({ now, group, runners, ledger, activity }, input.settings.bootTimeoutSeconds);
    metrics?.addMetric('Queued', 'Count', ledger.queued);
    metrics?.addMetric('InProgress', 'Count', ledger.inProgress);
    metrics?.addMetric('Busy', 'Count', observation.fleetCounts.busy);
    metrics?.addMetric('Idle', 'Count', observation.fleetCounts.idle);
    metrics?.addMetric('Booting', 'Count', observation.fleetCounts.booting);
    metrics?.addMetric('Desired', 'Count', group.desired);
    return observation;
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
