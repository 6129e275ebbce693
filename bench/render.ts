import type { IngressResult } from './ingress';
import type { LambdasResult } from './lambdas';
import type { OrgScaleBench } from './org-scale';
import type { PipelineResult } from './pipeline';
import type { HeadroomPoint, SimulatorScenario } from './simulator';
import type { MachineInfo } from './support';

/**
 * bench/results.json as the README's Benchmarks section. `npm run bench`
 * writes both; test/readme.test.ts checks that the README shows exactly what
 * the results file says.
 */
export interface BenchResults {
  ranAt: string;
  machine: MachineInfo;
  simulatorModel: string;
  simulator: SimulatorScenario[];
  headroom: HeadroomPoint[];
  ingress: IngressResult;
  pipeline: PipelineResult;
  /** The same path with one delivery every paceMs: its own latency, without a queue of executions ahead. */
  pipelinePaced: PipelineResult;
  lambdas: LambdasResult;
  /** The reconcile at organisation scale (bench/org-scale.ts); absent in results written before it existed. */
  orgScale?: OrgScaleBench;
}

export const README_START = '<!-- bench:start (npm run bench writes this section from bench/results.json) -->';
export const README_END = '<!-- bench:end -->';

const mark = (ok: boolean | null) => (ok === null ? 'n/a' : ok ? 'yes' : '**no**');

export function renderBenchmarks(results: BenchResults): string {
  const { machine } = results;
  const lines: string[] = [
    `Latest \`npm run bench\` (${results.ranAt.slice(0, 10)}) on ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}; raw figures in [bench/results.json](bench/results.json).`,
    '',
    '### Simulator: wait and cost by policy',
    '',
    `Sample traces in [bench/traces/](bench/traces/) (\`npm run trace:generate\`), settings [bench/settings.json](bench/settings.json), model: ${results.simulatorModel}. ` +
      'Wait is queued → started; cost ÷ oracle compares with starting an instance exactly one boot time before each job (the oracle keeps the floor idle, so a policy whose floor absorbs jobs can come in under 1).',
    '',
    '| trace | scenario | policy | p50 wait s | p95 wait s | max wait s | cost USD | cost ÷ oracle | busy killed | failed jobs | cancelled | scaling calls | GitHub calls |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const scenario of results.simulator) {
    for (const [policy, r] of Object.entries(scenario.policies)) {
      if (policy === 'oracle' && scenario.scenario === 'faults') continue;
      const name = policy === 'autoscaler' ? '**autoscaler**' : policy;
      lines.push(
        `| ${scenario.trace} (${scenario.jobs}) | ${scenario.scenario} | ${name} | ${r.p50WaitSeconds} | ${r.p95WaitSeconds} | ${r.maxWaitSeconds} | ${r.costUsd.toFixed(2)} | ${r.costRatioToOracle.toFixed(2)} | ${r.busyTerminations} | ${r.failedJobs} | ${r.cancelledJobs} | ${r.scaleApiCalls} | ${r.githubApiCalls} |`,
      );
    }
  }
  lines.push('', 'Goals for ours (`autoscaler`):', '', '| trace | scenario | not dominated | cost ≤ 1.25 × oracle | p95 ≤ boot + 10 s | 0 busy killed |', '|---|---|---|---|---|---|');
  for (const s of results.simulator) {
    lines.push(`| ${s.trace} | ${s.scenario} | ${s.goals.notDominated ? 'yes' : `**no** (${s.goals.dominatedBy.join(', ')})`} | ${mark(s.goals.costWithin125PercentOfOracle)} | ${mark(s.goals.p95WithinBootPlus10s)} | ${mark(s.goals.zeroBusyTerminations)} |`);
  }
  lines.push(
    '',
    '### Headroom: trading a little cost for no wait',
    '',
    'Our policy alone, same model, `headroom` idle runners kept ready above demand (a setting in DynamoDB):',
    '',
    '| trace | headroom | p50 wait s | p95 wait s | cost USD | cost ÷ oracle | busy killed |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...results.headroom.map((p) => `| ${p.trace} | ${p.headroom} | ${p.p50WaitSeconds} | ${p.p95WaitSeconds} | ${p.costUsd.toFixed(2)} | ${p.costRatioToOracle.toFixed(2)} | ${p.busyTerminations} |`),
  );
  const { ingress, pipeline, pipelinePaced: paced, lambdas } = results;
  lines.push(
    '',
    '### Ingress, pipeline, Lambdas',
    '',
    '| measure | result | goal | met |',
    '|---|---|---|---|',
    `| ingress: signed \`workflow_job\` webhooks through the real handler, ${ingress.concurrency} keep-alive clients | ${Math.round(ingress.requestsPerSecond)} /s; handler p50 ${ingress.handlerLatencyMs.p50} ms, p99 ${ingress.handlerLatencyMs.p99} ms; ${ingress.errors} errors | ≥ ${ingress.goal.requestsPerSecond} /s | ${mark(ingress.goal.met)} |`,
    `| pipeline: ${pipeline.jobs} queued webhooks in a burst against the local stack, webhook accepted → covering SetDesiredCapacity | p50 ${pipeline.acceptedToScalingMs.p50} ms, p99 ${pipeline.acceptedToScalingMs.p99} ms | p99 < ${pipeline.goal.p99Ms} ms | ${mark(pipeline.goal.met)} |`,
    `| pipeline: desired capacity settled | ${pipeline.finalDesired} after ${(pipeline.settleMs / 1000).toFixed(1)} s, ${pipeline.setDesiredCalls} SetDesiredCapacity calls | ${pipeline.jobs} | ${mark(pipeline.settled && pipeline.finalDesired >= pipeline.jobs)} |`,
    `| pipeline, paced: ${paced.jobs} queued webhooks, one every ${paced.paceMs} ms, webhook accepted → covering SetDesiredCapacity | p50 ${paced.acceptedToScalingMs.p50} ms, p99 ${paced.acceptedToScalingMs.p99} ms | (no goal) | n/a |`,
    `| pipeline, burst: DynamoDB calls per delivery (all steps) | ${pipeline.dynamodb.callsPerDelivery} (${Object.entries(pipeline.dynamodb.byOperation).map(([op, n]) => `${op} ${n}`).join(', ')}) | (no goal) | n/a |`,
    `| pipeline, burst: floor under p99 in one process (99 % of the jobs × ${pipeline.dynamodb.recordCallsPerJob} recording calls × ${pipeline.dynamodb.serialCallMs} ms per dynalite call, one at a time) | ${(pipeline.dynamodb.recordFloorP99Ms / 1000).toFixed(1)} s | (bounds the goal above) | n/a |`,
    '',
    `Lambda bundles (esbuild, minified, node22) and cold initialisation (a fresh \`node\` requiring the bundle, median of runs; a bare \`node\` start, ${lambdas.nodeStartupMs} ms, not included):`,
    '',
    `| function | bundle KB | own code KB | libraries KB | largest libraries KB | cold init ms | < ${Math.round(lambdas.goals.maxBytes / 1024)} KB | < ${lambdas.goals.maxColdInitMs} ms |`,
    '|---|---:|---:|---:|---|---:|---|---|',
    ...lambdas.functions.map(
      (f) =>
        `| ${f.function} | ${f.kb} | ${f.ownKb} | ${f.libraryKb} | ${f.largestLibraries.map((l) => `${l.name} ${l.kb}`).join(', ')} | ${f.coldInitMs} | ${mark(f.underSizeGoal)} | ${mark(f.underInitGoal)} |`,
    ),
  );
  if (results.orgScale) lines.push('', ...renderOrgScale(results.orgScale));
  return lines.join('\n');
}

