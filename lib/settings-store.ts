import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { keys } from './table';
import { DEFAULT_SETTINGS, resolveSettings, settingsSchema, type ResolvedSettings, type Settings } from './settings';

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
}

export class SettingsConflictError extends Error {
  constructor(pool: string, expectedVersion: number) {
    super(`settings for pool "${pool}" changed since version ${expectedVersion} was read; re-read and try again`);
    this.name = 'SettingsConflictError';
  }
}

export async function readSettings(doc: DynamoDBDocumentClient, tableName: string, pool: string): Promise<StoredSettings> {
  const [item, lastValid, legacy] = await Promise.all(
    [keys.settings(pool), keys.lastValidSettings(pool), keys.legacyCooldown].map(async (pk) =>
      (await doc.send(new GetCommand({ TableName: tableName, Key: { pk }, ConsistentRead: true }))).Item,
    ),
  );
  const lastValidParsed = lastValid ? settingsSchema.safeParse(lastValid.settings) : undefined;
  const fallback: Settings = lastValidParsed?.success ? lastValidParsed.data : DEFAULT_SETTINGS;
  const resolved = resolveSettings(item, fallback, legacy);
  return { ...resolved, version: Number(item?.version ?? 0), item };
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
