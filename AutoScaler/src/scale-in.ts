import { claimVersion } from '../../lib/activity';
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
 *   Claim --> DeleteRegistration: claimed
 *   DeleteRegistration --> Terminate: GitHub "deleted"
 *   DeleteRegistration --> Skip: GitHub "busy" (running a job)
 *   DeleteRegistration --> Skip: "not_found" (the reconcile cleans up)
 *   Terminate --> [*]: TerminateInstanceInAutoScalingGroup(decrement)
 *   Skip --> [*]
 *   Yield --> [*]
 * ```
 */
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
    const terminated: string[] = [];
    const skipped: Array<{ instanceId: string; reason: string }> = [];
    for (const victim of input.decision.victims) {
      const outcome = await github.deleteRunner(victim.runnerId);
      if (outcome !== 'deleted') {
        skipped.push({ instanceId: victim.instanceId, reason: outcome === 'busy' ? 'runner is busy at GitHub' : 'runner not found at GitHub' });
        logger.info('scale-in victim skipped', { instanceId: victim.instanceId, runnerId: victim.runnerId, outcome });
        continue;
      }
      await scalingGroup.terminateInstance(victim.instanceId, true);
      terminated.push(victim.instanceId);
    }
    metrics?.addMetric('Terminated', 'Count', terminated.length);
    logger.info('scaled in', { terminated, skipped, version: claim.version });
    return { action: 'scale_in', applied: terminated.length > 0, stale: false, terminated, skipped, version: claim.version };
  });
}
