import { claimVersion } from '../../lib/activity';
import { forEachWithConcurrency } from '../../lib/concurrency';
import type { AutoScalerDeps } from './deps';
import { classifyErrors } from './errors';
import type { ApplyInput } from './scale-out';
import type { ApplyResult } from './state';

/**
 * Removes idle runners chosen by the policy (spot first, oldest first).
 *
 * The registration is deleted at GitHub FIRST: GitHub refuses to delete a
 * runner that is running a job, which closes the race where an idle runner
 * picks up a job between Observe and now. Only a runner GitHub confirmed
 * deleted has its instance terminated (with decrement, so Auto Scaling does
 * not launch a replacement). Lifecycle of one victim:
 *
 * ```mermaid
 * stateDiagram-v2
 *   [*] --> Claim: decision scale_in
 *   Claim --> Yield: version moved (stale)
 *   Claim --> Deferred: claimed, but the time budget is spent (the next scale-in takes it)
 *   Claim --> DeleteRegistration: claimed
 *   DeleteRegistration --> Terminate: GitHub "deleted"
 *   DeleteRegistration --> Skip: GitHub "busy" (running a job)
 *   DeleteRegistration --> Skip: "not_found" (the reconcile cleans up)
 *   Terminate --> [*]: TerminateInstanceInAutoScalingGroup(decrement)
 *   Skip --> [*]
 *   Deferred --> [*]
 *   Yield --> [*]
 * ```
 */
/**
 * Victims handled at once. With MAX_VICTIMS_PER_SCALE_IN (lib/policy.ts) of
 * them, at about a second each (a GitHub DELETE, then an Auto Scaling call),
 * that is 40 rounds: inside the start budget below. GitHub allows 100
 * concurrent requests; a handful stays clear of its secondary limits.
 */
const SCALE_IN_CONCURRENCY = 5;
/** No victim starts after this (the Lambda's timeout is 55 s; a started one still needs its two calls). */
const SCALE_IN_START_BUDGET_MS = 35_000;

export async function scaleIn(deps: AutoScalerDeps, input: ApplyInput): Promise<ApplyResult> {
  const { doc, tableName, pool, scalingGroup, github, clock, logger, metrics } = deps;
  return classifyErrors('ScaleIn', async () => {
    const claim = await claimVersion(doc, tableName, pool, {
      observedVersion: input.observedVersion,
      executionId: input.executionId,
      kind: 'scale_in',
      target: input.decision.desired,
      now: clock.now(),
    });
    if (!claim.claimed) {
      logger.info('scale-in yielded: activity version moved', { observed: input.observedVersion, current: claim.currentVersion });
      return { action: 'scale_in', applied: false, stale: true, version: claim.currentVersion };
    }
    // Per victim: GitHub deletes the registration, and only then is the instance terminated. Victims run
    // SCALE_IN_CONCURRENCY at a time; none starts after the time budget (the rest wait for the next scale-in).
    const started = clock.now();
    const outcomes: Array<{ instanceId: string; terminated: boolean; reason?: string }> = [];
    await forEachWithConcurrency(input.decision.victims, SCALE_IN_CONCURRENCY, async (victim, index) => {
      if (clock.now() - started > SCALE_IN_START_BUDGET_MS) {
        outcomes[index] = { instanceId: victim.instanceId, terminated: false, reason: 'deferred: the scale-in time budget was spent' };
        return;
      }
      const outcome = await github.deleteRunner(victim.runnerId);
      if (outcome !== 'deleted') {
        outcomes[index] = { instanceId: victim.instanceId, terminated: false, reason: outcome === 'busy' ? 'runner is busy at GitHub' : 'runner not found at GitHub' };
        logger.info('scale-in victim skipped', { instanceId: victim.instanceId, runnerId: victim.runnerId, outcome });
        return;
      }
      await scalingGroup.terminateInstance(victim.instanceId, true);
      outcomes[index] = { instanceId: victim.instanceId, terminated: true };
    });
    const terminated = outcomes.filter((o) => o.terminated).map((o) => o.instanceId);
    const skipped = outcomes.filter((o) => !o.terminated).map((o) => ({ instanceId: o.instanceId, reason: o.reason as string }));
    metrics?.addMetric('Terminated', 'Count', terminated.length);
    logger.info('scaled in', { terminated, skipped, version: claim.version });
    return { action: 'scale_in', applied: terminated.length > 0, stale: false, terminated, skipped, version: claim.version };
  });
}
