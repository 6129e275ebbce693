import { claimVersion, coveredByNewerScaleOut, readActivity } from '../../lib/activity';
import type { Decision } from '../../lib/policy';
import type { FleetDeps } from './deps';
import { classifyErrors } from './errors';
import type { ApplyResult } from './state';

export interface ApplyInput {
  executionId: string;
  observedVersion: number;
  decision: Decision;
}

/** How many times one execution re-applies a newer claim's target before leaving it to that claim's owner. */
const MAX_APPLY_ROUNDS = 5;

/**
 * Claims the activity version, then sets the desired capacity.
 *
 * Claim and SetDesiredCapacity are two calls, so two executions can claim in
 * one order and reach Auto Scaling in the other: an older, smaller target
 * would then overwrite a newer one. Each execution therefore applies the
 * target of the LATEST claim and re-reads the activity afterwards; when the
 * version moved meanwhile it applies again. Whichever call reaches Auto
 * Scaling last was made by an execution that saw no newer claim after it, so
 * the group ends at the newest claim's target. A newer scale-in claim is left
 * to its own execution (it terminates chosen instances with decrement).
 */
export async function scaleOut(deps: FleetDeps, input: ApplyInput): Promise<ApplyResult> {
  const { doc, tableName, pool, scalingGroup, clock, logger } = deps;
  const target = input.decision.desired;
  return classifyErrors('ScaleOut', async () => {
    const claim = await claimVersion(doc, tableName, pool, {
      observedVersion: input.observedVersion,
      executionId: input.executionId,
      kind: 'scale_out',
      target,
      now: clock.now(),
    });
    if (!claim.claimed && coveredByNewerScaleOut(claim.currentClaim, input.observedVersion, target)) {
      // In a burst most executions land here: one claim per version wins, and the rest need not observe again.
      logger.info('scale-out covered by a newer claim', { observed: input.observedVersion, current: claim.currentVersion, target, claimed: claim.currentClaim?.target });
      return { action: 'scale_out', applied: false, stale: false, covered: true, version: claim.currentVersion };
    }
    if (!claim.claimed) {
      logger.info('scale-out yielded: activity version moved', { observed: input.observedVersion, current: claim.currentVersion, target });
      return { action: 'scale_out', applied: false, stale: true, version: claim.currentVersion };
    }
    let desired: number | undefined;
    for (let round = 0; round < MAX_APPLY_ROUNDS; round++) {
      const before = await readActivity(doc, tableName, pool);
      if (!before.claim || before.claim.kind !== 'scale_out') break;
      await scalingGroup.setDesiredCapacity(before.claim.target);
      desired = before.claim.target;
      const after = await readActivity(doc, tableName, pool);
      if (after.version === before.version) break;
    }
    if (desired === undefined) {
      // A newer scale-in claim superseded ours before we applied anything: it acts on a newer view.
      logger.info('scale-out yielded to a newer scale-in', { target, version: claim.version });
      return { action: 'scale_out', applied: false, stale: true, version: claim.version };
    }
    logger.info('scaled out', { target, desired, version: claim.version });
    return { action: 'scale_out', applied: true, stale: false, desired, version: claim.version };
  });
}
