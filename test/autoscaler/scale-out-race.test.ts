import { createStateMachineHandlers } from '../../AutoScaler/src/handlers';
import type { AutoScalerDeps } from '../../AutoScaler/src/deps';
import type { Decision } from '../../lib/policy';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { FakeFleet, FakeGitHub, ManualClock, RecordingLogger } from './support/fakes';

/**
 * Claim and SetDesiredCapacity are two calls: an older execution's call can
 * reach Auto Scaling after a newer one's. The group must still end at the
 * newest claim's target.
 */
let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

const decision = (current: number, target: number): Decision => ({
  action: 'scale_out', current, target, desired: target, victims: [], reason: 'test',
  counts: { queued: target, busy: 0, idle: 0, booting: 0, offline: 0, unregistered: 0 },
});

it('ends at the newest claim even when an older SetDesiredCapacity lands last', async () => {
  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const fleet = new FakeFleet(clock, 1, 50);
  const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github: new FakeGitHub(), clock, logger: new RecordingLogger() };
  const handlers = createStateMachineHandlers(deps);

  // Execution A's first SetDesiredCapacity is held in flight until B has finished.
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const set = fleet.setDesiredCapacity.bind(fleet);
  let calls = 0;
  fleet.setDesiredCapacity = async (desired: number) => {
    if (++calls === 1) await gate;
    return set(desired);
  };

  const a = handlers.ScaleOut({ executionId: 'A', observedVersion: 0, decision: decision(1, 5) });
  while (calls === 0) await new Promise((r) => setTimeout(r, 2));
  const b = await handlers.ScaleOut({ executionId: 'B', observedVersion: 1, decision: decision(1, 8) });
  expect(b).toMatchObject({ applied: true, desired: 8 });
  release();
  expect(await a).toMatchObject({ applied: true, desired: 8 });

  expect(fleet.desiredHistory).toEqual([8, 5, 8]);
  expect(fleet.desired).toBe(8);
});

it('yields without touching the group when the version moved since Observe', async () => {
  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const fleet = new FakeFleet(clock, 1, 50);
  const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github: new FakeGitHub(), clock, logger: new RecordingLogger() };
  const handlers = createStateMachineHandlers(deps);
  const stale = await handlers.ScaleOut({ executionId: 'A', observedVersion: 3, decision: decision(1, 5) });
  expect(stale).toMatchObject({ applied: false, stale: true, version: 0 });
  expect(fleet.desiredHistory).toEqual([]);
});
