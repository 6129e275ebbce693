import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { decide } from '../../lib/policy';
import { DEFAULT_SETTINGS } from '../../lib/settings';
import { readSettings, writeSettings } from '../../lib/settings-store';
import { keys } from '../../lib/table';
import { parseAssignments, settingRows, settingsDiff } from '../../cli/commands/settings';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { cli, cliProcess } from './support';

let dynamo: LocalDynamo;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

async function freshTable(): Promise<{ table: string; args: string[] }> {
  const table = await dynamo.createTable();
  return { table, args: ['--endpoint', dynamo.endpoint, '--table', table] };
}

async function rawItem(table: string, pool = 'default') {
  return (await dynamo.doc.send(new GetCommand({ TableName: table, Key: { pk: keys.settings(pool) }, ConsistentRead: true }))).Item;
}

describe('settings show', () => {
  it('shows defaults when the pool has no item, each with its default and range', async () => {
    const { args } = await freshTable();
    const result = await cli(['settings', 'show', ...args]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/no settings item, defaults apply/);
    expect(result.stdout).toMatch(/^floor\s+1\s+1\s+0\.\.1000 \(<= max\)\s+not set, using default$/m);
    expect(result.stdout).not.toMatch(/^labels/m); // not a setting: Infrastructure's RunnerLabels
  });

  it('marks invalid stored values and names the fallback the autoscaler uses instead', async () => {
    const { table, args } = await freshTable();
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { pk: keys.settings('default'), floor: 3, max: 'lots', headroom: -2, colour: 'blue', version: 4 } }));
    const result = await cli(['settings', 'show', ...args, '--json']);
    expect(result.code).toBe(0);
    const shown = JSON.parse(result.stdout);
    expect(shown.version).toBe(4);
    const byKey = Object.fromEntries(shown.settings.map((row: { key: string }) => [row.key, row]));
    expect(byKey.floor).toMatchObject({ value: 3, source: 'item', valid: true });
    expect(byKey.max).toMatchObject({ value: DEFAULT_SETTINGS.max, stored: 'lots', source: 'invalid', valid: false, fallback: 'default' });
    expect(byKey.headroom.problem).toMatch(/headroom: .*allowed 0\.\.1000/);
    expect(shown.problems.some((p: string) => /colour: unknown setting/.test(p))).toBe(true);

    const text = await cli(['settings', 'show', ...args]);
    expect(text.stdout).toMatch(/^max\s+10\s+10\s+.*INVALID in item, using default$/m);
    expect(text.stdout).toMatch(/3 problems in the stored item/);
  });
});

