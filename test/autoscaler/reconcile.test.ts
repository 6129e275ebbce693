import { readActivity } from '../../lib/activity';
import { listOpenJobs, readJob, recordJobEvent } from '../../lib/ledger';
import { DEFAULT_SETTINGS } from '../../lib/settings';
import { writeSettings } from '../../lib/settings-store';
import type { AutoScalerDeps } from '../../AutoScaler/src/deps';
import { boundSummary, SUMMARY_IDS_PER_KIND } from '../../AutoScaler/src/reconcile';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { REDELIVERY_OVERLAP_MS } from '../../AutoScaler/src/reconcile-discovery';
import { MAX_KNOWN_REPOSITORIES, mergeKnownRepositories } from '../../lib/known-repositories';
import { createMachine, FakeFleet, FakeGitHub, ManualClock, RECONCILE_INPUT, RecordingLogger, RecordingMetrics } from './support/fakes';

/** The schedule's repair pass, through the real state machine. */
const LABELS = ['self-hosted', 'linux', 'x64'];
let dynamo: LocalDynamo;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

it('repairs the ledger from GitHub, removes stale registrations and unregistered instances, then scales', async () => {
  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const github = new FakeGitHub();
  const fleet = new FakeFleet(clock, 1, 50);
  fleet.seed(1, github, LABELS);
  await writeSettings(dynamo.doc, tableName, 'default', { ...DEFAULT_SETTINGS, bootTimeoutSeconds: 600 }, 0, 'test', clock.now());
  const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github, clock, logger: new RecordingLogger() };

  const ledgerJob = (jobId: number) =>
    recordJobEvent(dynamo.doc, tableName, { pool: 'default', jobId, action: 'queued', repository: 'acme/app', labels: LABELS, runId: jobId * 10, at: clock.now() - 60_000 + jobId, source: 'd' });
  await ledgerJob(1); // finished while its completed webhook was lost
  await ledgerJob(2); // its run was deleted: GitHub no longer knows it
  await ledgerJob(3); // started while its in_progress webhook was lost
  github.addJob({ id: 1, status: 'completed', conclusion: 'cancelled' });
  github.addJob({ id: 3, status: 'in_progress', runnerName: 'i-0000000000000000a' });
  github.addJob({ id: 4, status: 'queued' }); // its queued webhook was lost
  github.addJob({ id: 5, status: 'queued', labels: ['self-hosted', 'windows'] }); // not ours

  const gone = github.register('i-0000000000000dead', LABELS, 'offline'); // instance terminated, registration left behind
  const foreign = github.register('build-box-7', ['self-hosted', 'linux', 'x64'], 'offline'); // not an instance of ours
  const otherPool = github.register('i-00000000000000bee', ['self-hosted', 'linux', 'arm64'], 'offline');
  // An instance that never registered a runner, launched long before the boot timeout.
  fleet.desired = 2;
  fleet.converge();
  const stuck = [...fleet.instances.values()][1];
  stuck.lifecycleState = 'InService';
  stuck.launchTime = new Date(clock.now() - 3600_000).toISOString();

  const result = await createMachine(deps)(RECONCILE_INPUT);

  expect(result.status).toBe('SUCCEEDED');
  expect(result.output.reconcile).toEqual({
    openJobs: 3,
    discovery: expect.objectContaining({ complete: true, queuedFound: 2, deferredRechecks: 0 }),
    counts: { closedJobs: 2, startedJobs: 1, addedJobs: 1, removedRegistrations: 1, terminatedUnregistered: 1 },
    closedJobs: [1, 2],
    startedJobs: [3],
    addedJobs: [4],
    removedRegistrations: ['i-0000000000000dead'],
    terminatedUnregistered: [stuck.instanceId],
  });
  expect((await readJob(dynamo.doc, tableName, 1))).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
  expect((await readJob(dynamo.doc, tableName, 2))).toMatchObject({ status: 'completed', conclusion: 'vanished' });
  expect((await listOpenJobs(dynamo.doc, tableName, 'default')).map((j) => [j.jobId, j.status])).toEqual([
    [4, 'queued'], // queuedAt is GitHub's created_at (the index sorts by it)
    [3, 'in_progress'],
  ]);
  expect(github.runners.has(gone.id)).toBe(false);
  expect(github.runners.has(foreign.id)).toBe(true);
  expect(github.runners.has(otherPool.id)).toBe(true);
  expect(fleet.terminations).toEqual([{ instanceId: stuck.instanceId, decrement: true }]);
  // Then the normal path: busy 1 (job 3) + queued 1 (job 4) = 2 > 1.
  expect(result.output).toMatchObject({ trigger: 'reconcile', outcome: 'scaled_out', decision: { target: 2, current: 1 } });
  expect(fleet.desired).toBe(2);
  expect((await readActivity(dynamo.doc, tableName, 'default')).lastReconcileAt).toBe(clock.now());

  // A second pass finds nothing left to repair.
  const again = await createMachine(deps)(RECONCILE_INPUT);
  expect(again.output.reconcile).toMatchObject({ closedJobs: [], startedJobs: [], addedJobs: [], removedRegistrations: [], terminatedUnregistered: [] });
});

