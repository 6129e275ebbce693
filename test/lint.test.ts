import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** `npm run lint` is part of the suite, so CI refuses code the linter refuses (eslint.config.mjs). */
it('eslint reports no problem anywhere in the repository', async () => {
  const root = join(__dirname, '..');
  const eslint = join(root, 'node_modules', 'eslint', 'bin', 'eslint.js');
  const result: { stdout?: string; stderr?: string; code?: number } = await promisify(execFile)(process.execPath, [eslint, '--max-warnings', '0', '.'], { cwd: root }).catch((error) => error);
  // The report itself is the failure message: every problem with its file and line.
  expect(`${result.stdout ?? ''}${result.stderr ?? ''}`.trim()).toBe('');
  expect(result.code ?? 0).toBe(0);
}, 120_000);

/** `npm run typecheck` too: jest's swc transform strips types without checking them. */
it('tsc reports no type error anywhere in the project', async () => {
  const root = join(__dirname, '..');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result: { stdout?: string; stderr?: string; code?: number } = await promisify(execFile)(process.execPath, [tsc, '-p', '.'], { cwd: root }).catch((error) => error);
  expect(`${result.stdout ?? ''}${result.stderr ?? ''}`.trim()).toBe('');
  expect(result.code ?? 0).toBe(0);
}, 180_000);