describe('settings set', () => {
  it('applies a valid edit that the Lambdas\' loader returns next and the next decision uses', async () => {
    const { table, args } = await freshTable();
    const result = await cli(['settings', 'set', 'floor=2', 'max=20', ...args]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/version 0 -> 1/);
    expect(result.stdout).toMatch(/^\s+floor\s+1\s+->\s+2$/m);
    expect(result.stdout).not.toMatch(/headroom/); // unchanged settings are not listed
    expect(result.stdout).toMatch(/Created the settings item/);

    const stored = await readSettings(dynamo.doc, table, 'default');
    expect(stored.problems).toEqual([]);
    expect(stored.version).toBe(1);
    expect(stored.settings).toEqual({ ...DEFAULT_SETTINGS, floor: 2, max: 20 });
    expect((await rawItem(table))?.updatedBy).toBe('runner-autoscaler-cli');

    // The next decision with no demand and one instance: the new floor of 2 makes it scale out.
    const decision = decide(
      { now: Date.now(), group: { desired: 1, min: 1, max: 20 }, fleet: [], ledger: { queued: 0, inProgress: 0 }, activity: { version: 0 } },
      stored.settings,
    );
    expect(decision).toMatchObject({ action: 'scale_out', target: 2 });

    const second = await cli(['settings', 'set', 'floor=1', ...args]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/version 1 -> 2/);
    expect(second.stdout).toMatch(/^\s+floor\s+2\s+->\s+1$/m);
    expect(second.stdout).not.toMatch(/max/);
    expect((await readSettings(dynamo.doc, table, 'default')).settings.floor).toBe(1);
  });

  it('changes nothing when any change is invalid and prints every problem with the allowed range', async () => {
    const { table, args } = await freshTable();
    await writeSettings(dynamo.doc, table, 'default', { ...DEFAULT_SETTINGS, floor: 2 }, 0);
    const before = await rawItem(table);
    const result = await cli(['settings', 'set', 'headroom=3', 'floor=-1', 'max=abc', 'labels=self-hosted', 'bootTimeoutSeconds=5', 'cooldown=3', ...args]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Nothing changed: 5 problems/);
    expect(result.stderr).toMatch(/floor: .*\(allowed 0\.\.1000 \(<= max\)\)/);
    expect(result.stderr).toMatch(/max: .*\(allowed 1\.\.10000 \(>= floor\)\)/);
    // Labels are set once, in the Infrastructure stack; the CLI says where instead of storing them.
    expect(result.stderr).toMatch(/labels: not a setting; a pool's labels are the Infrastructure stack's RunnerLabels parameter/);
    expect(result.stderr).toMatch(/bootTimeoutSeconds: .*\(allowed 60\.\.3600\)/);
    expect(result.stderr).toMatch(/cooldown: unknown setting \(known: floor, max/);
    expect(await rawItem(table)).toEqual(before);
  });

  it('refuses max below floor, malformed arguments and repeated keys without writing', async () => {
    const { table, args } = await freshTable();
    const crossed = await cli(['settings', 'set', 'floor=50', 'max=10', ...args]);
    expect(crossed.code).toBe(1);
    expect(crossed.stderr).toMatch(/max \(10\) must be >= floor \(50\)/);
    const malformed = await cli(['settings', 'set', 'floor', 'max=3', 'max=4', ...args]);
    expect(malformed.code).toBe(1);
    expect(malformed.stderr).toMatch(/"floor" is not key=value/);
    expect(malformed.stderr).toMatch(/max is given twice/);
    expect(await rawItem(table)).toBeUndefined();
  });

  it('with --dry-run prints the diff and writes nothing', async () => {
    const { table, args } = await freshTable();
    const result = await cli(['settings', 'set', '--dry-run', 'headroom=2', ...args]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Dry run: would update/);
    expect(result.stdout).toMatch(/headroom\s+0\s+->\s+2/);
    expect(await rawItem(table)).toBeUndefined();
  });

  it('refuses an edit based on a version another operator has since replaced (exit 2, nothing written)', async () => {
    const { table, args } = await freshTable();
    await cli(['settings', 'set', 'floor=2', ...args]); // version 1, both operators review it
    const alice = await cli(['settings', 'set', '--if-version', '1', 'max=30', ...args]);
    expect(alice.code).toBe(0);
    const bob = await cli(['settings', 'set', '--if-version', '1', 'max=5', ...args]);
    expect(bob.code).toBe(2);
    expect(bob.stderr).toMatch(/Conflict: settings for pool "default" changed since version 1 was read.*now at version 2.*Nothing was written/);
    const stored = await readSettings(dynamo.doc, table, 'default');
    expect(stored.settings.max).toBe(30);
    expect(stored.version).toBe(2);
  });

  it('lets concurrent edits through one at a time: every success is kept, every loser is told (no lost update)', async () => {
    const { table, args } = await freshTable();
    await cli(['settings', 'set', 'headroom=9', ...args]);
    const values = [1, 2, 3, 4, 5, 6, 7, 8];
    const results = await Promise.all(values.map((v) => cli(['settings', 'set', `headroom=${v}`, ...args])));
    const winners = values.filter((_, i) => results[i].code === 0);
    const losers = results.filter((r) => r.code !== 0);
    expect(winners.length).toBeGreaterThanOrEqual(1);
    for (const loser of losers) {
      expect(loser.code).toBe(2);
      expect(loser.stderr).toMatch(/Conflict: .*Nothing was written/);
    }
    const stored = await readSettings(dynamo.doc, table, 'default');
    // Each success wrote on top of the version it read: versions count the successes exactly.
    expect(stored.version).toBe(1 + winners.length);
    expect(winners).toContain(stored.settings.headroom);
    // Reported diffs chain: each winner's "before" is a value that was stored when it read.
    if (winners.length === 1) expect(stored.settings.headroom).toBe(winners[0]);
  });

  it('fixes invalid stored values to the ones in use when writing, and says so', async () => {
    const { table, args } = await freshTable();
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { pk: keys.settings('default'), floor: 'two', max: 12, version: 3 } }));
    const result = await cli(['settings', 'set', 'headroom=1', ...args]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^\s+floor\s+two\s+->\s+1$/m);
    expect(result.stdout).toMatch(/it now holds the values the autoscaler was using/);
    const stored = await readSettings(dynamo.doc, table, 'default');
    expect(stored).toMatchObject({ version: 4, problems: [] });
    expect(stored.settings).toMatchObject({ floor: 1, max: 12, headroom: 1 });
  });
});