it('costs no call per job for the jobs GitHub still lists as queued, and re-reads the rest', async () => {
  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const github = new FakeGitHub();
  const fleet = new FakeFleet(clock, 1, 50);
  fleet.seed(1, github, LABELS);
  await writeSettings(dynamo.doc, tableName, 'default', DEFAULT_SETTINGS, 0, 'test', clock.now());
  const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github, clock, logger: new RecordingLogger() };
  for (let jobId = 1; jobId <= 40; jobId++) {
    await recordJobEvent(dynamo.doc, tableName, { pool: 'default', jobId, action: 'queued', repository: 'acme/app', labels: LABELS, runId: jobId, at: clock.now(), source: 'd' });
    // A big queue: 38 still waiting, one finished and one started while their webhooks were lost.
    github.addJob({ id: jobId, status: jobId === 7 ? 'completed' : jobId === 9 ? 'in_progress' : 'queued' });
  }
  const getJob = jest.spyOn(github, 'getJob');

  const result = await createMachine(deps)(RECONCILE_INPUT);

  expect(result.status).toBe('SUCCEEDED');
  expect(result.output.reconcile).toMatchObject({ openJobs: 40, closedJobs: [7], startedJobs: [9], addedJobs: [] });
  expect(getJob.mock.calls.map(([, id]) => id).sort((a, b) => a - b)).toEqual([7, 9]);
  expect((await listOpenJobs(dynamo.doc, tableName, 'default')).filter((job) => job.status === 'queued')).toHaveLength(38);
});

it('lists at most SUMMARY_IDS_PER_KIND ids per kind in the execution state, with complete counts', () => {
  const ids = Array.from({ length: 2500 }, (_, i) => 10_000_000 + i);
  const bounded = boundSummary({ openJobs: 2500, closedJobs: ids, startedJobs: [], addedJobs: ids.slice(0, 3), removedRegistrations: [], terminatedUnregistered: [] });
  expect(bounded.counts).toEqual({ closedJobs: 2500, startedJobs: 0, addedJobs: 3, removedRegistrations: 0, terminatedUnregistered: 0 });
  expect(bounded.closedJobs).toEqual(ids.slice(0, SUMMARY_IDS_PER_KIND));
  expect(bounded.addedJobs).toEqual(ids.slice(0, 3));
  // 2,500 closed job ids would be about 22 KB of the 256 KB state; the cut summary is a small, fixed share.
  expect(Buffer.byteLength(JSON.stringify(bounded))).toBeLessThan(2 * 1024);
});

