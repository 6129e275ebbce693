import fc from 'fast-check';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { applyJobEvent, countOpenJobs, listOpenJobs, readJob, recordDelivery, recordJobEvent, type JobEvent, type JobRecord } from '../../lib/ledger';
import { claimVersion, coveredByNewerScaleOut, readActivity, recordDecision, RECENT_DECISIONS, type DecisionEntry } from '../../lib/activity';
import { repairFromRemote } from '../../lib/reconcile-rules';
import { COMPLETED_JOB_TTL_SECONDS, DELIVERY_TTL_SECONDS, keys } from '../../lib/table';
import { startDynalite, type LocalDynamo } from '../support/dynalite';

const T0 = Date.parse('2026-03-01T12:00:00Z');

function event(action: JobEvent['action'], jobId = 1, at = T0, overrides: Partial<JobEvent> = {}): JobEvent {
  return { pool: 'default', jobId, action, repository: 'acme/app', labels: ['Self-Hosted', 'linux'], runId: 77, at, source: `d-${action}-${at}`, ...overrides };
}

describe('applyJobEvent (pure)', () => {
  it('moves queued -> in_progress -> completed and keeps what each step learned', () => {
    const queued = applyJobEvent(undefined, event('queued', 1, T0, { createdAt: '2026-03-01T11:59:00Z' }));
    expect(queued.record).toMatchObject({ status: 'queued', queuedAt: '2026-03-01T11:59:00Z', labels: ['self-hosted', 'linux'], rev: 1 });
    const started = applyJobEvent(queued.record, event('in_progress', 1, T0 + 5000, { runnerName: 'i-0abc' }));
    expect(started).toMatchObject({ changed: true, previous: 'queued', record: { status: 'in_progress', runnerName: 'i-0abc', rev: 2 } });
    const done = applyJobEvent(started.record, event('completed', 1, T0 + 60_000, { conclusion: 'success' }));
    expect(done.record).toMatchObject({ status: 'completed', conclusion: 'success', queuedAt: '2026-03-01T11:59:00Z', rev: 3 });
    expect(done.record.expiresAt).toBe(Math.floor((T0 + 60_000) / 1000) + COMPLETED_JOB_TTL_SECONDS);
  });

  it('keeps a completed that arrives before queued as completed', () => {
    const done = applyJobEvent(undefined, event('completed'));
    expect(done.record.status).toBe('completed');
    const late = applyJobEvent(done.record, event('queued'));
    expect(late).toMatchObject({ changed: false, record: done.record });
  });

  it('treats waiting as queued', () => {
    expect(applyJobEvent(undefined, event('waiting')).record.status).toBe('queued');
  });

  it('never goes backwards, whatever the order and repetition of events (property)', () => {
    const rank = { queued: 1, in_progress: 2, completed: 3 } as const;
    fc.assert(
      fc.property(fc.array(fc.constantFrom<JobEvent['action']>('queued', 'waiting', 'in_progress', 'completed'), { minLength: 1, maxLength: 12 }), (actions) => {
        let record: JobRecord | undefined;
        let best = 0;
        for (const [i, action] of actions.entries()) {
          const before = record;
          const transition = applyJobEvent(record, event(action, 1, T0 + i * 1000));
          record = transition.record;
          const r = rank[record.status];
          if (r < best) return false;
          if (before && r === rank[before.status] && transition.changed) return false;
          best = Math.max(best, r);
        }
        // The final status is the furthest one any event announced.
        const furthest = Math.max(...actions.map((a) => rank[a === 'waiting' ? 'queued' : a]));
        return rank[record!.status] === furthest;
      }),
    );
  });
});

