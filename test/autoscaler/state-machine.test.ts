import { claimVersion, readActivity } from '../../lib/activity';
import { countOpenJobs, readJob } from '../../lib/ledger';
import { MAX_VICTIMS_PER_SCALE_IN } from '../../lib/policy';
import { DEFAULT_SETTINGS, type Settings } from '../../lib/settings';
import { writeSettings } from '../../lib/settings-store';
import { keys } from '../../lib/table';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import type { AutoScalerDeps } from '../../AutoScaler/src/deps';
import { createMachine, FakeAwsError, FakeFleet, FakeGitHub, jobEvent, ManualClock, RECONCILE_INPUT, RecordingLogger, RecordingMetrics } from './support/fakes';

/**
 * The real statemachine/autoscaler.asl.json, executed by aws-local-stepfunctions
 * with every Task state answered by the real handler, against dynalite, an
 * in-process fleet and an in-process GitHub.
 */
const LABELS = ['self-hosted', 'linux', 'x64'];
let dynamo: LocalDynamo;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

async function setup(settings: Partial<Settings> = {}, fleetOptions: { min?: number; max?: number; seed?: number } = {}) {
  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const github = new FakeGitHub();
  const fleet = new FakeFleet(clock, fleetOptions.min ?? 1, fleetOptions.max ?? 100);
  fleet.seed(fleetOptions.seed ?? 1, github, LABELS);
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const full: Settings = { ...DEFAULT_SETTINGS, ...settings };
  await writeSettings(dynamo.doc, tableName, 'default', full, 0, 'test', clock.now());
  const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github, clock, logger, metrics };
  return { tableName, clock, github, fleet, logger, metrics, deps, run: createMachine(deps) };
}

