import '../lib/polyfills';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_POOL } from '../lib/settings';
import { CliContext, CliError, DEFAULT_STACK_PREFIX, EXIT, type GlobalOptions } from './context';
import { processOutput, type Output } from './output';
import { describeSettingsReference, settingsSet, settingsShow, settingsValidate } from './commands/settings';
import { statusCommand } from './commands/status';
import { doctorCommand } from './commands/doctor';

/**
 * `runner-autoscaler`: the operator CLI. Every command is a function
 * (ctx, out, ...) -> exit code, so tests run them in-process as well as
 * through cli/bin.js.
 */
function url(name: string) {
  return (value: string) => {
    try {
      const parsed = new URL(value);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
      return value.replace(/\/+$/, '');
    } catch {
      throw new InvalidArgumentError(`${name} must be an http(s) URL, got "${value}"`);
    }
  };
}

function nonNegativeInt(name: string) {
  return (value: string) => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return Number(value);
  };
}

function poolName(value: string) {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value)) throw new InvalidArgumentError('pool names are 1..64 of A-Z a-z 0-9 . _ -');
  return value;
}

export interface RunDeps {
  out?: Output;
  fetch?: typeof fetch;
}

export function buildProgram(out: Output, deps: RunDeps, setExit: (code: number) => void): Command {
  const program = new Command()
    .name('runner-autoscaler')
    .description('Operate a runner-autoscaler deployment (or the local mode): edit settings safely, see status, diagnose.')
    .option('--region <region>', 'AWS region (default: the SDK\'s, from AWS_REGION or the profile)')
    .option('--profile <name>', 'AWS shared-config profile')
    .option('--endpoint <url>', 'AWS-compatible endpoint for every AWS call: local mode\'s DynamoDB URL (banner or /api/state), moto_server', url('--endpoint'))
    .option('--stack-prefix <prefix>', 'stacks are <prefix>-infrastructure, <prefix>-autoscaler, <prefix>-runners', DEFAULT_STACK_PREFIX)
    .option('--table <name>', 'DynamoDB table (default: the AutoScaler stack\'s TableName output; local mode: runner-autoscaler-<pool>)')
    .option('--pool <name>', 'pool', poolName, DEFAULT_POOL)
    .option('--local <url>', 'a running local mode (npm start), e.g. http://127.0.0.1:3000: DynamoDB, table, group, runners from its /api/state', url('--local'))
    .option('--github-url <url>', 'GitHub API root (GitHub Enterprise Server, or local mode\'s simulated GitHub)', url('--github-url'))
    .option('--json', 'machine-readable JSON output', false)
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => out.line(s.replace(/\n$/, '')), writeErr: (s) => out.error(s.replace(/\n$/, '')) })
    .exitOverride();

  const context = () => new CliContext(program.opts<GlobalOptions>(), deps.fetch ?? fetch);
  const action =
    <A extends unknown[]>(fn: (ctx: CliContext, ...args: A) => Promise<number>) =>
    async (...args: A) => {
      const ctx = context();
      try {
        setExit(await fn(ctx, ...args));
      } finally {
        ctx.destroy();
      }
    };

  const settings = program
    .command('settings')
    .description('show, change and validate the pool settings stored in DynamoDB (item SETTINGS#<pool>)')
    .addHelpText('after', `\nSettings (allowed range, default):\n${describeSettingsReference()}`);
  settings
    .command('show')
    .description('each setting with the value in use, its default, allowed range and where it came from (item, or fallback when missing/invalid)')
    .action(action((ctx) => settingsShow(ctx, out)));
  settings
    .command('set')
    .description('validate and apply changes: all or nothing, conditional on the version read (no lost update), prints the diff')
    .argument('<key=value...>', 'changes, e.g. floor=2 max=20 labels=self-hosted,linux,arm64')
    .addOption(new Option('--if-version <n>', 'apply only if the item is still at this version (the one you reviewed with `settings show`)').argParser(nonNegativeInt('--if-version')))
    .option('--dry-run', 'validate and print the diff without writing', false)
    .addHelpText('after', `\nExit codes: 0 applied (or nothing to change), 1 invalid change (nothing written), 2 concurrent edit (nothing written), 3 cannot reach the table.\n\nSettings (allowed range, default):\n${describeSettingsReference()}`)
    .action(
      action((ctx, assignments: string[], options: { ifVersion?: number; dryRun: boolean }) =>
        settingsSet(ctx, out, assignments, { ifVersion: options.ifVersion, dryRun: options.dryRun }),
      ),
    );
  settings
    .command('validate')
    .description('exit 1 with one line per problem when the stored item is invalid; prints "valid" otherwise')
    .action(action((ctx) => settingsValidate(ctx, out)));

  program
    .command('status')
    .description('group desired/min/max, instances by market and lifecycle, runners idle/busy/offline, open jobs with age, last decisions, time since the last reconcile')
    .option('--decisions <n>', 'how many recent decisions to show', nonNegativeInt('--decisions'), 5)
    .option('--group <name>', 'Auto Scaling group name (default: the Runners stack output)')
    .option('--github-scope <scope>', 'org:NAME or repo:OWNER/NAME for the runner list (default: from the stacks)')
    .action(action((ctx, options: { decisions: number; group?: string; githubScope?: string }) => statusCommand(ctx, out, options)));

  program
    .command('doctor')
    .description('check the deployment end to end (stacks, SSM parameters, webhook deliveries, group policy, settings, labels vs. rule) and say what to fix')
    .option('--group <name>', 'Auto Scaling group name (default: the Runners stack output)')
    .option('--github-scope <scope>', 'org:NAME or repo:OWNER/NAME (default: from the stacks)')
    .option('--hook-id <id>', 'id of the GitHub webhook whose deliveries to check (default: found by the Infrastructure WebhookUrl)', nonNegativeInt('--hook-id'))
    .option('--template-dir <dir>', 'checkout whose AutoScaler/template.yaml gives the rule pattern when no stack is deployed', '.')
    .addHelpText('after', '\nExit codes: 0 no FAIL (WARNs allowed), 1 at least one FAIL.')
    .action(
      action((ctx, options: { group?: string; githubScope?: string; hookId?: number; templateDir: string }) => doctorCommand(ctx, out, options)),
    );
  return program;
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function run(argv: string[], deps: RunDeps = {}): Promise<number> {
  const out = deps.out ?? processOutput();
  let exitCode: number = EXIT.ok;
  const program = buildProgram(out, deps, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed by commander.
      return error.exitCode === 0 ? EXIT.ok : EXIT.invalid;
    }
    if (error instanceof CliError) {
      out.error(out.colors.red(`error: ${error.message}`));
      return error.exitCode;
    }
    const name = (error as { name?: string }).name ?? 'Error';
    const message = (error as Error).message ?? String(error);
    out.error(out.colors.red(`error: ${name === 'Error' || message.includes(name) ? '' : `${name}: `}${message}`));
    if (/ECONNREFUSED|ENOTFOUND|EAI_AGAIN/.test(message)) out.error('fix: check --endpoint / --local (is `npm start` or moto_server running?) and --region');
    if (/Credentials|ExpiredToken|UnrecognizedClient|InvalidClientTokenId/i.test(`${name} ${(error as Error).message}`)) {
      const profile = program.opts<GlobalOptions>().profile;
      out.error(
        profile
          ? `fix: profile "${profile}" gave no credentials: check it exists in ~/.aws/config (or AWS_CONFIG_FILE) and is logged in (aws sso login --profile ${profile})`
          : 'fix: set AWS credentials (aws sso login, --profile NAME) or point --endpoint at an emulator',
      );
    }
    return EXIT.unreachable;
  }
}