describe('ledger on DynamoDB (dynalite)', () => {
  let dynamo: LocalDynamo;
  let table: string;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  beforeEach(async () => {
    table = await dynamo.createTable();
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  it('de-duplicates deliveries with a TTL item, but lets the same execution retry', async () => {
    expect(await recordDelivery(dynamo.doc, table, 'guid-1', 'exec-a', T0)).toBe('new');
    expect(await recordDelivery(dynamo.doc, table, 'guid-1', 'exec-a', T0 + 1000)).toBe('new');
    expect(await recordDelivery(dynamo.doc, table, 'guid-1', 'exec-b', T0 + 2000)).toBe('duplicate');
    const { Item } = await dynamo.doc.send(new GetCommand({ TableName: table, Key: { pk: keys.delivery('guid-1') } }));
    expect(Item).toMatchObject({ executionId: 'exec-a', expiresAt: Math.floor((T0 + 1000) / 1000) + DELIVERY_TTL_SECONDS });
  });

  it('lists and counts open jobs through the sparse index; completed jobs leave it', async () => {
    await recordJobEvent(dynamo.doc, table, event('queued', 1));
    await recordJobEvent(dynamo.doc, table, event('queued', 2, T0 + 1));
    await recordJobEvent(dynamo.doc, table, event('in_progress', 2, T0 + 2));
    await recordJobEvent(dynamo.doc, table, event('queued', 3, T0 + 3));
    await recordJobEvent(dynamo.doc, table, event('completed', 3, T0 + 4));
    await recordJobEvent(dynamo.doc, table, event('queued', 4, T0 + 5, { pool: 'arm64' }));
    expect(await countOpenJobs(dynamo.doc, table, 'default')).toEqual({ queued: 1, inProgress: 1 });
    expect((await listOpenJobs(dynamo.doc, table, 'default')).map((j) => [j.jobId, j.status, j.repository, j.runId])).toEqual([
      [1, 'queued', 'acme/app', 77],
      [2, 'in_progress', 'acme/app', 77],
    ]);
    const { Item } = await dynamo.doc.send(new GetCommand({ TableName: table, Key: { pk: keys.job(3) } }));
    expect(Item?.openKey).toBeUndefined();
    expect(Item?.expiresAt).toBe(Math.floor((T0 + 4) / 1000) + COMPLETED_JOB_TTL_SECONDS);
  });

  it('lists hundreds of open jobs across both index partitions and BatchGetItem pages, oldest first, and counts them by status', async () => {
    // 230 jobs, queued out of id order; every third started, every seventh completed (some after starting).
    const ids = Array.from({ length: 230 }, (_, i) => 500 + ((i * 37) % 230));
    for (const [i, id] of ids.entries()) await recordJobEvent(dynamo.doc, table, event('queued', id, T0 + i * 1000));
    for (const id of ids) if (id % 3 === 0) await recordJobEvent(dynamo.doc, table, event('in_progress', id, T0 + 500_000));
    for (const id of ids) if (id % 7 === 0) await recordJobEvent(dynamo.doc, table, event('completed', id, T0 + 600_000));
    const open = ids.filter((id) => id % 7 !== 0);
    const listed = await listOpenJobs(dynamo.doc, table, 'default');
    // Oldest first: the order they were queued in.
    expect(listed.map((j) => j.jobId)).toEqual(open);
    expect(listed.every((j) => j.status === (j.jobId % 3 === 0 ? 'in_progress' : 'queued'))).toBe(true);
    const inProgress = open.filter((id) => id % 3 === 0).length;
    expect(await countOpenJobs(dynamo.doc, table, 'default')).toEqual({ queued: open.length - inProgress, inProgress });
  });

  it('records a new queued job with one write and no read; a queued event for a known job still ends as a no-op', async () => {
    const operations: string[] = [];
    dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        operations.push(String((context as { commandName?: string }).commandName).replace(/Command$/, ''));
        return next(args);
      },
      { step: 'initialize', name: 'countLedgerCalls' },
    );
    try {
      expect(await recordJobEvent(dynamo.doc, table, event('queued', 41))).toMatchObject({ changed: true, previous: null });
      expect(operations).toEqual(['PutItem']);
      operations.length = 0;
      await recordJobEvent(dynamo.doc, table, event('in_progress', 41, T0 + 1));
      expect(operations).toEqual(['GetItem', 'PutItem']);
      operations.length = 0;
      // Redelivered or late: the optimistic write is refused, the stored job read, nothing changes.
      expect(await recordJobEvent(dynamo.doc, table, event('queued', 41, T0 + 2))).toMatchObject({ changed: false, record: { status: 'in_progress', rev: 2 } });
      expect(operations).toEqual(['PutItem', 'GetItem']);
    } finally {
      dynamo.client.middlewareStack.remove('countLedgerCalls');
    }
  });

  it('makes redeliveries and out-of-order events no-ops', async () => {
    await recordJobEvent(dynamo.doc, table, event('completed', 5));
    expect(await recordJobEvent(dynamo.doc, table, event('queued', 5))).toMatchObject({ changed: false });
    expect(await recordJobEvent(dynamo.doc, table, event('in_progress', 5))).toMatchObject({ changed: false });
    expect((await readJob(dynamo.doc, table, 5))?.status).toBe('completed');
    expect(await countOpenJobs(dynamo.doc, table, 'default')).toEqual({ queued: 0, inProgress: 0 });
  });

  it('resolves racing writers to the furthest status with conditional writes', async () => {
    const actions: JobEvent['action'][] = ['queued', 'in_progress', 'completed', 'queued', 'in_progress', 'queued'];
    await Promise.all(actions.map((action, i) => recordJobEvent(dynamo.doc, table, event(action, 6, T0 + i))));
    const job = await readJob(dynamo.doc, table, 6);
    expect(job?.status).toBe('completed');
    expect(job!.rev).toBeLessThanOrEqual(3);
  });

  it('closes a job (the reconcile found it finished at GitHub)', async () => {
    await recordJobEvent(dynamo.doc, table, event('queued', 7));
    const job = { jobId: 7, pool: 'default', status: 'queued' as const, repository: 'acme/app', labels: ['linux'], runId: 77 };
    const remote = { id: 7, runId: 77, repository: 'acme/app', status: 'completed', conclusion: 'cancelled', labels: ['linux'], runnerName: null, createdAt: null };
    const closed = await recordJobEvent(dynamo.doc, table, repairFromRemote(job, remote, T0 + 10)!);
    expect(closed.record).toMatchObject({ status: 'completed', conclusion: 'cancelled', updatedBy: 'reconcile' });
    expect(await listOpenJobs(dynamo.doc, table, 'default')).toEqual([]);
  });
});

