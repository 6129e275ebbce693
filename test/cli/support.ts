import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { run } from '../../cli/main';
import { memoryOutput } from '../../cli/output';

export const BIN = join(__dirname, '..', '..', 'cli', 'bin.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI in this process, exactly as bin.js runs it, with output captured. */
export async function cli(args: string[], fetchImpl?: typeof fetch): Promise<CliResult> {
  const out = memoryOutput();
  const code = await run(args, { out, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
  return { code, stdout: out.lines.join('\n'), stderr: out.errors.join('\n') };
}

/** The CLI as an operator runs it: `node cli/bin.js ...`, piped (so no colour, no spinner). */
export function cliProcess(args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000, env: { ...process.env, NO_COLOR: '1', AWS_EC2_METADATA_DISABLED: 'true' } }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
