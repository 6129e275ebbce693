import '../lib/polyfills';
import { Command, InvalidArgumentError } from 'commander';
import pc from 'picocolors';

/**
 * `npm run demo`: plays a realistic burst against a running `npm start`:
 * waves of jobs with mixed durations, plus a few with labels the pool does not
 * serve (they must start nothing), and prints the fleet as it scales out and in.
 */
interface Wave {
  atSeconds: number;
  labels: string[];
  durationSeconds: number;
  count: number;
  note: string;
}

const POOL_LABELS = ['self-hosted', 'linux', 'x64'];

export const DEMO_WAVES: Wave[] = [
  { atSeconds: 0, labels: POOL_LABELS, durationSeconds: 25, count: 4, note: 'a push: 4 build jobs' },
  { atSeconds: 3, labels: ['self-hosted', 'linux'], durationSeconds: 12, count: 3, note: '3 lint jobs (a subset of the pool labels)' },
  { atSeconds: 6, labels: ['self-hosted', 'linux', 'gpu'], durationSeconds: 20, count: 2, note: '2 GPU jobs: not served by this pool' },
  { atSeconds: 10, labels: POOL_LABELS, durationSeconds: 40, count: 6, note: 'a merge train: 6 long test jobs' },
  { atSeconds: 18, labels: ['windows'], durationSeconds: 10, count: 1, note: '1 Windows job: not served' },
  { atSeconds: 24, labels: POOL_LABELS, durationSeconds: 8, count: 5, note: '5 quick checks' },
];

interface State {
  desiredCapacity: number;
  floor: number;
  max: number;
  instances: Array<{ status: string; market: string }>;
  jobs: { queued: number; inProgress: number; completed: number };
  decisions: Array<{ time: string; action: string; reason: string | null; trigger: string; current: number | null; desired: number | null }>;
  settings: { scaleInCooldownSeconds: number };
}

async function getState(base: string): Promise<State> {
  const response = await fetch(`${base}/api/state`);
  if (!response.ok) throw new Error(`GET /api/state answered ${response.status}`);
  return (await response.json()) as State;
}

function line(state: State, elapsed: number): string {
  const count = (s: string) => state.instances.filter((i) => i.status === s).length;
  const spot = state.instances.filter((i) => i.market === 'spot').length;
  const bar = '█'.repeat(state.desiredCapacity) + pc.dim('·'.repeat(Math.max(0, state.max - state.desiredCapacity)));
  return [
    pc.dim(`${String(elapsed).padStart(4)}s`),
    `desired ${pc.bold(String(state.desiredCapacity).padStart(2))}/${state.max} ${bar}`,
    `busy ${pc.red(String(count('busy')).padStart(2))}`,
    `idle ${pc.green(String(count('idle')).padStart(2))}`,
    `booting ${pc.cyan(String(count('booting')).padStart(2))}`,
    `spot ${String(spot).padStart(2)}`,
    `jobs q ${pc.yellow(String(state.jobs.queued).padStart(2))} run ${String(state.jobs.inProgress).padStart(2)} done ${String(state.jobs.completed).padStart(3)}`,
  ].join('  ');
}

async function main(): Promise<void> {
  const program = new Command()
    .name('npm run demo --')
    .option('--url <url>', 'base URL of the running local stack', 'http://127.0.0.1:3000')
    .option('--speed <factor>', 'job durations are divided by this', (v) => {
      const n = Number(v);
      if (!(n > 0 && n <= 100)) throw new InvalidArgumentError('--speed must be a number in (0, 100]');
      return n;
    }, 1)
    .option('--max-seconds <s>', 'stop watching after this long', (v) => Number(v), 300)
    .parse();
  const { url, speed, maxSeconds } = program.opts<{ url: string; speed: number; maxSeconds: number }>();
  const base = url.replace(/\/+$/, '');

  let initial: State;
  try {
    initial = await getState(base);
  } catch (error) {
    console.error(pc.red(`Cannot reach the local stack at ${base} (${(error as Error).message}). Start it first: npm start`));
    process.exit(1);
  }
  console.log(pc.bold(`Demo against ${base}: floor ${initial.floor}, max ${initial.max}, scale-in cooldown ${initial.settings.scaleInCooldownSeconds}s`));
  console.log(pc.dim(`Watch the dashboard at ${base}/ while this runs.\n`));

  const started = Date.now();
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  const pending = [...DEMO_WAVES];
  let lastDecision = initial.decisions[0]?.time ?? '';
  let sawScaleOut = false;
  const baselineCompleted = initial.jobs.completed;
  const servedTotal = DEMO_WAVES.filter((w) => !w.labels.includes('gpu') && !w.labels.includes('windows')).reduce((n, w) => n + w.count, 0);

  for (;;) {
    while (pending.length > 0 && pending[0].atSeconds * 1000 <= Date.now() - started) {
      const wave = pending.shift()!;
      const response = await fetch(`${base}/sim/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ labels: wave.labels, durationSeconds: wave.durationSeconds / speed, count: wave.count }),
      });
      console.log(pc.magenta(`  → ${wave.note} [${wave.labels.join(', ')}] ${response.status === 201 ? '' : pc.red(`HTTP ${response.status}`)}`));
    }
    const state = await getState(base);
    console.log(line(state, elapsed()));
    // Scaling actions since the last poll (the log holds every execution, newest first).
    const fresh = state.decisions.filter((d) => d.time > lastDecision && d.action !== 'none').reverse();
    if (state.decisions[0]) lastDecision = state.decisions[0].time > lastDecision ? state.decisions[0].time : lastDecision;
    for (const decision of fresh) {
      if (decision.action === 'scale_out') sawScaleOut = true;
      const colour = decision.action === 'scale_out' ? pc.green : pc.red;
      console.log(colour(`        ${decision.action.replace('_', ' ')} ${decision.current} → ${decision.desired}: ${decision.reason ?? ''} (on ${decision.trigger})`));
    }
    const done = pending.length === 0 && state.jobs.completed - baselineCompleted >= servedTotal;
    if (done && state.desiredCapacity <= state.floor) {
      console.log(pc.green(`\nAll ${servedTotal} served jobs ran; the unserved ones are still queued (no pool serves them); the fleet is back at its floor of ${state.floor}.`));
      break;
    }
    if (elapsed() > maxSeconds) {
      console.log(pc.yellow(`\nStopped watching after ${maxSeconds}s${done ? ' (jobs done; scale-in waits for the cooldown and the next reconcile)' : ''}.`));
      break;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  if (!sawScaleOut) console.log(pc.yellow('No scale-out decision was seen: check the dashboard decision log.'));
}

void main().catch((error) => {
  console.error(pc.red(String(error instanceof Error ? error.message : error)));
  process.exit(1);
});
