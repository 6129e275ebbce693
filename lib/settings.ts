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

/**
 * Keys that were settings once and are not any more, with why. `labels` left the item: a pool's labels
 * are set in one place, the Infrastructure stack's RunnerLabels, because the webhook's filter, the
 * AutoScaler rule's pattern and the runners' registration must be the same value; an item that could
 * change only the last of them made jobs wait for runners that never matched.
 */
export const RETIRED_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  labels: "labels: not a setting; a pool's labels are the Infrastructure stack's RunnerLabels parameter (the webhook, the rule and the runners all use it), so change them there; ignored",
});

function unknownSetting(key: string): SettingsProblem {
  return { key, message: RETIRED_SETTINGS[key] ?? `${key}: unknown setting (known: ${Object.keys(settingsFields).join(', ')})` };
}

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
      problems.push(unknownSetting(key));
      continue;
    }
    const parsed = settingsFields[key as SettingKey].safeParse(value, { error: englishMessages() });
    if (parsed.success) {
      merged[key] = parsed.data;
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
      problems.push(unknownSetting(key));
      continue;
    }
    const value = coerceSettingValue(key as SettingKey, raw);
    const parsed = settingsFields[key as SettingKey].safeParse(value, { error: englishMessages() });
    if (parsed.success) next[key] = parsed.data;
    else problems.push({ key, message: describeIssue(key, parsed.error) });
  }
  if (problems.length === 0 && (next.max as number) < (next.floor as number)) {
    problems.push({ key: 'max', message: `max (${next.max}) must be >= floor (${next.floor})` });
  }
  return problems.length ? { problems } : { next: next as Settings, problems };
}

/** CLI values arrive as strings: `floor=2`. */
export function coerceSettingValue(_key: SettingKey, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const trimmed = raw.trim();
  return trimmed !== '' && /^-?\d+(\.\d+)?$/.test(trimmed) ? Number(trimmed) : raw;
}
