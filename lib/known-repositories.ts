import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keys } from './table';

/**
 * The repositories this pool's jobs came from lately, item `REPOS#<pool>`: `{ repositories: { "owner/name":
 * lastSeenMs } }`, written by the reconcile from the repositories of the ledger's open jobs and of the queued
 * jobs it found. The next reconciles search these before the recently pushed ones, so a repository whose
 * workflows run on a schedule (never pushed) stays searched for a week after its last job of ours, even
 * while none of its jobs is open. One read and one write per reconcile.
 */
export const KNOWN_REPOSITORY_DAYS = 7;
export const MAX_KNOWN_REPOSITORIES = 200;

export type KnownRepositories = Record<string, number>;

/** Pure: `previous` with `seen` marked at `now`, those older than a week dropped, the 200 seen last kept. */
export function mergeKnownRepositories(previous: KnownRepositories, seen: Iterable<string>, now: number): KnownRepositories {
  const merged = new Map(Object.entries(previous));
  for (const name of seen) if (name) merged.set(name, now);
  const oldest = now - KNOWN_REPOSITORY_DAYS * 24 * 3600_000;
  const kept = [...merged.entries()].filter(([, at]) => typeof at === 'number' && at >= oldest).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return Object.fromEntries(kept.slice(0, MAX_KNOWN_REPOSITORIES));
}

/** Pure: the names, seen last first. */
export function knownRepositoryNames(known: KnownRepositories): string[] {
  return Object.entries(known)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([name]) => name);
}

export async function readKnownRepositories(doc: DynamoDBDocumentClient, tableName: string, pool: string): Promise<KnownRepositories> {
  const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: keys.knownRepositories(pool) } }));
  const value = Item?.repositories;
  if (!value || typeof value !== 'object') return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).filter((entry): entry is [string, number] => typeof entry[1] === 'number'));
}

export async function writeKnownRepositories(doc: DynamoDBDocumentClient, tableName: string, pool: string, known: KnownRepositories, now: number): Promise<void> {
  await doc.send(
    new PutCommand({
      TableName: tableName,
      Item: { pk: keys.knownRepositories(pool), repositories: known, updatedAt: new Date(now).toISOString(), expiresAt: Math.floor(now / 1000) + KNOWN_REPOSITORY_DAYS * 24 * 3600 },
    }),
  );
}
