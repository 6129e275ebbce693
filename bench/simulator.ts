import '../lib/polyfills';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_MODEL, resolveModel, type SimModel } from '../sim/model';
import { autoscalerPolicy } from '../sim/policies';
import { simulate, type PolicyResult } from '../sim/simulate';
import { parseTrace } from '../sim/trace';
import { SAMPLE_TRACES, TRACE_DIR } from './generate-traces';

/**
 * The simulator part of `npm run bench`: every sample trace, every policy,
 * once with the default model and once with faults (lost webhooks and spot
 * interruptions), checked against the goals.
 */
export interface SimulatorScenario {
  trace: string;
  scenario: 'default' | 'faults';
  jobs: number;
  elapsedMs: number;
  policies: Record<string, PolicyResult>;
  goals: { notDominated: boolean; dominatedBy: string[]; costWithin125PercentOfOracle: boolean; p95WithinBootPlus10s: boolean | null; zeroBusyTerminations: boolean };
}

export const FAULTS: Partial<SimModel> = { webhookLossRate: 0.05, spotInterruptionRatePerHour: 0.05 };
/** The traces where the issue sets wait and cost goals (the others must only be non-dominated). */
const WAIT_GOAL_TRACES = new Set(['steady-workday', 'monorepo-bursts']);

export function dominators(policies: Record<string, PolicyResult>, ours = 'autoscaler'): string[] {
  const mine = policies[ours];
  return Object.entries(policies)
    .filter(([name]) => name !== ours && name !== 'oracle')
    .filter(([, other]) => other.p95WaitSeconds < mine.p95WaitSeconds && other.costUsd < mine.costUsd)
    .map(([name]) => name);
}

export async function benchSimulator(): Promise<SimulatorScenario[]> {
  const settingsItem = JSON.parse(readFileSync(join(__dirname, 'settings.json'), 'utf8')) as Record<string, unknown>;
  const scenarios: SimulatorScenario[] = [];
  for (const name of Object.keys(SAMPLE_TRACES)) {
    const trace = parseTrace(readFileSync(join(TRACE_DIR, `${name}.jsonl`), 'utf8'));
    if (trace.problems.length) throw new Error(`${name}.jsonl: ${trace.problems.length} bad lines (regenerate with npm run trace:generate)`);
    for (const scenario of ['default', 'faults'] as const) {
      const model = resolveModel(scenario === 'faults' ? FAULTS : {});
      const result = await simulate(trace.jobs, { model, settingsItem });
      const ours = result.policies.autoscaler;
      const dominatedBy = dominators(result.policies);
      scenarios.push({
        trace: name,
        scenario,
        jobs: trace.jobs.length,
        elapsedMs: result.elapsedMs,
        policies: result.policies,
        goals: {
          notDominated: dominatedBy.length === 0,
          dominatedBy,
          costWithin125PercentOfOracle: ours.costRatioToOracle <= 1.25,
          p95WithinBootPlus10s: WAIT_GOAL_TRACES.has(name) ? ours.p95WaitSeconds <= model.bootSeconds + 10 : null,
          zeroBusyTerminations: ours.busyTerminations === 0,
        },
      });
    }
  }
  return scenarios;
}

/** Our policy on one trace at several headroom settings: the wait/cost trade-off an operator tunes. */
export interface HeadroomPoint {
  trace: string;
  headroom: number;
  p50WaitSeconds: number;
  p95WaitSeconds: number;
  costUsd: number;
  costRatioToOracle: number;
  busyTerminations: number;
}

export const HEADROOM_SWEEP = [0, 1, 2, 4, 8];

export async function benchHeadroom(traces = ['steady-workday', 'monorepo-bursts']): Promise<HeadroomPoint[]> {
  const base = JSON.parse(readFileSync(join(__dirname, 'settings.json'), 'utf8')) as Record<string, unknown>;
  const points: HeadroomPoint[] = [];
  for (const name of traces) {
    const trace = parseTrace(readFileSync(join(TRACE_DIR, `${name}.jsonl`), 'utf8'));
    for (const headroom of HEADROOM_SWEEP) {
      const result = await simulate(trace.jobs, { model: resolveModel({}), settingsItem: { ...base, headroom }, policies: [autoscalerPolicy()] });
      const ours = result.policies.autoscaler;
      points.push({ trace: name, headroom, p50WaitSeconds: ours.p50WaitSeconds, p95WaitSeconds: ours.p95WaitSeconds, costUsd: ours.costUsd, costRatioToOracle: ours.costRatioToOracle, busyTerminations: ours.busyTerminations });
    }
  }
  return points;
}

export const SIMULATOR_MODEL_NOTE = `boot ${DEFAULT_MODEL.bootSeconds} s ± ${DEFAULT_MODEL.bootJitterSeconds} s, per-second billing (${DEFAULT_MODEL.minBillingSeconds} s minimum), on-demand ${DEFAULT_MODEL.onDemandPricePerHour} USD/h, spot ${DEFAULT_MODEL.spotPricePerHour} USD/h, webhooks ~${DEFAULT_MODEL.webhookDelaySeconds} s late, reconcile every ${DEFAULT_MODEL.reconcileSeconds / 60} min; faults: ${FAULTS.webhookLossRate! * 100} % of webhooks lost, ${FAULTS.spotInterruptionRatePerHour} spot interruptions per instance-hour`;

if (require.main === module) {
  benchSimulator().then((scenarios) => {
    for (const s of scenarios) {
      const ours = s.policies.autoscaler;
      console.log(`${s.trace} (${s.scenario}): ours p95 ${ours.p95WaitSeconds}s cost ${ours.costUsd} (x${ours.costRatioToOracle} oracle) busy killed ${ours.busyTerminations}; goals ${JSON.stringify(s.goals)}`);
    }
  });
}
