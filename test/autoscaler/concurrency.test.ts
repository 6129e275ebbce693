import { readActivity } from '../../lib/activity';
import { countOpenJobs } from '../../lib/ledger';
import { DEFAULT_SETTINGS, type Settings } from '../../lib/settings';
import { writeSettings } from '../../lib/settings-store';
import type { AutoScalerDeps } from '../../AutoScaler/src/deps';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { createMachine, FakeFleet, FakeGitHub, jobEvent, ManualClock, RecordingLogger } from './support/fakes';

/**
 * A burst: one execution per queued job, all started at once, racing through
 * the real state machine against one dynalite table and one fleet. The
 * activity version makes them agree: the group ends at exactly the level the
 * policy asks for, and no execution ever sets it higher.
 */
const LABELS = ['self-hosted', 'linux', 'x64'];
let dynamo: LocalDynamo;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

async function burst(jobs: number, settings: Partial<Settings>) {
  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const github = new FakeGitHub();
  const fleet = new FakeFleet(clock, 1, 200);
  fleet.seed(1, github, LABELS);
  const full: Settings = { ...DEFAULT_SETTINGS, ...settings };
  await writeSettings(dynamo.doc, tableName, 'default', full, 0, 'test', clock.now());
  const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github, clock, logger: new RecordingLogger() };
  const run = createMachine(deps);
  const results = await Promise.all(Array.from({ length: jobs }, (_, i) => run(jobEvent('queued', 1000 + i))));
  return { results, fleet, deps, tableName };
}

describe('concurrent executions', () => {
  it('50 executions for 50 queued jobs end at exactly min(max, 50 + headroom), never above', async () => {
    const headroom = 2;
    const { results, fleet, deps, tableName } = await burst(50, { headroom, max: 100 });
    expect(results.filter((r) => r.status !== 'SUCCEEDED').map((r) => r.error)).toEqual([]);
    expect(await countOpenJobs(deps.doc, tableName, 'default')).toEqual({ queued: 50, inProgress: 0 });
    expect(fleet.desired).toBe(52);
    expect(fleet.maxDesiredSeen).toBe(52);
    expect(fleet.instances.size).toBe(52);
    const outcomes = results.map((r) => r.output.outcome);
    expect(outcomes).toContain('scaled_out');
    // Every execution either applied its claim, found nothing left to do, was covered by a newer claim's target, or yielded to a newer one.
    expect(outcomes.every((o) => ['scaled_out', 'nothing', 'covered', 'yielded'].includes(o))).toBe(true);
    const activity = await readActivity(deps.doc, tableName, 'default');
    expect(activity.version).toBe(outcomes.filter((o) => o === 'scaled_out').length);
    expect(activity.decisions.length).toBeLessThanOrEqual(20);
  });

  it('clamps the burst at max', async () => {
    const { results, fleet } = await burst(50, { headroom: 2, max: 20 });
    expect(results.every((r) => r.status === 'SUCCEEDED')).toBe(true);
    expect(fleet.desired).toBe(20);
    expect(fleet.maxDesiredSeen).toBe(20);
  });
});
