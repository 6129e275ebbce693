import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { TABLE_KEY } from './table';

/** BatchGetItem takes at most this many keys. */
const BATCH_GET_LIMIT = 100;
/** Rounds for the keys BatchGetItem hands back unprocessed (throttling), with a growing pause, before giving up. */
const BATCH_GET_ROUNDS = 6;

/**
 * The items of `pks`, read consistently, 100 keys a request; keys with no
 * item are left out, and the order is not the keys' order. Unprocessed keys
 * are asked again; still unprocessed after the last round, it throws rather
 * than answer with items missing.
 */
export async function batchGetItems(doc: DynamoDBDocumentClient, tableName: string, pks: readonly string[]): Promise<Array<Record<string, any>>> {
  const items: Array<Record<string, any>> = [];
  for (let offset = 0; offset < pks.length; offset += BATCH_GET_LIMIT) {
    let pending: Array<Record<string, unknown>> = pks.slice(offset, offset + BATCH_GET_LIMIT).map((pk) => ({ [TABLE_KEY]: pk }));
    for (let round = 0; pending.length > 0; round++) {
      if (round === BATCH_GET_ROUNDS) throw new Error(`${tableName}: ${pending.length} item(s) still unprocessed after ${round} BatchGetItem rounds (throttled)`);
      if (round > 0) await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** round));
      const page = await doc.send(new BatchGetCommand({ RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } } }));
      items.push(...(page.Responses?.[tableName] ?? []));
      pending = page.UnprocessedKeys?.[tableName]?.Keys ?? [];
    }
  }
  return items;
}
