import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../support/tools';
import { describeWithAutoScaler, until } from './support';

/**
 * `npm start` as a user meets it: a separate process in its own process group,
 * stopped with SIGINT sent to the whole group, which is what Ctrl-C in a
 * terminal does. Asserts the banner's URLs answer, the dashboard is served, and
 * that after Ctrl-C every port is freed, the process exits 0 and nothing of the
 * group is left running; and that a taken port is a clear message and exit 1.
 */
const ROOT = join(__dirname, '..', '..');
/**
 * local/main.ts run by Node with tsx's loader, in one process: the `tsx` command adds a parent process
 * that relays signals and SIGKILLs a child that does not acknowledge one within 30 ms (a loaded CI
 * machine can miss that), which would test tsx's launcher rather than our shutdown.
 */
const START = [process.execPath, ['--import', 'tsx', 'local/main.ts']] as const;
const STALL_AFTER_BANNER = join(__dirname, 'stall-after-banner.mjs');

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function launch(command: string, args: string[], env: Record<string, string>): Run {
  const child = spawn(command, args, {
    cwd: ROOT,
    detached: true, // its own process group, like a foreground job in a terminal
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', LOCAL_LOG_LEVEL: 'SILENT', ...env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk) => (out += chunk));
  child.stderr!.on('data', (chunk) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function bannerUrl(banner: string, label: string): string {
  const match = new RegExp(`${label}\\s+(?:POST |GET\\s+)?(http://[^\\s]+)`).exec(banner);
  if (!match) throw new Error(`no ${label} URL in the banner:\n${banner}`);
  return match[1];
}

describeWithAutoScaler('npm start (local/main.ts) as a process', () => {
  let run: Run | undefined;
  afterEach(() => {
    // Only the group this test started, and only if a failed assertion left it running.
    if (run?.child.pid && groupAlive(run.child.pid)) process.kill(-run.child.pid, 'SIGKILL');
    run = undefined;
  });

  it('prints every URL and the secret, serves the dashboard, and on Ctrl-C frees every port and exits 0 with nothing left running', async () => {
    const port = await freePort();
    run = launch(START[0], [...START[1]], { PORT: String(port), WEBHOOK_SECRET: 'main-test-secret' });
    const banner = await until(() => (run!.stdout().includes('Ctrl-C stops everything') ? run!.stdout() : undefined), 'the banner', 30000);

    const dashboard = bannerUrl(banner, 'Dashboard');
    expect(dashboard).toBe(`http://127.0.0.1:${port}/`);
    expect(bannerUrl(banner, 'Webhook')).toBe(`http://127.0.0.1:${port}/webhook`);
    expect(banner).toMatch(/Webhook secret\s+main-test-secret\s+\(from WEBHOOK_SECRET\)/);
    const urls = [dashboard, bannerUrl(banner, 'State'), `${bannerUrl(banner, 'DynamoDB')}/`, `${bannerUrl(banner, 'Simulated GitHub')}/orgs/x/actions/runners`];

    const page = await fetch(dashboard);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('id="chart"');
    const state = (await (await fetch(bannerUrl(banner, 'State'))).json()) as { desiredCapacity: number; floor: number };
    expect(state.desiredCapacity).toBe(state.floor);
    for (const url of urls) expect((await fetch(url)).status).toBeGreaterThan(0);

    process.kill(-run.child.pid!, 'SIGINT'); // Ctrl-C: the whole foreground group gets SIGINT
    const { code, signal } = await run.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toContain('Stopped; all ports freed.');
    expect(run.stderr()).toBe('');
    for (const url of urls) await expect(fetch(url)).rejects.toThrow();
    await until(() => !groupAlive(run!.child.pid!), 'every process of the group to be gone', 5000);
  }, 60000);

  it('one Ctrl-C delivered twice (the group signal plus a launcher relaying it) is one clean stop, exit 0', async () => {
    const port = await freePort();
    // The signals go out as soon as the banner is read; the preload stalls the process right after
    // writing it, as a loaded machine may, so they land before any later statement has run.
    run = launch(START[0], ['--import', STALL_AFTER_BANNER, ...START[1]], { PORT: String(port), STALL_AFTER_BANNER_MS: '500' });
    await until(() => run!.stdout().includes('Ctrl-C stops everything'), 'the banner', 30000);
    process.kill(-run.child.pid!, 'SIGINT');
    process.kill(-run.child.pid!, 'SIGINT');
    const { code, signal } = await run.exited;
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toContain('Stopped; all ports freed.');
    expect(run.stderr()).not.toContain('forced exit');
    await expect(fetch(`http://127.0.0.1:${port}/api/state`)).rejects.toThrow();
  }, 60000);

  it('a taken port: a clear message naming the port and the fix, exit code 1 through npm start, nothing left running', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      run = launch('npm', ['start', '--silent'], { PORT: String(port) });
      const { code } = await run.exited;
      expect(code).toBe(1);
      expect(run.stderr()).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(run.stderr()).toMatch(/--port \(or PORT\)/);
      expect(run.stdout()).not.toContain('Dashboard');
      await until(() => !groupAlive(run!.child.pid!), 'every process of the group to be gone', 5000);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, 60000);
});
