import * as z from 'zod/mini';
import { englishMessages } from './config';

/**
 * Pool settings live in DynamoDB (item `SETTINGS#<pool>`) and are edited by
 * operators. A typo must never stop scaling: every field is validated on its
 * own, an invalid field falls back to the last valid value (or the default)
 * and is reported, the rest of the item still applies.
 */
export const DEFAULT_POOL = 'default';

// zod/mini (a fraction of classic zod's size). Each schema is built inside a
// pure-annotated function so that a Lambda importing only a constant from here
// (DEFAULT_POOL, via its config) bundles no schema: esbuild cannot tell that
// zod's builders are pure.
const intIn = (min: number, max: number) => z.int().check(z.minimum(min), z.maximum(max));

export const settingsFields = /* @__PURE__ */ (() =>
  ({
    floor: intIn(0, 1000),
    max: intIn(1, 10000),
    headroom: intIn(0, 1000),
    scaleOutCooldownSeconds: intIn(0, 3600),
    scaleInCooldownSeconds: intIn(0, 86400),
    labels: z
      .array(z.string().check(z.trim(), z.minLength(1), z.maxLength(100), z.regex(/^[^,\s]+$/, 'labels may not contain commas or spaces')))
      .check(z.minLength(1), z.maxLength(20)),
    bootTimeoutSeconds: intIn(60, 3600),
  }) as const)();

export type SettingKey = keyof typeof settingsFields;

export const settingsSchema = /* @__PURE__ */ (() =>
  z.strictObject(settingsFields).check(z.refine((s) => s.max >= s.floor, { message: 'max must be >= floor', path: ['max'] })))();

export type Settings = z.infer<typeof settingsSchema>;

export const DEFAULT_SETTINGS: Settings = Object.freeze({
  floor: 1,
  max: 10,
  headroom: 0,
  scaleOutCooldownSeconds: 0,
  scaleInCooldownSeconds: 300,
  labels: ['self-hosted', 'linux', 'x64'],
  bootTimeoutSeconds: 600,
}) as Settings;

/** What each setting does, with its allowed range: shared by the README, the CLI and error messages. */
export const SETTINGS_REFERENCE: Record<SettingKey, { range: string; effect: string }> = {
  floor: { range: '0..1000 (<= max)', effect: 'Instances always kept (on-demand base capacity); never scaled below.' },
  max: { range: '1..10000 (>= floor)', effect: 'Hard ceiling on desired capacity.' },
  headroom: { range: '0..1000', effect: 'Idle runners kept ready above current demand (busy + queued).' },
  scaleOutCooldownSeconds: { range: '0..3600', effect: 'Minimum time between two scale-outs.' },
  scaleInCooldownSeconds: {
    range: '0..86400',
    effect: 'Minimum time since the last scaling activity before idle runners are removed.',
  },
  labels: { range: '1..20 labels, no commas or spaces', effect: 'Labels the pool runners carry; a job is served when its labels are a subset (case-insensitive).' },
  bootTimeoutSeconds: { range: '60..3600', effect: 'An instance that has not registered a runner by then is terminated by the reconcile.' },
};

export interface SettingsProblem {
  key: string;
  message: string;
}

export interface ResolvedSettings {
  settings: Settings;
  problems: SettingsProblem[];
  /** Which keys were taken from the stored item (the rest are fallbacks). */
  fromItem: SettingKey[];
}

const ITEM_METADATA = new Set(['pk', 'sk', 'version', 'updatedAt', 'updatedBy', 'expiresAt']);

/** The legacy design kept the scale-in cooldown in an item `settings_cooldown` with `value` in milliseconds. */
export function legacyCooldownSeconds(legacyItem: Record<string, unknown> | undefined): number | undefined {
  if (!legacyItem || legacyItem.value === undefined) return undefined;
  const ms = Number(legacyItem.value);
  return Number.isFinite(ms) ? Math.round(ms / 1000) : Number.NaN;
}

/** zod's English message (zod/mini has none of its own) plus the allowed range. */
function describeIssue(key: string, error: { issues: ReadonlyArray<{ message: string }> }): string {
  const first = error.issues[0];
  return `${key}: ${first?.message ?? 'invalid'} (allowed ${SETTINGS_REFERENCE[key as SettingKey]?.range ?? 'n/a'})`;
}

/**
 * Pure: turns a stored item (possibly missing, partial or wrong) into usable
 * settings. `fallback` is the last valid settings seen (or the defaults).
 */
export function resolveSettings(
  item: Record<string, unknown> | undefined,
  fallback: Settings = DEFAULT_SETTINGS,
  legacyItem?: Record<string, unknown>,
): ResolvedSettings {
  const problems: SettingsProblem[] = [];
  const fromItem: SettingKey[] = [];
  const merged: Record<string, unknown> = { ...fallback };
  const source: Record<string, unknown> = { ...(item ?? {}) };

  const legacy = legacyCooldownSeconds(legacyItem);
  if (source.scaleInCooldownSeconds === undefined && legacy !== undefined) source.scaleInCooldownSeconds = legacy;

  for (const [key, value] of Object.entries(source)) {
    if (ITEM_METADATA.has(key)) continue;
    if (!(key in settingsFields)) {
      problems.push({ key, message: `${key}: unknown setting (known: ${Object.keys(settingsFields).join(', ')})` });
      continue;
    }
    const parsed = settingsFields[key as SettingKey].safeParse(value, { error: englishMessages() });
    if (parsed.success) {
      merged[key] = key === 'labels' ? (parsed.data as string[]).map((l) => l.toLowerCase()) : parsed.data;
      fromItem.push(key as SettingKey);
    } else {
      problems.push({ key, message: describeIssue(key, parsed.error) });
    }
  }

  if ((merged.max as number) < (merged.floor as number)) {
    problems.push({ key: 'max', message: `max (${merged.max}) must be >= floor (${merged.floor}); using ${fallback.max} and ${fallback.floor}` });
    merged.max = fallback.max;
    merged.floor = Math.min(fallback.floor, fallback.max);
  }
  return { settings: merged as Settings, problems, fromItem };
}

/** Validates a set of edits (strings from a CLI, or values) against the schema; returns the problems, if any. */
export function validateSettingsUpdate(
  current: Settings,
  changes: Partial<Record<string, unknown>>,
): { next?: Settings; problems: SettingsProblem[] } {
  const problems: SettingsProblem[] = [];
  const next: Record<string, unknown> = { ...current };
  for (const [key, raw] of Object.entries(changes)) {
    if (!(key in settingsFields)) {
      problems.push({ key, message: `${key}: unknown setting (known: ${Object.keys(settingsFields).join(', ')})` });
      continue;
    }
    const value = coerceSettingValue(key as SettingKey, raw);
    const parsed = settingsFields[key as SettingKey].safeParse(value, { error: englishMessages() });
    if (parsed.success) next[key] = key === 'labels' ? (parsed.data as string[]).map((l) => l.toLowerCase()) : parsed.data;
    else problems.push({ key, message: describeIssue(key, parsed.error) });
  }
  if (problems.length === 0 && (next.max as number) < (next.floor as number)) {
    problems.push({ key: 'max', message: `max (${next.max}) must be >= floor (${next.floor})` });
  }
  return problems.length ? { problems } : { next: next as Settings, problems };
}

/** CLI values arrive as strings: `floor=2`, `labels=self-hosted,linux,arm64`. */
export function coerceSettingValue(key: SettingKey, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  if (key === 'labels') return raw.split(',').map((l) => l.trim()).filter(Boolean);
  const trimmed = raw.trim();
  return trimmed !== '' && /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : raw;
}
