import * as z from 'zod/mini';
import { en } from 'zod/locales';

/**
 * Typed configuration, read once per container from the environment the
 * template sets (names of things only: table, bus, group, SSM parameter
 * names; never a secret value) and validated, so a misconfigured function
 * fails at start with every problem listed instead of deep inside a request.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Any zod schema, classic or `zod/mini` (bundle-size-sensitive functions use the latter). */
type EnvSchema = z.core.$ZodType & {
  safeParse(input: unknown): { success: true; data: unknown } | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } };
};

/**
 * zod's English messages ("Too small: expected number to be >=0"). Classic zod
 * installs them when imported; zod/mini leaves every message at "Invalid input"
 * unless they are loaded (3 KB), so the places that show messages load them.
 */
export function englishMessages(): z.core.$ZodErrorMap {
  return (english ??= en().localeError);
}
let english: z.core.$ZodErrorMap | undefined;

/** Makes zod's English messages the default for every schema in this process (what importing classic zod does), unless a locale is set. */
export function useEnglishMessages(): void {
  if (!z.config().localeError) z.config({ localeError: englishMessages() });
}

export function loadConfig<T extends EnvSchema>(schema: T, env: Record<string, string | undefined> = process.env): z.infer<T> {
  // Every function loads its config first: from here on its validation messages (config, events, launch events) read as before.
  useEnglishMessages();
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`));
  }
  return parsed.data as z.infer<T>;
}

/** Memoises a factory so config and clients are built once per container, on first use. */
export function once<T>(factory: () => T): () => T {
  let value: { v: T } | undefined;
  return () => (value ??= { v: factory() }).v;
}

/**
 * Comma-separated list in an environment variable. Built in a pure-annotated
 * function: esbuild cannot tell that zod's builders are pure, and a bundle that
 * does not use the schema must leave it out.
 */
export const csv = /* @__PURE__ */ (() =>
  z.pipe(
    z.string(),
    z.transform((value: string) => value.split(',').map((item) => item.trim()).filter(Boolean)),
  ))();

/**
 * RUNNER_LABELS, the pool's labels, in every function that needs them (webhook, AutoScaler, jit-config):
 * one value, the Infrastructure stack's RunnerLabels export, lower-cased and de-duplicated as GitHub
 * compares them (case-insensitively) and as the webhook puts job labels on the bus.
 */
export const runnerLabels = /* @__PURE__ */ (() =>
  z.pipe(
    csv,
    z.pipe(
      z.transform((labels: string[]) => [...new Set(labels.map((label) => label.toLowerCase()))]),
      z.array(z.string()).check(z.minLength(1, 'at least one label')),
    ),
  ))();
