import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchGetItems } from './batch-get';
import type { WorkflowJobEvent } from './events';
import { normalizeLabels } from './labels';
import { recordRunnerTookJob } from './runner-jobs';
import {
  COMPLETED_JOB_TTL_SECONDS,
  DELIVERY_TTL_SECONDS,
  keys,
  OPEN_JOB_STATUSES,
  OPEN_JOB_TTL_SECONDS,
  OPEN_JOBS_HASH,
  OPEN_JOBS_INDEX,
  openJobsKey,
  TABLE_KEY,
  type OpenJobStatus,
} from './table';

/**
 * The job ledger: one item per workflow job, the demand side of every scaling
 * decision. A job only moves forward (queued -> in_progress -> completed);
 * redelivered, reordered or late events are no-ops, and a `completed` that
 * arrives before its `queued` is kept as completed. The transition rule is the
 * pure `applyJobEvent`, shared by the DynamoDB ledger below and the simulator.
 */
export type JobStatus = 'queued' | 'in_progress' | 'completed';

export interface JobRecord {
  jobId: number;
  pool: string;
  status: JobStatus;
  repository: string;
  labels: string[];
  runId: number;
  runAttempt: number;
  /** ISO 8601: when GitHub queued the job (or when we first heard of it). */
  queuedAt: string;
  startedAt: string | null;
  completedAt: string | null;
  conclusion: string | null;
  runnerName: string | null;
  /** ISO 8601 of the last change. */
  updatedAt: string;
  /** Where the last change came from: a webhook delivery id, or `reconcile`. */
  updatedBy: string;
  /** Revision for optimistic concurrency: every stored change bumps it. */
  rev: number;
  /** Epoch seconds (DynamoDB TTL). */
  expiresAt: number;
}

export interface JobEvent {
  pool: string;
  jobId: number;
  action: 'queued' | 'waiting' | 'in_progress' | 'completed';
  repository: string;
  labels: string[];
  runId: number;
  runAttempt?: number;
  /** When GitHub created the job (ISO), if known. */
  createdAt?: string | null;
  startedAt?: string | null;
  completedAt?: string | null;
  conclusion?: string | null;
  runnerName?: string | null;
  /** Epoch milliseconds at which we handle the event. */
  at: number;
  /** Delivery id, or `reconcile`. */
  source: string;
}

export interface JobTransition {
  /** The record after the event (the existing one when nothing changed). */
  record: JobRecord;
  changed: boolean;
  previous: JobStatus | null;
  reason: string;
}

const RANK: Record<JobStatus, number> = { queued: 1, in_progress: 2, completed: 3 };

