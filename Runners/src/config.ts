import * as z from 'zod/mini';
import { loadConfig, runnerLabels } from '../../lib/config';
import { parseGitHubScope, type GitHubScope } from '../../lib/ports';

/**
 * Environment of the Runners stack's functions, as Runners/template.yaml sets
 * it: names of things only (group, parameter prefix and the SSM parameter that
 * holds the GitHub credentials), never a secret value.
 */
const parameterName = z.string().check(z.regex(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, 'must be an SSM parameter name starting with /'));
const optional = <T extends z.ZodMiniType>(schema: T) =>
  z.pipe(
    z.optional(z.union([z.literal(''), schema])),
    z.transform((value) => (value ? (value as z.infer<T>) : undefined)),
  );

const gitHubScope = z.pipe(
  z.string(),
  z.transform((text: string, context): GitHubScope => {
    try {
      return parseGitHubScope(text);
    } catch (error) {
      context.issues.push({ code: 'custom', message: (error as Error).message, input: text });
      return z.NEVER;
    }
  }),
);

const common = {
  AUTO_SCALING_GROUP_NAME: z.string().check(z.minLength(1), z.maxLength(255)),
  GITHUB_SCOPE: gitHubScope,
  GITHUB_CREDENTIALS_PARAMETER: parameterName,
  /** GitHub Enterprise Server API root (https://HOST/api/v3); empty for github.com. */
  GITHUB_API_URL: optional(z.url()),
  METRICS_NAMESPACE: z._default(z.string().check(z.minLength(1)), 'RunnerAutoscaler'),
};

export const jitConfigSchema = z.object({
  ...common,
  POWERTOOLS_SERVICE_NAME: z._default(z.string().check(z.minLength(1)), 'jit-config'),
  RUNNER_CONFIG_PREFIX: parameterName.check(z.refine((prefix) => !prefix.endsWith('/'), 'must not end with /')),
  RUNNER_GROUP_ID: z._default(z.pipe(z.coerce.number(), z.int().check(z.positive())), 1),
  RUNNER_CONFIG_KMS_KEY_ARN: optional(z.string().check(z.regex(/^arn:aws[a-z-]*:kms:/, 'must be a KMS key ARN'))),
  /** The labels runners register with: the Infrastructure stack's RunnerLabels export, which the webhook filters on. */
  RUNNER_LABELS: runnerLabels,
});

export type JitConfigConfig = z.infer<typeof jitConfigSchema>;

export const interruptionSchema = z.object({
  ...common,
  POWERTOOLS_SERVICE_NAME: z._default(z.string().check(z.minLength(1)), 'interruption'),
});

export type InterruptionConfig = z.infer<typeof interruptionSchema>;

export const loadJitConfigConfig = (env?: Record<string, string | undefined>) => loadConfig(jitConfigSchema, env);
export const loadInterruptionConfig = (env?: Record<string, string | undefined>) => loadConfig(interruptionSchema, env);
