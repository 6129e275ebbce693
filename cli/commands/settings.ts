import {
  DEFAULT_SETTINGS,
  SETTINGS_REFERENCE,
  settingsFields,
  validateSettingsUpdate,
  type SettingKey,
  type Settings,
  type SettingsProblem,
} from '../../lib/settings';
import { readSettings, SettingsConflictError, writeSettings, type StoredSettings } from '../../lib/settings-store';
import { CliError, EXIT, type CliContext } from '../context';
import { formatValue, table, type Output } from '../output';

/**
 * `settings show|set|validate`: the same schema, loader and versioned writer
 * the Lambdas use (lib/settings.ts, lib/settings-store.ts), so what the CLI
 * accepts is exactly what the autoscaler will apply.
 */
export const SETTING_KEYS = Object.keys(settingsFields) as SettingKey[];

export type SettingSource = 'item' | 'invalid' | 'not set';

export interface SettingRow {
  key: SettingKey;
  /** The value the autoscaler uses now. */
  value: unknown;
  default: unknown;
  /** What the item holds (when not a valid value, the raw text). */
  stored: unknown;
  source: SettingSource;
  /** Where an effective value that is not the item's came from. */
  fallback?: 'default' | 'last valid';
  valid: boolean;
  range: string;
  problem?: string;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Pure: one row per setting from what readSettings returned. */
export function settingRows(stored: Pick<StoredSettings, 'settings' | 'problems' | 'fromItem' | 'item'>): SettingRow[] {
  return SETTING_KEYS.map((key) => {
    const problem = stored.problems.find((p) => p.key === key);
    const inItem = stored.item !== undefined && stored.item[key] !== undefined;
    const source: SettingSource = stored.fromItem.includes(key) ? 'item' : inItem ? 'invalid' : 'not set';
    const value = stored.settings[key];
    const row: SettingRow = {
      key,
      value,
      default: DEFAULT_SETTINGS[key],
      stored: inItem ? stored.item![key] : undefined,
      source,
      valid: !problem,
      range: SETTINGS_REFERENCE[key].range,
    };
    if (source !== 'item' || problem) row.fallback = same(value, DEFAULT_SETTINGS[key]) ? 'default' : 'last valid';
    if (problem) row.problem = problem.message;
    return row;
  });
}

/** Problems that are not about one known field (unknown keys, legacy item). */
function otherProblems(stored: Pick<StoredSettings, 'problems'>): SettingsProblem[] {
  return stored.problems.filter((p) => !(SETTING_KEYS as string[]).includes(p.key));
}

async function load(ctx: CliContext, out: Output): Promise<{ stored: StoredSettings; tableName: string }> {
  const tableName = await ctx.tableName();
  const doc = await ctx.doc();
  const stored = await out.spin(`reading settings of pool ${ctx.pool}`, () => readSettings(doc, tableName, ctx.pool));
  return { stored, tableName };
}

function header(ctx: CliContext, tableName: string, stored: StoredSettings): string {
  if (!stored.item) return `Settings of pool "${ctx.pool}" (table ${tableName}): no settings item, defaults apply`;
  const by = stored.item.updatedBy ? ` by ${String(stored.item.updatedBy)}` : '';
  const at = stored.item.updatedAt ? `, updated ${String(stored.item.updatedAt)}${by}` : '';
  return `Settings of pool "${ctx.pool}" (table ${tableName}, version ${stored.version}${at})`;
}

export async function settingsShow(ctx: CliContext, out: Output): Promise<number> {
  const { stored, tableName } = await load(ctx, out);
  const rows = settingRows(stored);
  const extra = otherProblems(stored);
  if (ctx.options.json) {
    out.line(
      JSON.stringify(
        { pool: ctx.pool, table: tableName, version: stored.version, exists: Boolean(stored.item), settings: rows, problems: stored.problems.map((p) => p.message) },
        null,
        2,
      ),
    );
    return EXIT.ok;
  }
  const c = out.colors;
  out.line(header(ctx, tableName, stored));
  out.line();
  const body = rows.map((r) => {
    const source =
      r.source === 'item' ? 'item' : r.source === 'invalid' ? `INVALID in item, using ${r.fallback}` : `not set, using ${r.fallback}`;
    return [r.key, formatValue(r.value), formatValue(r.default), r.range, source];
  });
  const lines = table([['SETTING', 'VALUE', 'DEFAULT', 'ALLOWED', 'SOURCE'], ...body]);
  out.line(c.bold(lines[0]));
  lines.slice(1).forEach((line, i) => out.line(rows[i].valid ? line : c.red(line)));
  if (stored.problems.length) {
    out.line();
    out.line(c.red(`${stored.problems.length} problem${stored.problems.length === 1 ? '' : 's'} in the stored item (the autoscaler uses the fallbacks shown):`));
    for (const p of [...rows.filter((r) => r.problem).map((r) => r.problem!), ...extra.map((p) => p.message)]) out.line(`  - ${p}`);
  }
  return EXIT.ok;
}

export async function settingsValidate(ctx: CliContext, out: Output): Promise<number> {
  const { stored, tableName } = await load(ctx, out);
  if (ctx.options.json) {
    out.line(JSON.stringify({ pool: ctx.pool, table: tableName, version: stored.version, valid: stored.problems.length === 0, problems: stored.problems.map((p) => p.message) }));
    return stored.problems.length ? EXIT.invalid : EXIT.ok;
  }
  if (stored.problems.length) {
    for (const p of stored.problems) out.line(p.message);
    return EXIT.invalid;
  }
  out.line(stored.item ? 'valid' : 'valid (no settings item: defaults apply)');
  return EXIT.ok;
}

/** `floor=2 labels=self-hosted,linux` -> changes; malformed arguments become problems. */
export function parseAssignments(args: string[]): { changes: Record<string, string>; problems: SettingsProblem[] } {
  const changes: Record<string, string> = {};
  const problems: SettingsProblem[] = [];
  if (args.length === 0) problems.push({ key: '(arguments)', message: `nothing to set: give key=value pairs, keys: ${SETTING_KEYS.join(', ')}` });
  for (const arg of args) {
    const at = arg.indexOf('=');
    if (at <= 0) {
      problems.push({ key: arg, message: `"${arg}" is not key=value (keys: ${SETTING_KEYS.join(', ')})` });
      continue;
    }
    const key = arg.slice(0, at).trim();
    if (key in changes) problems.push({ key, message: `${key} is given twice` });
    changes[key] = arg.slice(at + 1);
  }
  return { changes, problems };
}

export interface DiffRow {
  key: string;
  before: unknown;
  after: unknown;
}

/**
 * Pure: what the write changes, as the operator thinks of it: the values in
 * use before (or the raw stored text where it was invalid, so a fixed typo
 * shows) against the values written. Unknown keys in the item are dropped.
 */
export function settingsDiff(stored: Pick<StoredSettings, 'item' | 'settings' | 'problems'>, next: Settings): DiffRow[] {
  const rows: DiffRow[] = [];
  const invalid = new Set(stored.problems.map((p) => p.key));
  for (const key of SETTING_KEYS) {
    const wasInvalid = invalid.has(key) && stored.item?.[key] !== undefined;
    const before = wasInvalid ? stored.item![key] : stored.settings[key];
    if (wasInvalid || !same(before, next[key])) rows.push({ key, before, after: next[key] });
  }
  for (const key of Object.keys(stored.item ?? {})) {
    if (['pk', 'sk', 'version', 'updatedAt', 'updatedBy', 'expiresAt'].includes(key) || key in settingsFields) continue;
    rows.push({ key, before: stored.item![key], after: undefined });
  }
  return rows;
}

export interface SetOptions {
  /** Refuse unless the item is still at this version (what the operator reviewed). */
  ifVersion?: number;
  dryRun?: boolean;
  updatedBy?: string;
}

export async function settingsSet(ctx: CliContext, out: Output, args: string[], options: SetOptions = {}): Promise<number> {
  const parsed = parseAssignments(args);
  const { stored, tableName } = await load(ctx, out);
  const validation = parsed.problems.length ? { problems: [] as SettingsProblem[] } : validateSettingsUpdate(stored.settings, parsed.changes);
  const problems = [...parsed.problems, ...validation.problems];
  const c = out.colors;
  if (problems.length || !validation.next) {
    if (ctx.options.json) {
      out.line(JSON.stringify({ pool: ctx.pool, table: tableName, applied: false, problems: problems.map((p) => p.message) }));
    } else {
      out.error(c.red(`Nothing changed: ${problems.length} problem${problems.length === 1 ? '' : 's'}:`));
      for (const p of problems) out.error(`  - ${p.message}`);
    }
    return EXIT.invalid;
  }
  const next = validation.next;
  const diff = settingsDiff(stored, next);
  const expected = options.ifVersion ?? stored.version;
  const render = (version?: number) => {
    if (ctx.options.json) {
      out.line(
        JSON.stringify({ pool: ctx.pool, table: tableName, applied: version !== undefined, dryRun: Boolean(options.dryRun), fromVersion: expected, version, diff }),
      );
      return;
    }
    if (diff.length === 0 && stored.item) out.line(`No change: pool "${ctx.pool}" already has these values (version ${stored.version}).`);
    else if (diff.length === 0) out.line(`No change: these are the values in use (no settings item yet; nothing written).`);
    else {
      out.line(
        version !== undefined
          ? `Updated settings of pool "${ctx.pool}" (table ${tableName}): version ${expected} -> ${version}`
          : `Dry run: would update settings of pool "${ctx.pool}" (table ${tableName}) at version ${expected}`,
      );
      const lines = table(diff.map((d) => [`  ${d.key}`, formatValue(d.before), '->', d.after === undefined ? '(removed)' : formatValue(d.after)]));
      for (const line of lines) out.line(line);
    }
    if (!stored.item && version !== undefined) out.line(c.dim('Created the settings item; settings you did not name hold the values that were in use.'));
    if (stored.problems.length && version !== undefined) {
      out.line(c.yellow(`Note: the item had ${stored.problems.length} invalid value(s); it now holds the values the autoscaler was using.`));
    }
  };
  if (options.dryRun || (diff.length === 0 && options.ifVersion === undefined)) {
    render(undefined);
    return EXIT.ok;
  }
  if (options.ifVersion !== undefined && options.ifVersion !== stored.version) {
    return conflict(ctx, out, new SettingsConflictError(ctx.pool, options.ifVersion), stored.version);
  }
  const doc = await ctx.doc();
  try {
    const version = await out.spin('writing settings', () => writeSettings(doc, tableName, ctx.pool, next, expected, options.updatedBy ?? 'runner-autoscaler-cli'));
    render(version);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof SettingsConflictError) {
      const now = await readSettings(doc, tableName, ctx.pool).catch(() => undefined);
      return conflict(ctx, out, error, now?.version);
    }
    throw error;
  }
}

function conflict(ctx: CliContext, out: Output, error: SettingsConflictError, currentVersion: number | undefined): number {
  const message = `Conflict: ${error.message}${currentVersion !== undefined ? ` (it is now at version ${currentVersion})` : ''}. Nothing was written; run \`settings show\` and apply your change again.`;
  if (ctx.options.json) out.line(JSON.stringify({ pool: ctx.pool, applied: false, conflict: true, message }));
  else out.error(out.colors.red(message));
  return EXIT.conflict;
}

export function describeSettingsReference(): string {
  return SETTING_KEYS.map((k) => `  ${k.padEnd(24)} ${SETTINGS_REFERENCE[k].range.padEnd(36)} default ${formatValue(DEFAULT_SETTINGS[k])}`).join('\n');
}

export { CliError };
