import '../lib/polyfills';
import '../local/esm-interop';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchIngress } from './ingress';
import { benchLambdas } from './lambdas';
import { benchPipeline } from './pipeline';
import { renderBenchmarks, withBenchmarks, type BenchResults } from './render';
import { benchHeadroom, benchSimulator, SIMULATOR_MODEL_NOTE } from './simulator';
import { machineInfo } from './support';

/**
 * npm run bench: the simulator on every sample trace and policy, ingress
 * throughput, the local pipeline under a burst, and every Lambda's bundle
 * size and cold start. Writes bench/results.json and the README's
 * Benchmarks section; `--no-readme` leaves the README alone.
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
  const simulator = await step('simulator', benchSimulator);
  const headroom = await step('headroom sweep', () => benchHeadroom());
  const ingress = await step('ingress', () => benchIngress());
  const pipeline = await step('pipeline (burst)', () => benchPipeline());
  const pipelinePaced = await step('pipeline (paced)', () => benchPipeline({ jobs: 200, paceMs: 50 }));
  const lambdas = await step('lambdas', () => benchLambdas({ rebuild: true }));
  const results: BenchResults = { ranAt: new Date().toISOString(), machine: machineInfo(), simulatorModel: SIMULATOR_MODEL_NOTE, simulator, headroom, ingress, pipeline, pipelinePaced, lambdas };
  writeFileSync(join(root, 'bench', 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const rendered = renderBenchmarks(results);
  if (!process.argv.includes('--no-readme')) {
    const readmePath = join(root, 'README.md');
    writeFileSync(readmePath, withBenchmarks(readFileSync(readmePath, 'utf8'), rendered));
  }
  process.stdout.write(`${rendered}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
