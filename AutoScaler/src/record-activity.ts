import { recordDecision, type DecisionEntry } from '../../lib/activity';
import type { Decision } from '../../lib/policy';
import type { StoreDeps } from './deps';
import { classifyErrors } from './errors';
import type { ApplyResult, RunState } from './state';

export type Outcome = 'scaled_out' | 'scaled_in' | 'nothing' | 'yielded' | 'covered' | 'skipped_victims';

export interface ExecutionSummary {
  executionId: string;
  trigger: string;
  outcome: Outcome;
  decision: Pick<Decision, 'action' | 'current' | 'target' | 'desired' | 'reason' | 'counts' | 'victims'>;
  applied: ApplyResult;
  job: RunState['job'];
  reconcile: RunState['reconcile'];
  settingsProblems: string[];
}

function outcomeOf(decision: Decision, applied: ApplyResult): Outcome {
  if (applied.stale) return 'yielded';
  if (applied.covered) return 'covered';
  if (decision.action === 'scale_out') return 'scaled_out';
  if (decision.action === 'scale_in') return applied.applied ? 'scaled_in' : 'skipped_victims';
  return 'nothing';
}

/** Instance ids a decision entry lists (every entry is rewritten with the activity item, so a big scale-in lists the first few and the count). */
const VICTIMS_LISTED = 20;

function victimsOf(decision: Decision, applied: ApplyResult): Pick<DecisionEntry, 'victims' | 'victimCount'> {
  if (!decision.victims.length) return {};
  const ids = applied.terminated ?? decision.victims.map((v) => v.instanceId);
  return { victims: ids.slice(0, VICTIMS_LISTED), ...(ids.length > VICTIMS_LISTED ? { victimCount: ids.length } : {}) };
}

/** Last step: the decision and what came of it go to the activity item (the recent-decisions list) and the metrics. */
export async function recordActivity(deps: StoreDeps, state: RunState): Promise<ExecutionSummary> {
  const { doc, tableName, pool, clock, metrics } = deps;
  const decision = state.decision as Decision;
  const applied: ApplyResult = state.applied ?? { action: 'none', applied: false, stale: false };
  const outcome = outcomeOf(decision, applied);
  const entry: DecisionEntry = {
    at: new Date(clock.now()).toISOString(),
    executionId: state.executionId,
    trigger: state.job ? `${state.trigger} ${state.job.action} job ${state.job.jobId}` : state.trigger,
    action: decision.action,
    current: decision.current,
    target: decision.target,
    desired: applied.desired ?? decision.desired,
    counts: decision.counts,
    reason: decision.reason,
    applied: applied.applied,
    stale: applied.stale,
    ...victimsOf(decision, applied),
  };
  // A covered execution changed nothing and another one acted for it: in a burst that is most of them, and
  // the activity item is one hot item, so only the metric counts it.
  if (outcome !== 'covered') await classifyErrors('RecordActivity', () => recordDecision(doc, tableName, pool, entry));
  const metricName = { scaled_out: 'DecisionScaleOut', scaled_in: 'DecisionScaleIn', nothing: 'DecisionNone', yielded: 'DecisionYielded', covered: 'DecisionCovered', skipped_victims: 'DecisionScaleInSkipped' }[outcome];
  metrics?.addMetric(metricName, 'Count', 1);
  return {
    executionId: state.executionId,
    trigger: state.trigger,
    outcome,
    decision: {
      action: decision.action,
      current: decision.current,
      target: decision.target,
      desired: applied.desired ?? decision.desired,
      reason: decision.reason,
      counts: decision.counts,
      victims: decision.victims,
    },
    applied,
    job: state.job,
    reconcile: state.reconcile,
    settingsProblems: state.settings?.problems ?? [],
  };
}
