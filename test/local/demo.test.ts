import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { describeWithAutoScaler, getState } from './support';

/**
 * `npm run demo` against a running local stack, as the README's Quick start
 * tells users to run it: it must scale the fleet out, run every served job,
 * leave the unserved ones alone and see the fleet back at its floor.
 */
const ROOT = join(__dirname, '..', '..');

describeWithAutoScaler('npm run demo (local/demo.ts) against a running local stack', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      bootSeconds: 0.5,
      reconcileSeconds: 2,
      logLevel: 'SILENT',
      settings: { scaleInCooldownSeconds: 2 },
    });
  }, 60000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('scales out for the served waves, runs them all, starts nothing for the unserved ones, and ends at the floor', async () => {
    const base = stack.urls.dashboard.replace(/\/$/, '');
    const { stdout } = await promisify(execFile)(join(ROOT, 'node_modules', '.bin', 'tsx'), ['local/demo.ts', '--url', base, '--speed', '10', '--max-seconds', '90'], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 100000,
    });
    expect(stdout).toMatch(/scale out 1 → \d+/);
    expect(stdout).toMatch(/All 18 served jobs ran; the unserved ones are still queued .* back at its floor of 1\./);

    const state = await getState(stack.urls.state);
    expect(state.jobs.completed).toBe(18);
    expect(state.jobs.queued).toBe(3); // 2 GPU jobs + 1 Windows job: no pool serves them
    expect(state.desiredCapacity).toBe(state.floor);
    expect(state.instances.every((instance) => instance.status !== 'busy')).toBe(true);
  }, 110000);
});
