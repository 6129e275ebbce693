import { BatchWriteCommand } from '@aws-sdk/lib-dynamodb';
import { batchGetItems } from '../lib/batch-get';
import { startDynalite, type LocalDynamo } from './support/dynalite';

let dynamo: LocalDynamo;
let table: string;
beforeAll(async () => {
  dynamo = await startDynalite();
  table = await dynamo.createTable();
  const pks = Array.from({ length: 250 }, (_, i) => `ITEM#${i}`);
  for (let i = 0; i < pks.length; i += 25) {
    await dynamo.doc.send(new BatchWriteCommand({ RequestItems: { [table]: pks.slice(i, i + 25).map((pk) => ({ PutRequest: { Item: { pk, n: Number(pk.slice(5)) } } })) } }));
  }
});
afterAll(() => dynamo.stop());

/** A throttled DynamoDB: each answer keeps only `keep` items and hands the rest back as unprocessed (for the first `times` answers). */
function throttle(keep: number, times: number): () => void {
  let answers = 0;
  dynamo.client.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const output = result.output as { Responses?: Record<string, any[]>; UnprocessedKeys?: unknown };
      if (answers++ >= times) return result;
      const responses = output.Responses?.[table] ?? [];
      const handedBack = responses.slice(keep).map((item) => ({ pk: item.pk }));
      output.Responses = { ...output.Responses, [table]: responses.slice(0, keep) };
      output.UnprocessedKeys = handedBack.length ? { [table]: { Keys: handedBack, ConsistentRead: true } } : {};
      return result;
    },
    { step: 'initialize', name: 'throttleBatchGet' },
  );
  return () => dynamo.client.middlewareStack.remove('throttleBatchGet');
}

describe('batchGetItems (dynalite)', () => {
  it('reads more than 100 keys in requests of 100 and leaves out keys with no item', async () => {
    const pks = [...Array.from({ length: 250 }, (_, i) => `ITEM#${i}`), 'ITEM#missing'];
    const items = await batchGetItems(dynamo.doc, table, pks);
    expect(items.map((item) => item.n).sort((a, b) => a - b)).toEqual(Array.from({ length: 250 }, (_, i) => i));
  });

  it('asks again for the keys a throttled answer handed back', async () => {
    const restore = throttle(30, 4);
    try {
      const items = await batchGetItems(dynamo.doc, table, Array.from({ length: 120 }, (_, i) => `ITEM#${i}`));
      expect(new Set(items.map((item) => item.n)).size).toBe(120);
    } finally {
      restore();
    }
  });

  it('gives up with an error, not with items missing, when keys stay unprocessed', async () => {
    const restore = throttle(0, Infinity);
    try {
      await expect(batchGetItems(dynamo.doc, table, ['ITEM#1', 'ITEM#2'])).rejects.toThrow(/2 item\(s\) still unprocessed after 6 BatchGetItem rounds/);
    } finally {
      restore();
    }
  });
});
