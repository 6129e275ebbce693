import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startDynalite, type LocalDynamo } from './support/dynalite';
import { readSettings, saveLastValidSettings, SettingsConflictError, shouldSaveLastValid, writeSettings } from '../lib/settings-store';
import { DEFAULT_SETTINGS } from '../lib/settings';

let dynamo: LocalDynamo;
let table: string;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(() => dynamo.stop());
beforeEach(async () => {
  table = await dynamo.createTable();
});

describe('settings store (dynalite)', () => {
  it('returns the defaults when nothing is stored', async () => {
    const stored = await readSettings(dynamo.doc, table, 'default');
    expect(stored.settings).toEqual(DEFAULT_SETTINGS);
    expect(stored.problems).toEqual([]);
    expect(stored.version).toBe(0);
  });

  it('keeps valid fields, reports bad ones and falls back to the last valid value', async () => {
    await saveLastValidSettings(dynamo.doc, table, 'default', { ...DEFAULT_SETTINGS, max: 42, headroom: 3 });
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { pk: 'SETTINGS#default', version: 4, floor: 2, headroom: 'lots', mx: 5 } }));
    const stored = await readSettings(dynamo.doc, table, 'default');
    expect(stored.settings).toMatchObject({ floor: 2, max: 42, headroom: 3 });
    expect(stored.problems.map((p) => p.key).sort()).toEqual(['headroom', 'mx']);
    expect(stored.version).toBe(4);
  });

  it('reads the legacy settings_cooldown item (milliseconds) as the scale-in cooldown', async () => {
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { pk: 'settings_cooldown', value: 120000 } }));
    expect((await readSettings(dynamo.doc, table, 'default')).settings.scaleInCooldownSeconds).toBe(120);
  });

  it('refuses a write based on a stale version (no lost update)', async () => {
    const v1 = await writeSettings(dynamo.doc, table, 'default', { ...DEFAULT_SETTINGS, max: 20 }, 0);
    expect(v1).toBe(1);
    await writeSettings(dynamo.doc, table, 'default', { ...DEFAULT_SETTINGS, max: 30 }, 1);
    await expect(writeSettings(dynamo.doc, table, 'default', { ...DEFAULT_SETTINGS, max: 40 }, 1)).rejects.toBeInstanceOf(SettingsConflictError);
    expect((await readSettings(dynamo.doc, table, 'default')).settings.max).toBe(30);
  });

  it('reads the three settings items in one request', async () => {
    const operations: string[] = [];
    dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        operations.push(String((context as { commandName?: string }).commandName));
        return next(args);
      },
      { step: 'initialize', name: 'countSettingsReads' },
    );
    try {
      await dynamo.doc.send(new PutCommand({ TableName: table, Item: { pk: 'settings_cooldown', value: 60000 } }));
      await saveLastValidSettings(dynamo.doc, table, 'default', { ...DEFAULT_SETTINGS, max: 42 });
      await writeSettings(dynamo.doc, table, 'default', { ...DEFAULT_SETTINGS, headroom: 4 }, 0);
      operations.length = 0;
      const stored = await readSettings(dynamo.doc, table, 'default');
      expect(operations).toEqual(['BatchGetItemCommand']);
      // All three items arrived: the stored item's own value, the last-valid copy, and the legacy item's cooldown is ignored because the item sets one.
      expect(stored.settings.headroom).toBe(4);
      expect(stored.lastValid?.max).toBe(42);
      expect(stored.version).toBe(1);
    } finally {
      dynamo.client.middlewareStack.remove('countSettingsReads');
    }
  });

  it('asks for a new last-valid copy only when clean settings differ from the stored copy', async () => {
    await writeSettings(dynamo.doc, table, 'default', { ...DEFAULT_SETTINGS, max: 25 }, 0);
    const first = await readSettings(dynamo.doc, table, 'default');
    expect(shouldSaveLastValid(first)).toBe(true);
    await saveLastValidSettings(dynamo.doc, table, 'default', first.settings);
    // Stored maps come back in another key order: still the same settings.
    expect(shouldSaveLastValid(await readSettings(dynamo.doc, table, 'default'))).toBe(false);
    await writeSettings(dynamo.doc, table, 'default', { ...DEFAULT_SETTINGS, max: 26 }, 1);
    expect(shouldSaveLastValid(await readSettings(dynamo.doc, table, 'default'))).toBe(true);
    // A setting with a problem never becomes the last-valid copy.
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { pk: 'SETTINGS#default', version: 3, max: 'many' } }));
    expect(shouldSaveLastValid(await readSettings(dynamo.doc, table, 'default'))).toBe(false);
  });
});