describe('coveredByNewerScaleOut (pure)', () => {
  const claim = (kind: 'scale_out' | 'scale_in', version: number, target: number) => ({ executionId: 'w', kind, target, version, at: T0 });
  it('is covered only by a newer scale-out claim that asks for at least our target', () => {
    expect(coveredByNewerScaleOut(claim('scale_out', 4, 10), 3, 10)).toBe(true);
    expect(coveredByNewerScaleOut(claim('scale_out', 4, 11), 3, 10)).toBe(true);
    expect(coveredByNewerScaleOut(claim('scale_out', 4, 9), 3, 10)).toBe(false);
    // A scale-in lowers capacity: never a cover.
    expect(coveredByNewerScaleOut(claim('scale_in', 4, 50), 3, 10)).toBe(false);
    // Not newer than what we observed (cannot happen after a refusal, but never trusted).
    expect(coveredByNewerScaleOut(claim('scale_out', 3, 50), 3, 10)).toBe(false);
    expect(coveredByNewerScaleOut(null, 3, 10)).toBe(false);
  });
});

describe('activity item (dynalite)', () => {
  let dynamo: LocalDynamo;
  let table: string;
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  beforeEach(async () => {
    table = await dynamo.createTable();
  });
  afterAll(async () => {
    await dynamo.stop();
  });

  const claim = (observedVersion: number, executionId: string, kind: 'scale_out' | 'scale_in' = 'scale_out') =>
    claimVersion(dynamo.doc, table, 'default', { observedVersion, executionId, kind, target: 3, now: T0 });

  it('lets exactly one of two executions claim the same observed version', async () => {
    const results = await Promise.all([claim(0, 'a'), claim(0, 'b'), claim(0, 'c')]);
    expect(results.filter((r) => r.claimed)).toHaveLength(1);
    const winner = ['a', 'b', 'c'][results.findIndex((r) => r.claimed)];
    // The refused ones learn who won and with what target (what coveredByNewerScaleOut needs, without another read).
    const refusal = { claimed: false, currentVersion: 1, currentClaim: { executionId: winner, kind: 'scale_out', target: 3, version: 1, at: T0 } };
    expect(results.filter((r) => !r.claimed)).toEqual([refusal, refusal]);
    expect((await readActivity(dynamo.doc, table, 'default')).lastScaleOutAt).toBe(T0);
  });

  it('is idempotent for the execution that claimed (a retry after a partial failure)', async () => {
    expect(await claim(0, 'a')).toEqual({ claimed: true, version: 1 });
    expect(await claim(0, 'a')).toEqual({ claimed: true, version: 1 });
    expect(await claim(0, 'b')).toMatchObject({ claimed: false, currentVersion: 1, currentClaim: { executionId: 'a' } });
    expect(await claim(1, 'b', 'scale_in')).toEqual({ claimed: true, version: 2 });
    // `a` retrying now is refused: a newer claim exists.
    expect(await claim(0, 'a')).toMatchObject({ claimed: false, currentVersion: 2, currentClaim: { executionId: 'b', kind: 'scale_in' } });
    const activity = await readActivity(dynamo.doc, table, 'default');
    expect(activity).toMatchObject({ version: 2, lastScaleOutAt: T0, lastScaleInAt: T0, claim: { executionId: 'b', kind: 'scale_in', version: 2 } });
  });

  it('writes a decision in one request below the limit and two at it (append, one trim)', async () => {
    const entry = (i: number): DecisionEntry => ({
      at: new Date(T0 + i).toISOString(), executionId: `e${i}`, trigger: 'workflow_job', action: 'none', current: 1, target: 1, desired: 1,
      counts: { queued: 0 }, reason: `r${i}`, applied: false, stale: false,
    });
    const updates: number[] = [];
    let current = 0;
    dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        if ((context as { commandName?: string }).commandName === 'UpdateItemCommand') current += 1;
        return next(args);
      },
      { step: 'initialize', name: 'countDecisionWrites' },
    );
    try {
      for (let i = 0; i < RECENT_DECISIONS + 3; i++) {
        current = 0;
        await recordDecision(dynamo.doc, table, 'default', entry(i));
        updates.push(current);
      }
    } finally {
      dynamo.client.middlewareStack.remove('countDecisionWrites');
    }
    expect(updates).toEqual([...Array(RECENT_DECISIONS).fill(1), 2, 2, 2]);
    const activity = await readActivity(dynamo.doc, table, 'default');
    expect(activity.decisions.map((d) => d.executionId)).toEqual(Array.from({ length: RECENT_DECISIONS }, (_, i) => `e${i + 3}`));
  });

  it('keeps the last 20 decisions, even with concurrent writers', async () => {
    const entry = (i: number): DecisionEntry => ({
      at: new Date(T0 + i).toISOString(), executionId: `e${i}`, trigger: 'workflow_job', action: 'none', current: 1, target: 1, desired: 1,
      counts: { queued: 0 }, reason: `r${i}`, applied: false, stale: false,
    });
    await Promise.all(Array.from({ length: 30 }, (_, i) => recordDecision(dynamo.doc, table, 'default', entry(i))));
    const activity = await readActivity(dynamo.doc, table, 'default');
    expect(activity.decisions).toHaveLength(RECENT_DECISIONS);
    expect(activity.lastDecision?.executionId).toMatch(/^e\d+$/);
    expect(activity.version).toBe(0);
  });
});