function renderOrgScale(r: OrgScaleBench): string[] {
  return [
    '### Reconcile at organisation scale',
    '',
    `Measured ${r.measuredAt.slice(0, 10)}. One Reconcile step (the real step and GitHub adapter against the simulated GitHub at ${r.latencyMs} ms per request, simulated time; bench/org-scale.ts): ${r.case}. ` +
      `Budgets of the search for queued jobs: ${r.budget.seconds} s, ${r.budget.calls} GitHub calls, ${r.budget.concurrency} at a time.`,
    '',
    '| measure | result | goal | met |',
    '|---|---|---|---|',
    `| search for queued jobs (simulated) | ${r.searchSeconds} s | < ${r.budget.seconds} s | ${mark(r.searchSeconds < r.budget.seconds)} |`,
    `| whole Reconcile step (simulated) | ${r.reconcileSeconds} s (wall ${r.wallSeconds} s), ${r.outcome} | < ${r.lambdaTimeoutSeconds} s (its Lambda timeout) | ${mark(r.outcome === 'succeeded' && r.reconcileSeconds < r.lambdaTimeoutSeconds)} |`,
    `| GitHub calls per reconcile | ${r.githubCalls} | ≤ ${r.budget.calls} + 10 | ${mark(r.githubCalls <= r.budget.calls + 10)} |`,
    `| queued jobs found | ${r.queuedFound} of ${r.queuedJobs} (${r.addedJobs} added to the ledger), search ${r.complete ? 'complete' : '**partial**'} | all | ${mark(r.queuedFound === r.queuedJobs)} |`,
  ];
}

/** Replaces the generated part of the README's Benchmarks section. */
export function withBenchmarks(readme: string, rendered: string): string {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${README_START} ... ${README_END} block`);
  return `${readme.slice(0, start + README_START.length)}\n${rendered}\n${readme.slice(end)}`;
}
