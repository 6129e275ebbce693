import { execFile, spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = join(__dirname, '..', '..', '..');

export interface BuiltBundle {
  /** `<Stack>/<name>`, as in dist/ and scripts/build.mjs's list. */
  key: string;
  file: string;
  bytes: number;
  /** The product's own source files in the bundle (esbuild's metafile inputs outside node_modules), relative to the root. */
  sources: string[];
}

/**
 * Builds every function scripts/build.mjs builds, with its own esbuild options
 * and plugins, into `outdir` (not dist/: other suites read dist/ while this
 * one runs), in one child process.
 */
export async function buildAllBundles(outdir: string): Promise<BuiltBundle[]> {
  const script = `const { build } = await import('esbuild');
    const { lambdaEntries, lambdaBuildOptions } = await import(${JSON.stringify(join(ROOT, 'scripts', 'build.mjs'))});
    const out = [];
    for (const { stack, name, entry } of lambdaEntries()) {
      const file = ${JSON.stringify(outdir)} + '/' + stack + '/' + name + '/index.js';
      const { metafile } = await build(lambdaBuildOptions(entry, file));
      const sources = Object.keys(metafile.inputs).filter((input) => !input.includes('node_modules/') && !input.includes(':'));
      out.push({ key: stack + '/' + name, file, sources });
    }
    console.log(JSON.stringify(out));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: ROOT,
    maxBuffer: 1 << 20,
  });
  const built = JSON.parse(stdout.trim().split('\n').pop()!) as Array<{
    key: string;
    file: string;
    sources: string[];
  }>;
  return built.map((b) => ({ ...b, bytes: statSync(b.file).size }));
}

export interface Invocation {
  /** The handler's resolved value (JSON round-tripped), when it resolved. */
  result?: unknown;
  /** What the handler threw or rejected with: what Lambda reports as errorType / errorMessage. */
  error?: { name: string; message: string; causeName?: string };
  /** Structured (JSON) log lines the function wrote: stdout's, then stderr's. */
  logs: Array<Record<string, unknown>>;
  stdout: string;
  stderr: string;
  ms: number;
}

const MARK = '@@bundle-invocation@@ ';

/**
 * Runs a bundle as the Lambda Node runtime does: a fresh process requires
 * index.js and calls `handler(event, context)` once, with only the
 * environment given (the template's variables plus the runtime's own).
 */
export async function invokeBundle(
  file: string,
  event: unknown,
  env: Record<string, string>,
  timeoutMs = 30000,
): Promise<Invocation> {
  const driver = `
    const mark = ${JSON.stringify(MARK)};
    const context = { functionName: process.env.AWS_LAMBDA_FUNCTION_NAME, awsRequestId: 'bundle-test-request', getRemainingTimeInMillis: () => 30000 };
    const done = (value) => process.stdout.write('\\n' + mark + JSON.stringify(value) + '\\n');
    let event;
    try { event = JSON.parse(require('node:fs').readFileSync(0, 'utf8')); } catch (e) { done({ error: { name: 'DriverError', message: String(e) } }); process.exit(0); }
    Promise.resolve()
      .then(() => require(${JSON.stringify(file)}).handler(event, context))
      .then(
        (result) => done({ result: result === undefined ? null : result }),
        (e) => done({ error: { name: e && e.name, message: e && e.message, causeName: e && e.cause && e.cause.name } }),
      );`;
  const started = Date.now();
  const child = spawn(process.execPath, ['-e', driver], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin.end(JSON.stringify(event));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  const ms = Date.now() - started;
  const lines = stdout.split('\n');
  const marked = lines.find((line) => line.startsWith(MARK));
  if (!marked)
    throw new Error(
      `bundle ${file} gave no result (exit ${code}, ${ms} ms)\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr.slice(-2000)}`,
    );
  const outcome = JSON.parse(marked.slice(MARK.length)) as Pick<Invocation, 'result' | 'error'>;
  const logs: Invocation['logs'] = [];
  // Powertools writes ERROR and WARN lines to stderr, the rest to stdout (CloudWatch gets both).
  for (const line of [...lines, ...stderr.split('\n')]) {
    if (!line.startsWith('{')) continue;
    try {
      logs.push(JSON.parse(line));
    } catch {
      /* not a JSON log line */
    }
  }
  return { ...outcome, logs, stdout, stderr, ms };
}
