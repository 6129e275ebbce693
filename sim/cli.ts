import '../lib/polyfills';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_MODEL, MODEL_FLAGS, resolveModel, type SimModel } from './model';
import { chartSvg, markdownTable, reportMarkdown } from './report';
import { simulate } from './simulate';
import { parseTrace } from './trace';

/**
 * npm run simulate -- --trace FILE [--settings FILE] [--json] [--out DIR] [model flags]
 * Replays a workload in virtual time through the real decision code and
 * compares the policies. Exit 2 on bad input (nothing is simulated).
 */
const number = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new InvalidArgumentError(`"${value}" is not a number`);
  return parsed;
};


function camel(flag: string): string {
  return flag.replace(/^--/, '').split(' ')[0].replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('simulate')
    .description('Replay a workload trace through the real scaling decision code and compare policies')
    .requiredOption('--trace <file>', 'JSON Lines trace: {"id","queuedAt","durationSeconds","labels"} per line')
    .option('--settings <file>', 'pool settings as stored in DynamoDB (JSON), validated as the Lambdas do')
    .option('--json', 'print one JSON object {"policies": {...}}')
    .option('--out <dir>', 'write report.md and one SVG chart per policy')
    .exitOverride();
  for (const { flag, key, help } of MODEL_FLAGS) program.option(flag, `${help} (default ${DEFAULT_MODEL[key]})`, number);
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode ?? 2;
    return code === 0 ? 0 : 2;
  }
  const options = program.opts();

  const overrides: Partial<Record<keyof SimModel, unknown>> = {};
  for (const { flag, key } of MODEL_FLAGS) if (options[camel(flag)] !== undefined) overrides[key] = options[camel(flag)];
  let model: SimModel;
  let settingsItem: Record<string, unknown> | undefined;
  let text: string;
  try {
    model = resolveModel(overrides);
    text = readFileSync(options.trace, 'utf8');
    if (options.settings) {
      const parsed: unknown = JSON.parse(readFileSync(options.settings, 'utf8'));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`${options.settings}: settings must be a JSON object`);
      settingsItem = parsed as Record<string, unknown>;
    }
  } catch (error) {
    process.stderr.write(`simulate: ${(error as Error).message}\n`);
    return 2;
  }

  const trace = parseTrace(text);
  for (const problem of trace.problems) process.stderr.write(`${options.trace}:${problem.line}: skipped: ${problem.message}\n`);
  if (trace.jobs.length === 0) {
    process.stderr.write(`simulate: ${options.trace} has no valid jobs\n`);
    return 2;
  }

  const result = await simulate(trace.jobs, { model, settingsItem });
  for (const problem of result.settingsProblems) process.stderr.write(`settings: ${problem.message} (using the fallback, as the Lambdas would)\n`);

  if (options.out) {
    mkdirSync(options.out, { recursive: true });
    const charts: Record<string, string> = {};
    for (const [policy, samples] of Object.entries(result.samples)) {
      const file = `${policy}.svg`;
      writeFileSync(join(options.out, file), chartSvg(`${basename(options.trace)}: ${policy}`, samples));
      charts[policy] = file;
    }
    writeFileSync(join(options.out, 'report.md'), reportMarkdown(basename(options.trace), result, charts));
  }

  if (options.json) {
    process.stdout.write(`${JSON.stringify({ trace: options.trace, skippedLines: trace.problems.length, unservedJobs: result.unservedJobs, settings: result.settings, model, policies: result.policies })}\n`);
  } else {
    process.stdout.write(`${basename(options.trace)}: ${trace.jobs.length} jobs, simulated in ${result.elapsedMs} ms\n\n${markdownTable(result.policies)}\n`);
    if (options.out) process.stdout.write(`\nreport: ${join(options.out, 'report.md')}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`simulate: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
