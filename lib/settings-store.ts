import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchGetItems } from './batch-get';
import { isDeepStrictEqual } from 'node:util';
import { keys } from './table';
import { DEFAULT_SETTINGS, RETIRED_SETTINGS, resolveSettings, settingsSchema, type ResolvedSettings, type Settings } from './settings';

/**
 * Settings as stored in DynamoDB: `SETTINGS#<pool>` (edited by operators, with
 * a `version` for optimistic locking), `SETTINGS_LKG#<pool>` (the last valid
 * settings, written by the autoscaler so a later typo falls back to them) and
 * the legacy `settings_cooldown` item.
 */
export interface StoredSettings extends ResolvedSettings {
  /** Version of the SETTINGS item (0 when the item does not exist). */
  version: number;
  item: Record<string, unknown> | undefined;
  /** The stored last-valid copy, when it is itself valid. */
  lastValid: Settings | undefined;
}

export class SettingsConflictError extends Error {
  constructor(pool: string, expectedVersion: number) {
    super(`settings for pool "${pool}" changed since version ${expectedVersion} was read; re-read and try again`);
    this.name = 'SettingsConflictError';
  }
}

/**
 * The three settings items in one BatchGetItem (consistent reads): it is read
 * by every execution, so one request instead of three.
 */
async function readSettingsItems(doc: DynamoDBDocumentClient, tableName: string, pool: string): Promise<Map<string, Record<string, unknown>>> {
  const items = await batchGetItems(doc, tableName, [keys.settings(pool), keys.lastValidSettings(pool), keys.legacyCooldown]);
  return new Map(items.map((item) => [String(item.pk), item]));
}

/** A last-valid copy saved before a setting was retired (labels) is still valid for the settings that remain. */
function withoutRetired(saved: unknown): unknown {
  if (!saved || typeof saved !== 'object') return saved;
  return Object.fromEntries(Object.entries(saved).filter(([key]) => !(key in RETIRED_SETTINGS)));
}

export async function readSettings(doc: DynamoDBDocumentClient, tableName: string, pool: string): Promise<StoredSettings> {
  const items = await readSettingsItems(doc, tableName, pool);
  const item = items.get(keys.settings(pool));
  const lastValidItem = items.get(keys.lastValidSettings(pool));
  const lastValidParsed = lastValidItem ? settingsSchema.safeParse(withoutRetired(lastValidItem.settings)) : undefined;
  const lastValid = lastValidParsed?.success ? lastValidParsed.data : undefined;
  const resolved = resolveSettings(item, lastValid ?? DEFAULT_SETTINGS, items.get(keys.legacyCooldown));
  return { ...resolved, version: Number(item?.version ?? 0), item, lastValid };
}

/** Whether LoadSettings should store `stored.settings` as the new last-valid copy: clean, from a real item, and different. */
export function shouldSaveLastValid(stored: StoredSettings): boolean {
  return stored.problems.length === 0 && stored.item !== undefined && !isDeepStrictEqual(stored.lastValid, stored.settings);
}

/** Remembers settings that validated cleanly, so a later typo falls back to them rather than to the defaults. */
export async function saveLastValidSettings(doc: DynamoDBDocumentClient, tableName: string, pool: string, settings: Settings, now = Date.now()): Promise<void> {
  await doc.send(
    new PutCommand({ TableName: tableName, Item: { pk: keys.lastValidSettings(pool), settings, savedAt: new Date(now).toISOString() } }),
  );
}

/**
 * Writes a full, already validated settings item, only if nobody changed it
 * since `expectedVersion` was read (0 = the item must not exist yet).
 */
export async function writeSettings(
  doc: DynamoDBDocumentClient,
  tableName: string,
  pool: string,
  settings: Settings,
  expectedVersion: number,
  updatedBy = 'runner-autoscaler',
  now = Date.now(),
): Promise<number> {
  const valid = settingsSchema.parse(settings);
  const version = expectedVersion + 1;
  try {
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: { pk: keys.settings(pool), ...valid, version, updatedAt: new Date(now).toISOString(), updatedBy },
        ConditionExpression: expectedVersion === 0 ? 'attribute_not_exists(pk) OR attribute_not_exists(version)' : 'version = :expected',
        ...(expectedVersion === 0 ? {} : { ExpressionAttributeValues: { ':expected': expectedVersion } }),
      }),
    );
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException || (error as { name?: string }).name === 'ConditionalCheckFailedException') {
      throw new SettingsConflictError(pool, expectedVersion);
    }
    throw error;
  }
  return version;
}
