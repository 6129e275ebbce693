import * as z from 'zod';

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

export function loadConfig<T extends EnvSchema>(schema: T, env: Record<string, string | undefined> = process.env): z.infer<T> {
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

/** Comma-separated list in an environment variable. (Pure: a bundle that does not use it leaves classic zod out.) */
export const csv = /* @__PURE__ */ z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean));
