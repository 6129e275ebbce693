import * as z from 'zod/mini';
import type { GitHubPort } from '../../lib/ports';
import type { LifecyclePort } from './aws';
import { describeError, type JitLogger } from './jit-config';
import type { Counter } from './metrics';

/**
 * Spot interruption warnings (two minutes' notice) and rebalance
 * recommendations (elevated risk). For an instance of our group: an idle runner
 * is deregistered at once so GitHub assigns it no job it could not finish;
 * a busy one is left to finish if it can; a job lost with the instance is
 * re-counted by the reconcile. Each event is logged and counted.
 */
export const SPOT_INTERRUPTION = 'EC2 Spot Instance Interruption Warning';
export const REBALANCE_RECOMMENDATION = 'EC2 Instance Rebalance Recommendation';

const interruptionEventSchema = z.object({
  'detail-type': z.enum([SPOT_INTERRUPTION, REBALANCE_RECOMMENDATION]),
  detail: z.looseObject({ 'instance-id': z.string().check(z.regex(/^i-[0-9a-f]{8,17}$/)) }),
});

export type InterruptionOutcome =
  | 'deregistered' // idle runner removed from GitHub
  | 'busy' // runner is running a job (GitHub refused, or it said so)
  | 'not_registered' // no runner by that name: still booting, or already gone
  | 'not_ours' // instance of another group, or of none
  | 'ignored'; // not an interruption event

export interface InterruptionDeps {
  groupName: string;
  github: () => Promise<GitHubPort> | GitHubPort;
  lifecycle: LifecyclePort;
  metrics: Counter;
  logger: JitLogger;
}

export function createInterruptionHandler(depsOrFactory: InterruptionDeps | (() => InterruptionDeps)) {
  let resolved: InterruptionDeps | undefined;
  const depsOf = () => (resolved ??= typeof depsOrFactory === 'function' ? depsOrFactory() : depsOrFactory);

  return async (event: unknown): Promise<{ outcome: InterruptionOutcome; instanceId?: string }> => {
    const deps = depsOf();
    const parsed = interruptionEventSchema.safeParse(event);
    if (!parsed.success) {
      deps.logger.warn('not an interruption event; ignored');
      return { outcome: 'ignored' };
    }
    const kind = parsed.data['detail-type'] === SPOT_INTERRUPTION ? 'SpotInterruption' : 'RebalanceRecommendation';
    const instanceId = parsed.data.detail['instance-id'];
    // The EC2 events do not name the group: every instance in the region matches the rule.
    const membership = await deps.lifecycle.membership(instanceId);
    if (membership?.groupName !== deps.groupName) return { outcome: 'not_ours', instanceId };

    let outcome: InterruptionOutcome;
    try {
      const github = await deps.github();
      const runner = (await github.listRunners()).find((registration) => registration.name === instanceId);
      if (!runner) outcome = 'not_registered';
      else if (runner.busy) outcome = 'busy';
      else {
        const deleted = await github.deleteRunner(runner.id);
        outcome = deleted === 'busy' ? 'busy' : deleted === 'deleted' ? 'deregistered' : 'not_registered';
      }
    } catch (error) {
      deps.logger.error('could not deregister the runner of an interrupted instance', { kind, instanceId, error: describeError(error) });
      deps.metrics.count(kind, { Outcome: 'error' });
      throw error; // Lambda retries the event; the reconcile removes the registration later otherwise.
    }
    deps.logger.info('interruption handled', { kind, instanceId, lifecycleState: membership.lifecycleState, outcome });
    deps.metrics.count(kind, { Outcome: outcome });
    return { outcome, instanceId };
  };
}