it('redelivers from one period before the last reconcile, uses a partial search, reports both, and fails on neither', async () => {
  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const github = new FakeGitHub();
  const fleet = new FakeFleet(clock, 1, 50);
  fleet.seed(1, github, LABELS);
  await writeSettings(dynamo.doc, tableName, 'default', DEFAULT_SETTINGS, 0, 'test', clock.now());
  const metrics = new RecordingMetrics();
  const logger = new RecordingLogger();
  const queued = (jobId: number, repository: string) =>
    recordJobEvent(dynamo.doc, tableName, { pool: 'default', jobId, action: 'queued', repository, labels: LABELS, runId: jobId, at: clock.now() - 60_000, source: 'd' });
  await queued(1, 'acme/read');
  await queued(2, 'acme/unread');
  github.addJob({ id: 1, status: 'queued', repository: 'acme/read' });
  github.addJob({ id: 2, status: 'completed', conclusion: 'success', repository: 'acme/unread' });
  github.addJob({ id: 3, status: 'queued', repository: 'acme/read' }); // lost queued webhook, found by the search
  github.addJob({ id: 4, status: 'queued', repository: 'acme/hosted', labels: ['ubuntu-latest'] }); // a GitHub-hosted job: not ours
  const redeliver = jest.fn(async (_sinceMs: number) => ({ hook: 'app' as const, examined: 40, failed: 2, redelivered: 1, deferred: 1, complete: false, requests: 3, error: 'GitHub POST /app/hook/deliveries/{delivery_id}/attempts failed with 403' }));
  const scan = jest.fn(async (hints?: { repositories?: readonly string[] }) => ({
    jobs: [1, 3, 4].map((id) => github.jobs.get(id)!),
    complete: false,
    scannedRepositories: ['acme/read'],
    candidateRepositories: 2,
    unscannedRepositories: 1,
    failures: [],
    failureCount: 0,
    stoppedBy: 'time' as const,
    requests: 12,
    elapsedMs: 45_000,
    hints,
  }));
  const port = Object.assign(github, { redeliverFailedDeliveries: redeliver, scanQueuedJobs: scan });
  const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github: port, clock, logger, metrics };

  const first = await createMachine(deps)(RECONCILE_INPUT);
  expect(first.status).toBe('SUCCEEDED');
  // Never reconciled before: one period back, and one period of overlap.
  expect(redeliver).toHaveBeenLastCalledWith(clock.now() - 2 * REDELIVERY_OVERLAP_MS);
  expect(scan.mock.calls[0][0]).toEqual({ repositories: ['acme/read', 'acme/unread'] });
  expect(first.output.reconcile).toMatchObject({
    // Job 2's repository was not read: GitHub's own answer for it (completed) closes it, not its absence.
    closedJobs: [2],
    addedJobs: [3],
    discovery: { complete: false, stoppedBy: 'time', repositoriesNotScanned: 1, queuedFound: 3, redelivered: 1, redeliveryDeferred: 1, redeliveryHook: 'app', redeliveryError: expect.stringContaining('403') },
  });
  expect(metrics.total('ReconcileSearchPartial')).toBe(1);
  expect(metrics.total('ReconcileRedelivered')).toBe(1);
  expect(logger.lines.some((l) => l.level === 'warn' && /search for queued jobs was partial/.test(l.message))).toBe(true);
  expect(logger.lines.some((l) => l.level === 'warn' && /redelivery stopped on a GitHub error/.test(l.message))).toBe(true);

  clock.advance(900);
  await createMachine(deps)(RECONCILE_INPUT);
  expect(redeliver).toHaveBeenLastCalledWith(clock.now() - 900_000 - REDELIVERY_OVERLAP_MS);
  // acme/unread has no open job any more but ran one of ours this week: still searched (REPOS#<pool>); the
  // repository of a GitHub-hosted job is not remembered.
  expect(scan.mock.calls[1][0]).toEqual({ repositories: ['acme/read', 'acme/unread'] });
});

it('remembers the repositories of the pool\'s jobs for a week, the 200 seen last', () => {
  const day = 24 * 3600_000;
  const now = Date.parse('2026-12-01T00:00:00Z');
  const merged = mergeKnownRepositories({ 'a/old': now - 8 * day, 'a/week': now - 6 * day, 'a/seen': now - 2 * day }, ['a/seen', 'a/new', ''], now);
  expect(merged).toEqual({ 'a/new': now, 'a/seen': now, 'a/week': now - 6 * day });
  const many = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`a/r${i}`, now - i * 1000]));
  expect(Object.keys(mergeKnownRepositories(many, [], now))).toEqual(Array.from({ length: MAX_KNOWN_REPOSITORIES }, (_, i) => `a/r${i}`));
});