describe('state machine: workflow_job events', () => {
  it('scales out to the burst of queued jobs', async () => {
    const { run, fleet, deps, tableName } = await setup({ headroom: 1 });
    const results = [];
    for (let jobId = 1; jobId <= 5; jobId++) results.push(await run(jobEvent('queued', jobId)));
    expect(results.map((r) => r.status)).toEqual(Array(5).fill('SUCCEEDED'));
    expect(results[0].output).toMatchObject({ outcome: 'scaled_out', decision: { action: 'scale_out', current: 1, target: 2, desired: 2 } });
    expect(results[4].output.decision).toMatchObject({ target: 6, desired: 6 });
    expect(fleet.desired).toBe(6);
    expect(fleet.desiredHistory).toEqual([2, 3, 4, 5, 6]);
    // A burst needs neither GitHub's runner list nor EC2's instance details.
    expect(fleet.detailLookups).toBe(0);
    expect(await countOpenJobs(deps.doc, tableName, 'default')).toEqual({ queued: 5, inProgress: 0 });
    const activity = await readActivity(deps.doc, tableName, 'default');
    expect(activity.version).toBe(5);
    expect(activity.decisions).toHaveLength(5);
    expect(activity.lastDecision).toMatchObject({ action: 'scale_out', target: 6, applied: true });
  });

  it('does nothing for a duplicate delivery', async () => {
    const { run, fleet, deps, tableName } = await setup({ headroom: 1 });
    const event = jobEvent('queued', 7);
    const first = await run(event);
    const second = await run(event);
    expect(first.output.outcome).toBe('scaled_out');
    expect(second.status).toBe('SUCCEEDED');
    expect(second.output).toMatchObject({ skip: true, skipReason: expect.stringContaining('already handled') });
    expect(fleet.desiredHistory).toEqual([2]);
    expect((await readActivity(deps.doc, tableName, 'default')).decisions).toHaveLength(1);
  });

  it('skips jobs whose labels the pool does not serve, without touching the ledger', async () => {
    const { run, fleet, deps, tableName } = await setup();
    const result = await run(jobEvent('queued', 8, { labels: ['self-hosted', 'windows'] }));
    expect(result.output).toMatchObject({ skip: true, skipReason: expect.stringContaining('not served') });
    expect(await readJob(deps.doc, tableName, 8)).toBeUndefined();
    expect(fleet.desiredHistory).toEqual([]);
  });

  it('keeps a completed that arrived before its queued, and does not scale for it', async () => {
    const { run, fleet, deps, tableName } = await setup();
    await run(jobEvent('completed', 9));
    const late = await run(jobEvent('queued', 9));
    expect(late.output).toMatchObject({ outcome: 'nothing', job: { ledger: expect.stringContaining('no-op') } });
    expect((await readJob(deps.doc, tableName, 9))?.status).toBe('completed');
    expect(fleet.desiredHistory).toEqual([]);
  });

  it('scales in idle runners once the scale-in cooldown has passed, never a busy one', async () => {
    const { run, fleet, github, clock } = await setup({ scaleInCooldownSeconds: 300 });
    for (let jobId = 1; jobId <= 3; jobId++) await run(jobEvent('queued', jobId));
    expect(fleet.desired).toBe(3);
    fleet.bootAll(github, LABELS);
    const [first, second] = [...fleet.instances.keys()].slice(1);
    github.setBusy(first, true);
    await run(jobEvent('in_progress', 1, { runnerName: first }));
    github.setBusy(second, true);
    await run(jobEvent('in_progress', 2, { runnerName: second }));
    // Job 3 was cancelled; job 2 finished and its (non-ephemeral, for this test) runner is idle again.
    github.setBusy(second, false);
    await run(jobEvent('completed', 2));
    const held = await run(jobEvent('completed', 3));
    expect(held.output).toMatchObject({ outcome: 'nothing', decision: { reason: expect.stringContaining('scale-in cooldown') } });
    expect(fleet.desired).toBe(3);

    clock.advance(301);
    const lookupsBefore = fleet.detailLookups;
    const scaled = await run(RECONCILE_INPUT);
    // Victims are chosen by market and age: this observation asked for the instance details.
    expect(fleet.detailLookups).toBeGreaterThan(lookupsBefore);
    expect(scaled.output).toMatchObject({ outcome: 'scaled_in', decision: { action: 'scale_in', target: 1 } });
    // Demand is 1 (job 1 running on `first`): both idle runners go, spot before on-demand; the busy one stays.
    // (Victims are removed several at a time, so the terminations' own order is not the victims' order.)
    const victims = (scaled.output.decision.victims as Array<{ instanceId: string }>).map((v) => v.instanceId);
    expect(victims).toHaveLength(2);
    expect(victims[0]).toBe(second);
    expect(victims).not.toContain(first);
    expect(fleet.terminations).toHaveLength(2);
    expect(fleet.terminations.every((t) => t.decrement)).toBe(true);
    expect(new Set(fleet.terminations.map((t) => t.instanceId))).toEqual(new Set(victims));
    expect([...fleet.instances.keys()]).toEqual([first]);
    expect(fleet.desired).toBe(1);
  });

  it('removes a surplus of idle runners bigger than one scale-in in bounded steps, never below the floor', async () => {
    // 450 idle runners (seeded, an hour old), no demand, floor 1: 449 to remove, at most MAX_VICTIMS_PER_SCALE_IN per step.
    const { run, fleet, github, clock, deps, tableName } = await setup({ scaleInCooldownSeconds: 0, max: 500 }, { max: 500, seed: 450 });
    const first = await run(RECONCILE_INPUT);
    expect(first.output).toMatchObject({ outcome: 'scaled_in', decision: { action: 'scale_in', current: 450, target: 1, desired: 450 - MAX_VICTIMS_PER_SCALE_IN } });
    expect(first.output.applied.terminated).toHaveLength(MAX_VICTIMS_PER_SCALE_IN);
    expect(fleet.desired).toBe(450 - MAX_VICTIMS_PER_SCALE_IN);
    // The decision log keeps the entry small: the first 20 instance ids and the count.
    const logged = (await readActivity(deps.doc, tableName, 'default')).lastDecision!;
    expect(logged.victims).toHaveLength(20);
    expect(logged.victimCount).toBe(MAX_VICTIMS_PER_SCALE_IN);
    clock.advance(1);
    await run(RECONCILE_INPUT);
    clock.advance(1);
    const last = await run(RECONCILE_INPUT);
    expect(last.output.applied.terminated).toHaveLength(449 - 2 * MAX_VICTIMS_PER_SCALE_IN);
    expect(fleet.desired).toBe(1);
    expect(fleet.instances.size).toBe(1);
    // Every terminated instance's registration was deleted at GitHub first.
    expect(github.deleted).toHaveLength(449);
  });

  it('starts no victim after the time budget: the rest are deferred, neither deleted at GitHub nor terminated', async () => {
    const { deps, fleet, github, clock } = await setup({ scaleInCooldownSeconds: 0 }, { seed: 30 });
    // Each GitHub deletion moves the step's clock 2 s as it starts: the victim started k-th starts at 2k s,
    // so 18 of the 29 start within the 35 s budget, whatever order the 5 workers interleave in.
    const deleteRunner = github.deleteRunner.bind(github);
    github.deleteRunner = (runnerId: number) => {
      clock.advance(2);
      return deleteRunner(runnerId);
    };
    const run = createMachine(deps);
    const result = await run(RECONCILE_INPUT);
    expect(result.status).toBe('SUCCEEDED');
    const { terminated, skipped } = result.output.applied as { terminated: string[]; skipped: Array<{ reason: string }> };
    expect(terminated).toHaveLength(18);
    expect(skipped).toHaveLength(11);
    expect(skipped.every((s) => s.reason.startsWith('deferred'))).toBe(true);
    expect(github.deleted).toHaveLength(18);
    expect(fleet.desired).toBe(30 - 18);
    expect(fleet.instances.size).toBe(30 - 18);
  });

  it('never terminates a runner that GitHub reports busy at deletion time', async () => {
    const { run, fleet, github, clock } = await setup({ scaleInCooldownSeconds: 300 });
    await run(jobEvent('queued', 1));
    await run(jobEvent('queued', 2));
    expect(fleet.desired).toBe(2);
    fleet.bootAll(github, LABELS);
    const spot = [...fleet.instances.keys()][1];
    await run(jobEvent('completed', 1));
    await run(jobEvent('completed', 2));
    // Between Observe and the deletion the runner picked up a job: GitHub refuses to delete it.
    const originalDelete = github.deleteRunner.bind(github);
    github.deleteRunner = async (runnerId: number) => {
      github.setBusy(spot, true);
      return originalDelete(runnerId);
    };
    clock.advance(301);
    const result = await run(RECONCILE_INPUT);
    expect(result.output).toMatchObject({ outcome: 'skipped_victims', applied: { skipped: [{ instanceId: spot, reason: 'runner is busy at GitHub' }] } });
    expect(fleet.terminations).toEqual([]);
    expect(fleet.instances.has(spot)).toBe(true);
  });
});

