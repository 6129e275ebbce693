import '../lib/polyfills';
import './esm-interop';
import { Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';
import { ConfigError } from '../lib/config';
import { loadLocalEnv } from './config';
import { PortInUseError, startLocalStack, type LocalStack } from './stack';

/** `npm start`: the whole pipeline on this machine (see docs/local-mode.md). */
function number(name: string, min: number, max: number) {
  return (value: string) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed < min || parsed > max) throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return parsed;
  };
}

function banner(stack: LocalStack, options: { bootSeconds: number; reconcileSeconds: number; dataDir?: string; secretFromEnv: boolean }): string {
  const line = (label: string, value: string) => `  ${pc.dim(label.padEnd(16))} ${value}`;
  return [
    '',
    pc.bold('runner-autoscaler — local mode'),
    '',
    line('Dashboard', pc.cyan(stack.urls.dashboard)),
    line('Webhook', `POST ${stack.urls.webhook}`),
    line('State', `GET  ${stack.urls.state}`),
    line('Queue jobs', `POST ${stack.urls.simJobs}  {"labels":["self-hosted","linux","x64"],"durationSeconds":30,"count":5}`),
    line('DynamoDB', `${stack.urls.dynamodb}  (table ${stack.tableName}${options.dataDir ? `, data in ${options.dataDir}` : ', in memory'})`),
    line('Simulated GitHub', stack.urls.github),
    line('Webhook secret', `${stack.webhookSecret}  ${pc.dim(options.secretFromEnv ? '(from WEBHOOK_SECRET)' : '(generated; set WEBHOOK_SECRET to choose one)')}`),
    line('Pool', `${stack.pool}  (instances boot in ${options.bootSeconds} s, reconcile every ${options.reconcileSeconds} s)`),
    ...(stack.provisioned.length ? [line('AWS endpoint', `created: ${stack.provisioned.join('; ')}`)] : []),
    '',
    `  Try: ${pc.bold('npm run demo')} in another terminal. Ctrl-C stops everything.`,
    '',
  ].join('\n');
}

// Under Node 20 the AWS SDK warns on every start that it will need Node 22; that is the README's requirement
// already (an older Node gets EBADENGINE from npm ci), so keep the banner readable.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const name = typeof warning === 'string' ? String((rest[0] as { type?: string } | string | undefined) ?? '') : warning.name;
  if (/NodeVersionSupportWarning/.test(name) || /NodeVersionSupportWarning/.test(String(warning))) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

async function main(): Promise<void> {
  let env;
  try {
    env = loadLocalEnv();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(pc.red(error.message));
      process.exit(2);
    }
    throw error;
  }
  const program = new Command()
    .name('npm start --')
    .description('Run the autoscaler pipeline locally: webhook, event bus, state machine, DynamoDB, simulated fleet and GitHub.')
    .option('--port <port>', 'HTTP port (env PORT)', number('--port', 0, 65535), env.PORT ?? 3000)
    .option('--boot-seconds <s>', 'seconds from launch until an instance has a registered runner', number('--boot-seconds', 0, 3600), 10)
    .option('--reconcile-seconds <s>', 'period of the schedule rule (the reconcile)', number('--reconcile-seconds', 1, 3600), 30)
    .option('--data-dir <dir>', 'keep DynamoDB data in this directory (default: in memory)')
    .option('--aws-endpoint <url>', 'use real AWS adapters against this endpoint, e.g. moto_server (env AWS_ENDPOINT_URL)', env.AWS_ENDPOINT_URL)
    .option('--pool <name>', 'pool name', 'default')
    .parse();
  const options = program.opts<{ port: number; bootSeconds: number; reconcileSeconds: number; dataDir?: string; awsEndpoint?: string; pool: string }>();

  // The signal handlers go in before anything is started or printed. Node installs its own SIGINT
  // handler only once a listener exists; before that a Ctrl-C kills the process by the default action
  // (no clean stop, the ports of a half-started stack left to the kernel). They used to go in after the
  // banner, so a Ctrl-C sent as soon as the banner appeared (a user, a script, the test) killed the
  // process whenever it was descheduled between the banner's write and the next statement.
  // A launcher may deliver one Ctrl-C twice: the terminal signals the whole process group, and tsx's
  // parent process relays the signal to this one again when this process is slow to acknowledge it.
  // A repeat within DUPLICATE_SIGNAL_MS is that same Ctrl-C; a later one forces the exit.
  const DUPLICATE_SIGNAL_MS = 2000;
  let stoppingSince: number | undefined;
  let stack: LocalStack | undefined;
  const stop = (running: LocalStack) =>
    void running.stop().then(() => {
      console.log('Stopped; all ports freed.');
      process.exit(0);
    });
  const shutdown = (signal: string) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < DUPLICATE_SIGNAL_MS) return;
      console.error('Stopping already; forced exit.');
      process.exit(130);
    }
    stoppingSince = Date.now();
    console.log(`\n${signal}: stopping (finishing running executions; Ctrl-C again to force)...`);
    const force = setTimeout(() => {
      console.error('Shutdown took longer than 10 s; exiting.');
      process.exit(1);
    }, 10000);
    force.unref();
    // Still starting: the start below stops the stack as soon as it is up.
    if (stack) stop(stack);
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  try {
    stack = await startLocalStack({
      port: options.port,
      bootSeconds: options.bootSeconds,
      reconcileSeconds: options.reconcileSeconds,
      dataDir: options.dataDir,
      awsEndpoint: options.awsEndpoint,
      webhookSecret: env.WEBHOOK_SECRET,
      pool: options.pool,
      logLevel: env.LOCAL_LOG_LEVEL ?? 'WARN',
    });
  } catch (error) {
    console.error(pc.red(`Could not start: ${(error as Error).message}`));
    process.exit(1);
  }
  if (stoppingSince !== undefined) return stop(stack);
  console.log(banner(stack, { ...options, secretFromEnv: env.WEBHOOK_SECRET !== undefined }));
}

void main().catch((error: unknown) => {
  if (error instanceof PortInUseError) console.error(pc.red(error.message));
  else console.error(pc.red(`Unexpected failure: ${error instanceof Error ? error.stack : String(error)}`));
  process.exit(1);
});