describe('settings validate', () => {
  it('exits 1 with one line per problem for an invalid item and 0 with "valid" otherwise', async () => {
    const { table, args } = await freshTable();
    const none = await cli(['settings', 'validate', ...args]);
    expect(none).toMatchObject({ code: 0, stdout: 'valid (no settings item: defaults apply)' });

    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { pk: keys.settings('default'), floor: 'two', labels: 'x64', scaleInCooldownSeconds: 90000, version: 1 } }));
    const bad = await cli(['settings', 'validate', ...args]);
    expect(bad.code).toBe(1);
    const lines = bad.stdout.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.some((l) => /^floor: .*allowed 0\.\.1000/.test(l))).toBe(true);
    expect(lines.some((l) => /^labels: not a setting/.test(l))).toBe(true);
    expect(lines.some((l) => /^scaleInCooldownSeconds: .*allowed 0\.\.86400/.test(l))).toBe(true);

    await cli(['settings', 'set', 'floor=1', 'scaleInCooldownSeconds=600', ...args]);
    expect(await cli(['settings', 'validate', ...args])).toMatchObject({ code: 0, stdout: 'valid' });
  });

  it('validates another pool independently', async () => {
    const { table, args } = await freshTable();
    await dynamo.doc.send(new PutCommand({ TableName: table, Item: { pk: keys.settings('arm'), max: 0, version: 1 } }));
    expect((await cli(['settings', 'validate', ...args])).code).toBe(0);
    const arm = await cli(['settings', 'validate', '--pool', 'arm', '--json', ...args]);
    expect(arm.code).toBe(1);
    expect(JSON.parse(arm.stdout)).toMatchObject({ pool: 'arm', valid: false });
  });
});

describe('pure helpers', () => {
  it('parses assignments, keeping "=" inside values', () => {
    expect(parseAssignments(['labels=a,b', 'x=y=z'])).toEqual({ changes: { labels: 'a,b', x: 'y=z' }, problems: [] });
    expect(parseAssignments([]).problems[0].message).toMatch(/nothing to set/);
  });

  it('diffs the values in use against the next settings, showing fixed typos and dropped unknown keys', () => {
    const item = { pk: 'SETTINGS#default', version: 2, floor: 1, max: 10, headroom: 'two', typo: 1 };
    const stored = { item, settings: DEFAULT_SETTINGS, problems: [{ key: 'headroom', message: 'bad' }, { key: 'typo', message: 'unknown' }] };
    const diff = settingsDiff(stored, { ...DEFAULT_SETTINGS, floor: 2 });
    expect(diff).toEqual([
      { key: 'floor', before: 1, after: 2 },
      { key: 'headroom', before: 'two', after: 0 },
      { key: 'typo', before: 1, after: undefined },
    ]);
  });

  it('attributes a fallback to the last valid settings when it differs from the default', () => {
    const rows = settingRows({ settings: { ...DEFAULT_SETTINGS, max: 40 }, problems: [{ key: 'max', message: 'max: bad' }], fromItem: [], item: { max: -1 } });
    expect(rows.find((r) => r.key === 'max')).toMatchObject({ source: 'invalid', fallback: 'last valid', valid: false });
  });
});

describe('as a child process (node cli/bin.js, piped)', () => {
  it('edits, refuses and shows through the real binary with plain output and exit codes', async () => {
    const { table, args } = await freshTable();
    const [ok, bad] = await Promise.all([cliProcess(['settings', 'set', 'max=7', ...args]), cliProcess(['settings', 'validate', '--help'])]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/max\s+10\s+->\s+7/);
    expect(ok.stdout).not.toMatch(/\x1b\[/); // no colour codes when piped
    expect(bad.code).toBe(0);
    expect(bad.stdout).toMatch(/Usage: runner-autoscaler settings validate/);
    const refused = await cliProcess(['settings', 'set', 'max=0', ...args]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/max: .*allowed 1\.\.10000/);
    expect((await readSettings(dynamo.doc, table, 'default')).settings.max).toBe(7);
    const shown = await cliProcess(['--json', '--endpoint', dynamo.endpoint, '--table', table, 'settings', 'show']);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout).settings.find((r: { key: string }) => r.key === 'max')).toMatchObject({ value: 7, source: 'item' });
  }, 60_000);

  it('reports an unreachable table with exit 3 and a reason', async () => {
    const result = await cliProcess(['settings', 'show', '--endpoint', 'http://127.0.0.1:9', '--table', 'nope']);
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(/error: /);
  }, 60_000);
});