describe('state machine: settings', () => {
  it('keeps scaling with bad settings, using the last valid values and reporting each problem', async () => {
    const { run, fleet, deps, tableName, metrics, logger } = await setup({ max: 3 });
    await run(jobEvent('queued', 1)); // validates cleanly: saved as last valid (max 3)
    await deps.doc.send(
      new PutCommand({ TableName: tableName, Item: { pk: keys.settings('default'), version: 2, max: 'lots', headroom: -4, floor: 1, colour: 'blue' } }),
    );
    for (let jobId = 2; jobId <= 6; jobId++) await run(jobEvent('queued', jobId));
    const last = await run(jobEvent('queued', 7));
    expect(last.status).toBe('SUCCEEDED');
    expect(last.output.decision).toMatchObject({ target: 3 });
    expect(fleet.maxDesiredSeen).toBe(3);
    expect(last.output.settingsProblems).toEqual([
      expect.stringContaining('max'),
      expect.stringContaining('headroom'),
      expect.stringContaining('colour: unknown setting'),
    ]);
    expect(metrics.total('SettingsProblems')).toBeGreaterThanOrEqual(3);
    expect(logger.lines.some((l) => l.level === 'warn' && l.message === 'invalid setting ignored')).toBe(true);
  });

  it('reads the legacy settings_cooldown item (milliseconds) as the scale-in cooldown', async () => {
    const { run, fleet, github, clock, deps, tableName } = await setup();
    await deps.doc.send(new PutCommand({ TableName: tableName, Item: { pk: keys.settings('default'), version: 2, floor: 1, max: 10 } }));
    await deps.doc.send(new PutCommand({ TableName: tableName, Item: { pk: keys.legacyCooldown, value: 60_000 } }));
    await run(jobEvent('queued', 1));
    await run(jobEvent('queued', 2));
    fleet.bootAll(github, LABELS);
    await run(jobEvent('completed', 1));
    await run(jobEvent('completed', 2));
    expect(fleet.desired).toBe(2);
    clock.advance(61);
    const result = await run(RECONCILE_INPUT);
    expect(result.output.outcome).toBe('scaled_in');
  });
});

