import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BootHealth } from './boot-health';
import { keys } from './table';

/**
 * The last boot-health check of the reconcile, on the pool's activity item
 * (attribute `bootHealth`), where `status` and `doctor` read it.
 */
export interface BootHealthRecord {
  /** ISO 8601: when the reconcile checked. */
  at: string;
  /** ISO 8601: the start of the period it looked at. */
  since: string;
  departures: number;
  leftWithoutJob: number;
  leftWhileJobsWaited: number;
  /** The first instance ids that left while jobs waited (at most INSTANCE_IDS_KEPT). */
  instanceIds: string[];
  crashLoop: boolean;
}

const INSTANCE_IDS_KEPT = 20;
const ATTRIBUTE = 'bootHealth';

/** Pure: the record of one check. */
export function bootHealthRecord(health: BootHealth, departures: number, since: number, now: number): BootHealthRecord {
  return {
    at: new Date(now).toISOString(),
    since: new Date(since).toISOString(),
    departures,
    leftWithoutJob: health.leftWithoutJob.length,
    leftWhileJobsWaited: health.leftWhileJobsWaited.length,
    instanceIds: health.leftWhileJobsWaited.slice(0, INSTANCE_IDS_KEPT),
    crashLoop: health.crashLoop,
  };
}

export async function writeBootHealth(doc: DynamoDBDocumentClient, tableName: string, pool: string, record: BootHealthRecord): Promise<void> {
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk: keys.activity(pool) },
      UpdateExpression: 'SET #health = :health, #pool = :pool',
      ExpressionAttributeNames: { '#health': ATTRIBUTE, '#pool': 'pool' },
      ExpressionAttributeValues: { ':health': record, ':pool': pool },
    }),
  );
}

/** Pure: a stored value as a record, or null when absent or not one. */
export function parseBootHealth(value: unknown): BootHealthRecord | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Record<string, unknown>;
  const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  if (typeof v.at !== 'string' || typeof v.crashLoop !== 'boolean') return null;
  return {
    at: v.at,
    since: typeof v.since === 'string' ? v.since : v.at,
    departures: n(v.departures),
    leftWithoutJob: n(v.leftWithoutJob),
    leftWhileJobsWaited: n(v.leftWhileJobsWaited),
    instanceIds: Array.isArray(v.instanceIds) ? v.instanceIds.map(String) : [],
    crashLoop: v.crashLoop,
  };
}

export async function readBootHealth(doc: DynamoDBDocumentClient, tableName: string, pool: string): Promise<BootHealthRecord | null> {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: { pk: keys.activity(pool) }, ProjectionExpression: '#health', ExpressionAttributeNames: { '#health': ATTRIBUTE }, ConsistentRead: true }),
  );
  return parseBootHealth(Item?.[ATTRIBUTE]);
}