export function statusOfAction(action: JobEvent['action']): JobStatus {
  return action === 'waiting' ? 'queued' : action;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Pure: the ledger record after `event`, given the stored record (if any).
 * Never moves a job backwards; an event for the same or an earlier status is
 * a no-op (`changed: false`), which is what makes redeliveries harmless.
 */
export function applyJobEvent(existing: JobRecord | undefined | null, event: JobEvent): JobTransition {
  const status = statusOfAction(event.action);
  const when = iso(event.at);
  if (existing) {
    if (RANK[status] <= RANK[existing.status]) {
      return { record: existing, changed: false, previous: existing.status, reason: `${event.action} after ${existing.status}: no-op` };
    }
    const record: JobRecord = {
      ...existing,
      status,
      startedAt: existing.startedAt ?? (status === 'in_progress' || status === 'completed' ? (event.startedAt ?? when) : null),
      completedAt: status === 'completed' ? (event.completedAt ?? when) : null,
      conclusion: status === 'completed' ? (event.conclusion ?? null) : existing.conclusion,
      runnerName: event.runnerName ?? existing.runnerName,
      updatedAt: when,
      updatedBy: event.source,
      rev: existing.rev + 1,
      expiresAt: expiry(status, event.at),
    };
    return { record, changed: true, previous: existing.status, reason: `${existing.status} -> ${status}` };
  }
  const record: JobRecord = {
    jobId: event.jobId,
    pool: event.pool,
    status,
    repository: event.repository,
    labels: normalizeLabels(event.labels),
    runId: event.runId,
    runAttempt: event.runAttempt ?? 1,
    queuedAt: event.createdAt ?? when,
    startedAt: status === 'queued' ? null : (event.startedAt ?? when),
    completedAt: status === 'completed' ? (event.completedAt ?? when) : null,
    conclusion: status === 'completed' ? (event.conclusion ?? null) : null,
    runnerName: event.runnerName ?? null,
    updatedAt: when,
    updatedBy: event.source,
    rev: 1,
    expiresAt: expiry(status, event.at),
  };
  return { record, changed: true, previous: null, reason: `new job: ${status}` };
}

function expiry(status: JobStatus, at: number): number {
  return Math.floor(at / 1000) + (status === 'completed' ? COMPLETED_JOB_TTL_SECONDS : OPEN_JOB_TTL_SECONDS);
}

/** Pure: the ledger's view of a slim webhook event. */
export function jobEventFromWorkflowJob(detail: WorkflowJobEvent, pool: string, at: number): JobEvent {
  return {
    pool,
    jobId: detail.jobId,
    action: detail.action,
    repository: detail.repository,
    labels: detail.labels,
    runId: detail.runId,
    runAttempt: detail.runAttempt,
    createdAt: detail.createdAt,
    startedAt: detail.startedAt,
    completedAt: detail.completedAt,
    conclusion: detail.conclusion,
    runnerName: detail.runnerName,
    at,
    source: detail.deliveryId,
  };
}

/** Pure: the DynamoDB item of a record. Open jobs carry `openKey` (`<pool>#<status>`), which puts them in the sparse `open-jobs` index. */
export function jobItem(record: JobRecord): Record<string, unknown> {
  return {
    pk: keys.job(record.jobId),
    ...record,
    ...(record.status === 'completed' ? {} : { [OPEN_JOBS_HASH]: openJobsKey(record.pool, record.status) }),
  };
}

export function jobFromItem(item: Record<string, any>): JobRecord {
  return {
    jobId: Number(item.jobId),
    pool: String(item.pool),
    status: item.status as JobStatus,
    repository: String(item.repository ?? ''),
    labels: Array.isArray(item.labels) ? item.labels.map(String) : [],
    runId: Number(item.runId ?? 0),
    runAttempt: Number(item.runAttempt ?? 1),
    queuedAt: String(item.queuedAt),
    startedAt: item.startedAt ?? null,
    completedAt: item.completedAt ?? null,
    conclusion: item.conclusion ?? null,
    runnerName: item.runnerName ?? null,
    updatedAt: String(item.updatedAt ?? item.queuedAt),
    updatedBy: String(item.updatedBy ?? ''),
    rev: Number(item.rev ?? 0),
    expiresAt: Number(item.expiresAt ?? 0),
  };
}

function isConditionalFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

export class LedgerConflictError extends Error {
  constructor(jobId: number, attempts: number) {
    super(`job ${jobId}: the ledger item kept changing under ${attempts} conditional writes; retry later`);
    this.name = 'LedgerConflictError';
  }
}

/**
 * Remembers a webhook delivery id. `duplicate` when another execution already
 * recorded it; the same execution (a retry after a partial failure) gets `new`
 * again, so its retry is not refused by its own earlier write.
 */
export async function recordDelivery(
  doc: DynamoDBDocumentClient,
  tableName: string,
  deliveryId: string,
  executionId: string,
  now: number,
): Promise<'new' | 'duplicate'> {
  try {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { pk: keys.delivery(deliveryId), executionId, receivedAt: iso(now), expiresAt: Math.floor(now / 1000) + DELIVERY_TTL_SECONDS },
        ConditionExpression: 'attribute_not_exists(pk) OR executionId = :executionId',
        ExpressionAttributeValues: { ':executionId': executionId },
      }),
    );
    return 'new';
  } catch (error) {
    if (isConditionalFailure(error)) return 'duplicate';
    throw error;
  }
}

