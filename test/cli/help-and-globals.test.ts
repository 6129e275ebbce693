import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../cli/main';
import { memoryOutput } from '../../cli/output';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { cli, cliProcess } from './support';

/** Every command path of the real program, found by walking it (so a new subcommand is covered without editing this test). */
function commandPaths(): string[][] {
  const program = buildProgram(memoryOutput(), {}, () => undefined);
  const paths: string[][] = [[]];
  const walk = (command: Command, prefix: string[]) => {
    for (const sub of command.commands) {
      const path = [...prefix, sub.name()];
      paths.push(path);
      walk(sub, path);
    }
  };
  walk(program, []);
  return paths;
}

describe('--help', () => {
  const paths = commandPaths();

  it('covers the documented commands', () => {
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining(['', 'settings', 'settings show', 'settings set', 'settings validate', 'status', 'doctor']),
    );
  });

  it.each(paths.map((path) => [path.join(' ') || '(top level)', path] as const))('%s --help: exit 0 with its usage and options', async (_name, path) => {
    const result = await cli([...path, '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: runner-autoscaler${path.length ? ' ' + path.join(' ') : ''}`);
    expect(result.stdout).toMatch(/Options:/);
    expect(result.stdout).toMatch(/-h, --help/);
  });

  it('the top level lists the global options the operator guide documents', async () => {
    const { stdout } = await cli(['--help']);
    for (const option of ['--region <region>', '--profile <name>', '--endpoint <url>', '--stack-prefix <prefix>', '--table <name>', '--pool <name>', '--local <url>', '--github-url <url>', '--json']) {
      expect(stdout).toContain(option);
    }
  });

  it('through the real binary (node cli/bin.js), piped', async () => {
    const result = await cliProcess(['doctor', '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: runner-autoscaler doctor \[options\]/);
    expect(result.stdout).not.toMatch(/\u001b\[/); // no colour codes when piped
  });

  it('an unknown subcommand or option is a usage error (exit 1), not a crash', async () => {
    expect((await cli(['settngs'])).code).toBe(1);
    expect((await cli(['status', '--no-such-option'])).code).toBe(1);
    expect((await cli(['--endpoint', 'not a url', 'status'])).code).toBe(1);
  });
});

describe('--profile and global options after the subcommand', () => {
  let dynamo: LocalDynamo;
  let dir: string;
  const saved = { config: process.env.AWS_CONFIG_FILE, credentials: process.env.AWS_SHARED_CREDENTIALS_FILE };

  beforeAll(async () => {
    dynamo = await startDynalite();
    dir = mkdtempSync(join(tmpdir(), 'cli-profile-'));
    writeFileSync(join(dir, 'config'), '[profile ops]\nregion = eu-west-1\n');
    writeFileSync(join(dir, 'credentials'), '[ops]\naws_access_key_id = opskey\naws_secret_access_key = opssecret\n');
    process.env.AWS_CONFIG_FILE = join(dir, 'config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = join(dir, 'credentials');
  });
  afterAll(async () => {
    if (saved.config === undefined) delete process.env.AWS_CONFIG_FILE;
    else process.env.AWS_CONFIG_FILE = saved.config;
    if (saved.credentials === undefined) delete process.env.AWS_SHARED_CREDENTIALS_FILE;
    else process.env.AWS_SHARED_CREDENTIALS_FILE = saved.credentials;
    rmSync(dir, { recursive: true, force: true });
    await dynamo.stop();
  });

  it('uses the named profile\'s credentials, and a profile that does not exist is an error naming it', async () => {
    const table = await dynamo.createTable();
    const ok = await cli(['settings', 'show', '--profile', 'ops', '--endpoint', dynamo.endpoint, '--table', table, '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).settings.length).toBeGreaterThan(0);

    const missing = await cli(['settings', 'show', '--profile', 'no-such-profile', '--endpoint', dynamo.endpoint, '--table', table]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no-such-profile/);
  });
});
