import { readActivity } from '../../lib/activity';
import { DEFAULT_SETTINGS } from '../../lib/settings';
import { writeSettings } from '../../lib/settings-store';
import type { AutoScalerDeps } from '../../AutoScaler/src/deps';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { createMachine, FakeFleet, FakeGitHub, loadDefinition, ManualClock, RECONCILE_INPUT, RecordingLogger, RecordingMetrics, type RunResult } from './support/fakes';

/**
 * Defect 7 (issue 13), executed: a Reconcile that never answers. The real ASL
 * in aws-local-stepfunctions, which enforces the Task's TimeoutSeconds and the
 * execution's TimeoutSeconds with timers; jest's fake timers move them on
 * without waiting minutes. The old definition retried States.Timeout past the
 * 240 s execution timeout: the execution timed out and RecordFailure never ran.
 */
let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});
afterEach(() => {
  jest.useRealTimers();
});

async function setup(reconcile: (input: unknown) => Promise<unknown>) {
  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const github = new FakeGitHub();
  const fleet = new FakeFleet(clock, 1, 10);
  fleet.seed(1, github, ['self-hosted', 'linux', 'x64']);
  await writeSettings(dynamo.doc, tableName, 'default', DEFAULT_SETTINGS, 0, 'test', clock.now());
  const metrics = new RecordingMetrics();
  const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github, clock, logger: new RecordingLogger(), metrics };
  const run = createMachine(deps, { wrap: (handlers) => ({ ...handlers, Reconcile: reconcile }) });
  return { deps, tableName, metrics, run };
}

/** Runs with fake timers, advancing them one second at a time (and letting dynalite's real I/O through) until the execution ends. */
async function runWithVirtualTime(run: (input: unknown) => Promise<RunResult>, input: unknown, limitSeconds: number): Promise<{ result: RunResult; seconds: number }> {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
  let result: RunResult | undefined;
  const done = run(input).then((r) => (result = r));
  let seconds = 0;
  while (!result && seconds < limitSeconds) {
    await jest.advanceTimersByTimeAsync(1000);
    seconds += 1;
    for (let i = 0; i < 20 && !result; i++) await new Promise((resolve) => setImmediate(resolve));
  }
  jest.useRealTimers();
  await done;
  return { result: result!, seconds };
}

describe('a Reconcile that times out', () => {
  it('ends in RecordFailure (States.Timeout recorded), inside the execution timeout', async () => {
    const { run, deps, tableName, metrics } = await setup(() => new Promise(() => {}));
    const definition = loadDefinition();
    const { result, seconds } = await runWithVirtualTime(run, RECONCILE_INPUT, definition.TimeoutSeconds + 10);
    expect(result.status).toBe('FAILED');
    // Not an execution timeout: the Fail state after RecordFailure.
    expect(result.error?.name).toBe('AutoScaler.TaskFailed');
    expect(result.events.some((e) => e.type === 'StateEntered' && e.state?.name === 'RecordFailure')).toBe(true);
    expect(result.events.filter((e) => e.type === 'StateRetried' && e.state?.name === 'Reconcile')).toHaveLength(0);
    expect(seconds).toBeLessThan(definition.TimeoutSeconds);
    expect((await readActivity(deps.doc, tableName, 'default')).lastFailure).toMatchObject({ error: 'States.Timeout' });
    expect(metrics.total('Errors')).toBe(1);
  }, 30_000);

  it('ends in RecordFailure when the function itself times out (Lambda reports it as the function\'s error)', async () => {
    // Lambda.Unknown in the older error model, Sandbox.Timedout in the newer: neither is retried, both are caught.
    const timedOut = Object.assign(new Error('Task timed out after 110.00 seconds'), { name: 'Sandbox.Timedout' });
    const { run, deps, tableName } = await setup(async () => {
      throw timedOut;
    });
    const result = await run(RECONCILE_INPUT);
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('AutoScaler.TaskFailed');
    expect(result.events.filter((e) => e.type === 'StateRetried')).toHaveLength(0);
    expect((await readActivity(deps.doc, tableName, 'default')).lastFailure).toMatchObject({ error: 'Sandbox.Timedout' });
  });
});
