import { DEFAULT_POOL_LABELS, runnerCanTakeJob } from '../lib/labels';
import { DEFAULT_SETTINGS, resolveSettings, type Settings, type SettingsProblem } from '../lib/settings';
import type { SimModel } from './model';
import { SIMULATED_POLICIES, type SimPolicy } from './policies';
import type { TraceJob } from './trace';
import { World, type Sample } from './world';

/**
 * Runs every policy over one trace and one model and reports, per policy, the
 * figures a platform team weighs: queue wait, instance-hours, cost (and its
 * ratio to the oracle), busy runners killed, API calls.
 */
export interface PolicyResult {
  jobs: number;
  p50WaitSeconds: number;
  p95WaitSeconds: number;
  maxWaitSeconds: number;
  meanWaitSeconds: number;
  instanceHours: number;
  spotInstanceHours: number;
  onDemandInstanceHours: number;
  costUsd: number;
  costRatioToOracle: number;
  busyTerminations: number;
  scaleApiCalls: number;
  githubApiCalls: number;
  /** Jobs GitHub cancelled after the queue timeout (never got a runner). */
  cancelledJobs: number;
  /** Jobs whose runner died under them (a policy's termination or a spot reclaim). */
  failedJobs: number;
  interruptedJobs: number;
  instancesLaunched: number;
  peakInstances: number;
  webhooksLost: number;
  /** Virtual seconds until the last job ended. */
  simulatedSeconds: number;
}

export interface PolicyRun {
  result: PolicyResult;
  samples: Sample[];
}

export interface SimulationResult {
  settings: Settings;
  settingsProblems: SettingsProblem[];
  model: SimModel;
  /** Jobs in the trace whose labels the pool does not serve: no policy runs them. */
  unservedJobs: number;
  policies: Record<string, PolicyResult>;
  samples: Record<string, Sample[]>;
  /** Wall-clock milliseconds the simulation took. */
  elapsedMs: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  // Nearest rank: the smallest value with at least p % of the values at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1];
}

const round = (value: number, digits = 3) => Number(value.toFixed(digits));

function billedHours(seconds: number, model: SimModel): number {
  return Math.max(model.minBillingSeconds, seconds) / 3600;
}

/** Oracle: the floor kept on-demand for the whole span, and every job on its own spot instance started one boot time ahead. */
export function oracleResult(trace: readonly TraceJob[], settings: Settings, model: SimModel): PolicyResult {
  const span = trace.reduce((end, job) => Math.max(end, job.queuedAt + job.durationSeconds), 0);
  const onDemandInstanceHours = span > 0 ? settings.floor * billedHours(span, model) : 0;
  const spotInstanceHours = trace.reduce((sum, job) => sum + billedHours(model.bootSeconds + job.durationSeconds, model), 0);
  const costUsd = onDemandInstanceHours * model.onDemandPricePerHour + spotInstanceHours * model.spotPricePerHour;
  return {
    jobs: trace.length,
    p50WaitSeconds: 0,
    p95WaitSeconds: 0,
    maxWaitSeconds: 0,
    meanWaitSeconds: 0,
    instanceHours: round(onDemandInstanceHours + spotInstanceHours),
    spotInstanceHours: round(spotInstanceHours),
    onDemandInstanceHours: round(onDemandInstanceHours),
    costUsd: round(costUsd, 6),
    costRatioToOracle: 1,
    busyTerminations: 0,
    scaleApiCalls: trace.length,
    githubApiCalls: trace.length,
    cancelledJobs: 0,
    failedJobs: 0,
    interruptedJobs: 0,
    instancesLaunched: trace.length + settings.floor,
    peakInstances: 0,
    webhooksLost: 0,
    simulatedSeconds: round(span, 1),
  };
}

export async function runPolicy(policy: SimPolicy, trace: readonly TraceJob[], settings: Settings, model: SimModel): Promise<PolicyRun> {
  const world = new World(trace, settings, model);
  policy.setup(world, trace);
  await world.run();

  const waits = world.jobs
    .map((job) => (job.startedAt === null ? model.queueTimeoutSeconds * 1000 : job.startedAt - job.queuedAt) / 1000)
    .sort((a, b) => a - b);
  let spot = 0;
  let onDemand = 0;
  for (const record of world.billing.values()) {
    const hours = billedHours(((record.endedAt ?? world.endedAt) - record.launchedAt) / 1000, model);
    if (record.market === 'spot') spot += hours;
    else onDemand += hours;
  }
  const costUsd = spot * model.spotPricePerHour + onDemand * model.onDemandPricePerHour;
  const result: PolicyResult = {
    jobs: world.jobs.length,
    p50WaitSeconds: round(percentile(waits, 50), 1),
    p95WaitSeconds: round(percentile(waits, 95), 1),
    maxWaitSeconds: round(waits.length ? waits[waits.length - 1] : 0, 1),
    meanWaitSeconds: round(waits.length ? waits.reduce((a, b) => a + b, 0) / waits.length : 0, 1),
    instanceHours: round(spot + onDemand, 4),
    spotInstanceHours: round(spot, 4),
    onDemandInstanceHours: round(onDemand, 4),
    costUsd: round(costUsd, 6),
    costRatioToOracle: 0,
    busyTerminations: world.stats.busyTerminations,
    scaleApiCalls: world.stats.scaleApiCalls,
    githubApiCalls: world.github.requestCount,
    cancelledJobs: world.jobs.filter((job) => job.conclusion === 'cancelled').length,
    failedJobs: world.jobs.filter((job) => job.conclusion === 'failure').length,
    interruptedJobs: world.stats.interruptedJobs,
    instancesLaunched: world.stats.instancesLaunched,
    peakInstances: world.stats.peakInstances,
    webhooksLost: world.stats.webhooksLost,
    simulatedSeconds: round(world.endedAt / 1000, 1),
  };
  return { result, samples: world.samples };
}

export interface SimulateOptions {
  /** The settings item as an operator would store it in DynamoDB (validated exactly as the Lambdas do). */
  settingsItem?: Record<string, unknown>;
  model: SimModel;
  policies?: readonly SimPolicy[];
}

export async function simulate(trace: readonly TraceJob[], options: SimulateOptions): Promise<SimulationResult> {
  const started = performance.now();
  const { settings, problems } = resolveSettings(options.settingsItem, DEFAULT_SETTINGS);
  const served = trace.filter((job) => runnerCanTakeJob(DEFAULT_POOL_LABELS, job.labels));
  const oracle = oracleResult(served, settings, options.model);
  const policies: Record<string, PolicyResult> = {};
  const samples: Record<string, Sample[]> = {};
  for (const policy of options.policies ?? SIMULATED_POLICIES.map((make) => make())) {
    const run = await runPolicy(policy, served, settings, options.model);
    run.result.costRatioToOracle = oracle.costUsd > 0 ? round(run.result.costUsd / oracle.costUsd) : 0;
    policies[policy.name] = run.result;
    samples[policy.name] = run.samples;
  }
  policies.oracle = oracle;
  return {
    settings,
    settingsProblems: problems,
    model: options.model,
    unservedJobs: trace.length - served.length,
    policies,
    samples,
    elapsedMs: Math.round(performance.now() - started),
  };
}