export async function readJob(doc: DynamoDBDocumentClient, tableName: string, jobId: number): Promise<JobRecord | undefined> {
  const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: keys.job(jobId) }, ConsistentRead: true }));
  return Item ? jobFromItem(Item) : undefined;
}

/**
 * Applies an event to the stored job with a conditional write on the item's
 * revision (or its absence), re-reading on a conflict: two executions racing
 * on one job both end with the furthest status, never a step back.
 */
export async function recordJobEvent(doc: DynamoDBDocumentClient, tableName: string, event: JobEvent, maxAttempts = 5): Promise<JobTransition> {
  // A queued event is nearly always a job's first: write it as new straight away (the condition refuses
  // it if the job exists), and read the stored job only then. That is one call, not two, per queued job.
  let assumeNew = statusOfAction(event.action) === 'queued';
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const existing = assumeNew ? undefined : await readJob(doc, tableName, event.jobId);
    assumeNew = false;
    const transition = applyJobEvent(existing, event);
    if (!transition.changed) return transition;
    // Which runner took the job, for the reconcile's boot-failure check (lib/runner-jobs.ts). Before the job's
    // write: a retry after a failure in between finds the job already moved and would not come back here.
    const runnerName = transition.record.runnerName;
    if (runnerName && runnerName !== existing?.runnerName) await recordRunnerTookJob(doc, tableName, runnerName, event.jobId, event.at);
    try {
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: jobItem(transition.record),
          ConditionExpression: existing ? '#rev = :rev' : 'attribute_not_exists(pk)',
          ...(existing ? { ExpressionAttributeNames: { '#rev': 'rev' }, ExpressionAttributeValues: { ':rev': existing.rev } } : {}),
        }),
      );
      return transition;
    } catch (error) {
      if (!isConditionalFailure(error)) throw error;
    }
  }
  throw new LedgerConflictError(event.jobId, maxAttempts);
}

/** Every page of one open-jobs index partition (the keys the index projects). */
async function* openJobKeyPages(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pool: string,
  status: OpenJobStatus,
  select?: 'COUNT',
): AsyncGenerator<{ keys: Array<Record<string, unknown>>; count: number }> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: tableName,
        IndexName: OPEN_JOBS_INDEX,
        KeyConditionExpression: '#open = :open',
        ExpressionAttributeNames: { '#open': OPEN_JOBS_HASH },
        ExpressionAttributeValues: { ':open': openJobsKey(pool, status) },
        ...(select ? { Select: select } : {}),
        ExclusiveStartKey: startKey,
      }),
    );
    yield { keys: page.Items ?? [], count: page.Count ?? 0 };
    startKey = page.LastEvaluatedKey;
  } while (startKey);
}

/**
 * Every open (queued or in-progress) job of the pool, oldest first: the keys
 * from both index partitions, then the items themselves (the index projects
 * keys only), read consistently, so a job that completed since the index was
 * written is not listed.
 */
export async function listOpenJobs(doc: DynamoDBDocumentClient, tableName: string, pool: string): Promise<JobRecord[]> {
  const pks = new Set<string>();
  for (const status of OPEN_JOB_STATUSES) {
    for await (const page of openJobKeyPages(doc, tableName, pool, status)) for (const key of page.keys) pks.add(String(key[TABLE_KEY]));
  }
  const jobs = (await batchGetItems(doc, tableName, [...pks])).map(jobFromItem).filter((job) => job.status !== 'completed');
  return jobs.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt) || a.jobId - b.jobId);
}

/**
 * Demand of the pool: one COUNT query per status over the keys-only index,
 * both at once. The index is eventually consistent (usually within a
 * second); a job the index has not caught up with is counted by the next
 * execution, and the reconcile repairs anything older.
 */
export async function countOpenJobs(doc: DynamoDBDocumentClient, tableName: string, pool: string): Promise<{ queued: number; inProgress: number }> {
  const [queued, inProgress] = await Promise.all(
    OPEN_JOB_STATUSES.map(async (status) => {
      let count = 0;
      for await (const page of openJobKeyPages(doc, tableName, pool, status, 'COUNT')) count += page.count;
      return count;
    }),
  );
  return { queued, inProgress };
}
