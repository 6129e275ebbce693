import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keys } from './table';

/**
 * The pool's scaling activity, item `ACTIVITY#<pool>`: when it last scaled
 * out/in or reconciled, the recent decisions, and a `version` that every
 * applied decision bumps with a conditional update. An execution acts only if
 * the version it observed is still current, so two executions cannot both act
 * on the same stale view of the fleet.
 */
export const RECENT_DECISIONS = 20;

export type ClaimKind = 'scale_out' | 'scale_in';

export interface DecisionEntry {
  at: string;
  executionId: string;
  trigger: string;
  action: string;
  current: number | null;
  target: number | null;
  desired: number | null;
  counts: Record<string, number> | null;
  reason: string;
  applied: boolean;
  stale: boolean;
  /** The first instance ids (all of them up to 20). */
  victims?: string[];
  /** How many there were, when more than `victims` lists. */
  victimCount?: number;
}

export interface ActivityClaim {
  executionId: string;
  kind: ClaimKind;
  /** Desired capacity the claiming execution is applying. */
  target: number;
  version: number;
  at: number;
}

export interface Activity {
  pool: string;
  version: number;
  lastScaleOutAt: number | null;
  lastScaleInAt: number | null;
  lastReconcileAt: number | null;
  lastDecision: DecisionEntry | null;
  decisions: DecisionEntry[];
  claim: ActivityClaim | null;
  lastFailure: { at: string; executionId: string; error: string; cause: string } | null;
}

export function emptyActivity(pool: string): Activity {
  return {
    pool,
    version: 0,
    lastScaleOutAt: null,
    lastScaleInAt: null,
    lastReconcileAt: null,
    lastDecision: null,
    decisions: [],
    claim: null,
    lastFailure: null,
  };
}

const num = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

export async function readActivity(doc: DynamoDBDocumentClient, tableName: string, pool: string): Promise<Activity> {
  const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: keys.activity(pool) }, ConsistentRead: true }));
  if (!Item) return emptyActivity(pool);
  return {
    pool,
    version: num(Item.version) ?? 0,
    lastScaleOutAt: num(Item.lastScaleOutAt),
    lastScaleInAt: num(Item.lastScaleInAt),
    lastReconcileAt: num(Item.lastReconcileAt),
    lastDecision: (Item.lastDecision as DecisionEntry | undefined) ?? null,
    decisions: Array.isArray(Item.decisions) ? (Item.decisions as DecisionEntry[]) : [],
    claim: (Item.claim as ActivityClaim | undefined) ?? null,
    lastFailure: (Item.lastFailure as Activity['lastFailure']) ?? null,
  };
}

/**
 * Pure: after a refused scale-out claim, whether the claim that won already
 * asks for at least our target. Demand is a count, so a newer scale-out to
 * `>= target` covers every job we counted; its owner applies the latest
 * claim's target (see scaleOut), and a scale-in claimed after it observed
 * after our ledger write. Re-observing would only find nothing to add.
 */
export function coveredByNewerScaleOut(currentClaim: ActivityClaim | null, observedVersion: number, target: number): boolean {
  return currentClaim !== null && currentClaim.kind === 'scale_out' && currentClaim.version > observedVersion && currentClaim.target >= target;
}

function isConditionalFailure(error: unknown): boolean {
  return error instanceof ConditionalCheckFailedException || (error as { name?: string })?.name === 'ConditionalCheckFailedException';
}

export type ClaimResult = { claimed: true; version: number } | { claimed: false; currentVersion: number; currentClaim: ActivityClaim | null };

/**
 * Bumps the version from `observedVersion` to `observedVersion + 1` and stamps
 * the scale time, only if nobody else moved it. Idempotent for one execution:
 * a retry after a partial failure (claim written, AWS call failed) finds its
 * own claim and is not refused by it.
 */
export async function claimVersion(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pool: string,
  request: { observedVersion: number; executionId: string; kind: ClaimKind; target: number; now: number },
): Promise<ClaimResult> {
  const { observedVersion, executionId, kind, target, now } = request;
  const next = observedVersion + 1;
  const claim: ActivityClaim = { executionId, kind, target, version: next, at: now };
  const stamp = kind === 'scale_out' ? 'lastScaleOutAt' : 'lastScaleInAt';
  try {
    await doc.send(
      new UpdateCommand({
        TableName: tableName,
        Key: { pk: keys.activity(pool) },
        UpdateExpression: `SET #version = :next, #claim = :claim, #stamp = :now`,
        ConditionExpression:
          (observedVersion === 0 ? '(attribute_not_exists(#version) OR #version = :observed)' : '#version = :observed') +
          ' OR (#version = :next AND #claim.executionId = :executionId)',
        ExpressionAttributeNames: { '#version': 'version', '#claim': 'claim', '#stamp': stamp },
        ExpressionAttributeValues: { ':observed': observedVersion, ':next': next, ':claim': claim, ':now': now, ':executionId': executionId },
      }),
    );
    return { claimed: true, version: next };
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const current = await readActivity(doc, tableName, pool);
    return { claimed: false, currentVersion: current.version, currentClaim: current.claim };
  }
}

/** Appends a decision to the recent list (keeps the last RECENT_DECISIONS) and sets lastDecision. */
export async function recordDecision(doc: DynamoDBDocumentClient, tableName: string, pool: string, entry: DecisionEntry): Promise<void> {
  const appended = await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk: keys.activity(pool) },
      UpdateExpression: 'SET #decisions = list_append(if_not_exists(#decisions, :empty), :entry), #last = :last, #pool = :pool',
      ExpressionAttributeNames: { '#decisions': 'decisions', '#last': 'lastDecision', '#pool': 'pool' },
      ExpressionAttributeValues: { ':empty': [], ':entry': [entry], ':last': entry, ':pool': pool },
      ReturnValues: 'UPDATED_NEW',
    }),
  );
  const length = Array.isArray(appended.Attributes?.decisions) ? appended.Attributes.decisions.length : RECENT_DECISIONS + 1;
  // Trim one at a time under a size condition, only as many as the append showed are over the limit:
  // concurrent appenders can never cut below it, and under the limit no trim is attempted at all.
  for (let i = 0; i < Math.min(5, length - RECENT_DECISIONS); i++) {
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: keys.activity(pool) },
          UpdateExpression: 'REMOVE #decisions[0]',
          ConditionExpression: 'size(#decisions) > :limit',
          ExpressionAttributeNames: { '#decisions': 'decisions' },
          ExpressionAttributeValues: { ':limit': RECENT_DECISIONS },
        }),
      );
    } catch (error) {
      if (isConditionalFailure(error)) return;
      throw error;
    }
  }
}

export async function recordReconcile(doc: DynamoDBDocumentClient, tableName: string, pool: string, now: number): Promise<void> {
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk: keys.activity(pool) },
      UpdateExpression: 'SET #at = :now, #pool = :pool',
      ExpressionAttributeNames: { '#at': 'lastReconcileAt', '#pool': 'pool' },
      ExpressionAttributeValues: { ':now': now, ':pool': pool },
    }),
  );
}

export async function recordFailure(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pool: string,
  failure: { at: string; executionId: string; error: string; cause: string },
): Promise<void> {
  await doc.send(
    new UpdateCommand({
      TableName: tableName,
      Key: { pk: keys.activity(pool) },
      UpdateExpression: 'SET #failure = :failure, #pool = :pool ADD #failures :one',
      ExpressionAttributeNames: { '#failure': 'lastFailure', '#pool': 'pool', '#failures': 'failureCount' },
      ExpressionAttributeValues: { ':failure': failure, ':pool': pool, ':one': 1 },
    }),
  );
}
