import * as z from 'zod';
import { csv, loadConfig } from '../../lib/config';
import { parseGitHubScope, type GitHubScope } from '../../lib/ports';

/**
 * Environment of the Runners stack's functions, as Runners/template.yaml sets
 * it: names of things only (group, parameter prefix and the SSM parameter that
 * holds the GitHub credentials), never a secret value.
 */
const parameterName = z.string().regex(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, 'must be an SSM parameter name starting with /');
const optional = <T extends z.ZodType>(schema: T) =>
  z
    .union([z.literal(''), schema])
    .optional()
    .transform((value) => (value ? (value as z.infer<T>) : undefined));

const gitHubScope = z.string().transform((text, context): GitHubScope => {
  try {
    return parseGitHubScope(text);
  } catch (error) {
    context.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

const common = {
  AUTO_SCALING_GROUP_NAME: z.string().min(1).max(255),
  GITHUB_SCOPE: gitHubScope,
  GITHUB_CREDENTIALS_PARAMETER: parameterName,
  /** GitHub Enterprise Server API root (https://HOST/api/v3); empty for github.com. */
  GITHUB_API_URL: optional(z.url()),
  METRICS_NAMESPACE: z.string().min(1).default('RunnerAutoscaler'),
};

export const jitConfigSchema = z.object({
  ...common,
  POWERTOOLS_SERVICE_NAME: z.string().min(1).default('jit-config'),
  RUNNER_CONFIG_PREFIX: parameterName.refine((prefix) => !prefix.endsWith('/'), 'must not end with /'),
  RUNNER_GROUP_ID: z.coerce.number().int().positive().default(1),
  RUNNER_CONFIG_KMS_KEY_ARN: optional(z.string().regex(/^arn:aws[a-z-]*:kms:/, 'must be a KMS key ARN')),
  /** The AutoScaler stack's table; empty before that stack exists (the default labels apply). */
  SETTINGS_TABLE_NAME: optional(z.string().min(3).max(255)),
  POOL_NAME: z.string().min(1).default('default'),
  /** Labels used while no settings item exists (the Infrastructure stack's RunnerLabels). */
  DEFAULT_RUNNER_LABELS: csv.pipe(z.array(z.string()).min(1, 'at least one label')),
});

export type JitConfigConfig = z.infer<typeof jitConfigSchema>;

export const interruptionSchema = z.object({
  ...common,
  POWERTOOLS_SERVICE_NAME: z.string().min(1).default('interruption'),
});

export type InterruptionConfig = z.infer<typeof interruptionSchema>;

export const loadJitConfigConfig = (env?: Record<string, string | undefined>) => loadConfig(jitConfigSchema, env);
export const loadInterruptionConfig = (env?: Record<string, string | undefined>) => loadConfig(interruptionSchema, env);
