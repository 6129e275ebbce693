import '../lib/polyfills';
import '../local/esm-interop';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchIngress } from './ingress';
import { benchLambdas } from './lambdas';
import { benchPipeline } from './pipeline';
import { renderBenchmarks, withBenchmarks, type BenchResults } from './render';
import { benchHeadroom, benchSimulator, SIMULATOR_MODEL_NOTE } from './simulator';
import { benchOrgScale } from './org-scale';
import { machineInfo } from './support';

/**
 * npm run bench: the simulator on every sample trace and policy, ingress
 * throughput, the local pipeline under a burst, and every Lambda's bundle
 * size and cold start, the reconcile at organisation scale. Writes
 * bench/results.json and the README's Benchmarks section; `--no-readme`
 * leaves the README alone; `--only org-scale` runs that section alone and
 * keeps the other figures of bench/results.json.
 */
async function main(): Promise<void> {
  const root = join(__dirname, '..');
  const step = async <T>(name: string, run: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    process.stderr.write(`bench: ${name}...\n`);
    const result = await run();
    process.stderr.write(`bench: ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return result;
  };
  const resultsPath = join(root, 'bench', 'results.json');
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;
  if (only !== undefined && only !== 'org-scale') throw new Error(`--only: unknown section "${only}" (known: org-scale)`);
  const results = only
    ? { ...(JSON.parse(readFileSync(resultsPath, 'utf8')) as BenchResults), orgScale: await step('reconcile at organisation scale', benchOrgScale) }
    : await runAll(step);
  writeFileSync(resultsPath, `${JSON.stringify(results, null, 2)}\n`);
  const rendered = renderBenchmarks(results);
  if (!process.argv.includes('--no-readme')) {
    const readmePath = join(root, 'README.md');
    writeFileSync(readmePath, withBenchmarks(readFileSync(readmePath, 'utf8'), rendered));
  }
  process.stdout.write(`${rendered}\n`);
}

async function runAll(step: <T>(name: string, run: () => Promise<T>) => Promise<T>): Promise<BenchResults> {
  const simulator = await step('simulator', benchSimulator);
  const headroom = await step('headroom sweep', () => benchHeadroom());
  const ingress = await step('ingress', () => benchIngress());
  const pipeline = await step('pipeline (burst)', () => benchPipeline());
  const pipelinePaced = await step('pipeline (paced)', () => benchPipeline({ jobs: 200, paceMs: 50 }));
  const lambdas = await step('lambdas', () => benchLambdas({ rebuild: true }));
  const orgScale = await step('reconcile at organisation scale', benchOrgScale);
  return { ranAt: new Date().toISOString(), machine: machineInfo(), simulatorModel: SIMULATOR_MODEL_NOTE, simulator, headroom, ingress, pipeline, pipelinePaced, lambdas, orgScale };
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
