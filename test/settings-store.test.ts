import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { startDynalite, type LocalDynamo } from './support/dynalite';
import { readSettings, saveLastValidSettings, SettingsConflictError, writeSettings } from '../lib/settings-store';
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
});