describe('state machine: failures', () => {
  it('retries a throttled AWS call with backoff and then succeeds', async () => {
    const { run, fleet } = await setup({ headroom: 1 });
    fleet.faults.fail('setDesiredCapacity', () => new FakeAwsError('ThrottlingException', 'Rate exceeded'), 2);
    const result = await run(jobEvent('queued', 1));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output.outcome).toBe('scaled_out');
    expect(fleet.desired).toBe(2);
    const retried = result.events.filter((e) => e.type === 'StateRetried').map((e) => e.state?.name);
    expect(retried).toEqual(['ScaleOut', 'ScaleOut']);
  });

  it('catches an AWS call that keeps failing, records the failure and fails with a clear error', async () => {
    const { run, fleet, deps, tableName, metrics } = await setup();
    fleet.faults.fail('describe', () => new FakeAwsError('ServiceUnavailable', 'Service is unavailable', { httpStatusCode: 503 }), Infinity);
    const result = await run(jobEvent('queued', 1));
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('AutoScaler.TaskFailed');
    expect(result.events.filter((e) => e.type === 'StateRetried' && e.state?.name === 'Observe')).toHaveLength(2);
    expect(result.events.some((e) => e.type === 'StateCaught' && e.state?.name === 'Observe')).toBe(true);
    const activity = await readActivity(deps.doc, tableName, 'default');
    expect(activity.lastFailure).toMatchObject({ error: 'TransientError', cause: expect.stringContaining('ServiceUnavailable') });
    expect(metrics.total('Errors')).toBe(1);
    // The job itself was recorded before the failure: the next execution (or the reconcile) will scale for it.
    expect(await countOpenJobs(deps.doc, tableName, 'default')).toEqual({ queued: 1, inProgress: 0 });
  });

  it('keeps scaling out from the ledger while GitHub is unavailable, and does not scale in', async () => {
    const { run, fleet, github, clock, metrics, logger } = await setup({ headroom: 1, scaleInCooldownSeconds: 0 });
    github.faults.fail('listRunners', () => Object.assign(new Error('API rate limit exceeded'), { name: 'RateLimitedError' }), Infinity);
    const result = await run(jobEvent('queued', 1));
    expect(result.output).toMatchObject({ outcome: 'scaled_out', decision: { target: 2 } });
    expect(fleet.desired).toBe(2);
    // Idle runners everywhere, demand gone: with GitHub's view this would scale in; without it, it must not.
    fleet.bootAll(github, LABELS);
    await run(jobEvent('queued', 2));
    clock.advance(600);
    await run(jobEvent('completed', 1));
    const later = await run(jobEvent('completed', 2));
    expect(later.output).toMatchObject({ outcome: 'nothing', decision: { reason: expect.stringContaining('no idle runner') } });
    expect(fleet.terminations).toEqual([]);
    // The two scale-outs never asked GitHub (the ledger alone asked for more); the two later executions did, and were refused.
    expect(metrics.total('RunnerListSkipped')).toBe(2);
    expect(metrics.total('GitHubUnavailable')).toBe(2);
    expect(logger.lines.some((l) => l.level === 'warn' && l.message.startsWith('GitHub runners unavailable'))).toBe(true);
  });

  it('does not retry a non-transient error and still ends in the Fail state', async () => {
    const { run, fleet, deps, tableName } = await setup({ headroom: 1 });
    fleet.faults.fail('setDesiredCapacity', () => new FakeAwsError('AccessDenied', 'not authorized to perform: autoscaling:SetDesiredCapacity', { httpStatusCode: 403 }), Infinity);
    const result = await run(jobEvent('queued', 1));
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('AutoScaler.TaskFailed');
    expect(result.events.filter((e) => e.type === 'StateRetried')).toHaveLength(0);
    expect((await readActivity(deps.doc, tableName, 'default')).lastFailure).toMatchObject({ error: 'AccessDenied' });
  });

  it('rejects an input that is not an event it handles, changing nothing', async () => {
    const { run, fleet, deps, tableName } = await setup();
    const result = await run({ source: 'somebody.else', 'detail-type': 'workflow_job', detail: {} });
    expect(result.status).toBe('FAILED');
    expect((await readActivity(deps.doc, tableName, 'default')).lastFailure).toMatchObject({ error: 'InvalidInputError' });
    const malformed = await run(jobEvent('queued', 1, { jobId: -1 } as never));
    expect(malformed.status).toBe('FAILED');
    expect(fleet.desiredHistory).toEqual([]);
    expect(await countOpenJobs(deps.doc, tableName, 'default')).toEqual({ queued: 0, inProgress: 0 });
  });

  it('runs without $$.Execution.Id (local runners) by naming the execution itself', async () => {
    const { deps, fleet } = await setup({ headroom: 1 });
    const run = createMachine(deps, { withExecutionId: false });
    const result = await run(jobEvent('queued', 1));
    expect(result.output.executionId).toMatch(/^local-/);
    expect(fleet.desired).toBe(2);
  });
});

describe('state machine: stale activity version', () => {
  // Another execution claims a newer version between our Observe and our ScaleOut (here: right after Decide).
  async function withCompetingClaims(claims: number, competingTarget = 1) {
    const ctx = await setup({ headroom: 1 });
    let made = 0;
    const run = createMachine(ctx.deps, {
      wrap: (handlers) => ({
        ...handlers,
        Decide: async (input) => {
          const decision = await handlers.Decide(input);
          if (made < claims) {
            made += 1;
            const version = (await readActivity(ctx.deps.doc, ctx.tableName, 'default')).version;
            await claimVersion(ctx.deps.doc, ctx.tableName, 'default', { observedVersion: version, executionId: `other-${made}`, kind: 'scale_out', target: competingTarget, now: ctx.clock.now() });
          }
          return decision;
        },
      }),
    });
    const result = await run(jobEvent('queued', 1));
    const observed = result.events.filter((e) => e.type === 'StateEntered' && e.state?.name === 'Observe').length;
    return { ...ctx, result, observed };
  }

  it('re-observes once and applies when the second claim holds', async () => {
    const { result, observed, fleet } = await withCompetingClaims(1);
    expect(observed).toBe(2);
    expect(result.output).toMatchObject({ outcome: 'scaled_out', applied: { applied: true, stale: false, version: 2 } });
    expect(fleet.desired).toBe(2);
  });

  it('does not observe again when the newer claim already asks for at least its target (covered)', async () => {
    // Our decision: 1 queued + headroom 1 -> desired 2. The competing scale-out claims 3.
    const { result, observed, fleet, deps, tableName, metrics } = await withCompetingClaims(1, 3);
    expect(observed).toBe(1);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ outcome: 'covered', applied: { applied: false, stale: false, covered: true, version: 1 } });
    // Applying the competing claim is its owner's job: this execution made no Auto Scaling call.
    expect(fleet.desiredHistory).toEqual([]);
    // Nothing to show in the decision log: the competing claim's execution records the act; the metric counts this one.
    expect((await readActivity(deps.doc, tableName, 'default')).decisions).toEqual([]);
    expect(metrics.total('DecisionCovered')).toBe(1);
  });

  it('re-observes when the newer claim asks for less than its target', async () => {
    const { observed } = await withCompetingClaims(1, 1);
    expect(observed).toBe(2);
  });

  it('yields to the newer execution after one re-observe', async () => {
    const { result, observed, fleet, deps, tableName } = await withCompetingClaims(5);
    expect(observed).toBe(2);
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output).toMatchObject({ outcome: 'yielded', applied: { applied: false, stale: true } });
    expect(fleet.desiredHistory).toEqual([]);
    expect((await readActivity(deps.doc, tableName, 'default')).lastDecision).toMatchObject({ stale: true, applied: false });
  });
});
