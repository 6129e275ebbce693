import * as z from 'zod/mini';
import { loadConfig, runnerLabels } from '../../lib/config';
import { DEFAULT_POOL } from '../../lib/settings';

/**
 * The AutoScaler functions' environment, as the template sets it: names of
 * things only (table, group, SSM parameter). The GitHub credentials are read
 * from SSM at run time and never placed in the environment.
 * (zod/mini keeps every function's bundle small; lib/config's loader accepts it.)
 */
const parameterName = z.string().check(z.regex(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, 'must be an SSM parameter name starting with /'));

export const autoScalerConfigSchema = z.object({
  TABLE_NAME: z.string().check(z.minLength(3), z.maxLength(255)),
  POOL: z._default(z.string().check(z.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'pool names are 1..64 letters, digits, _ . -')), DEFAULT_POOL),
  AUTO_SCALING_GROUP_NAME: z.string().check(z.minLength(1), z.maxLength(255)),
  /** The pool's labels: the Infrastructure stack's RunnerLabels export, as the webhook and the runners use it. */
  RUNNER_LABELS: runnerLabels,
  GITHUB_CREDENTIALS_PARAMETER: parameterName,
  /** `org:NAME` or `repo:OWNER/NAME` */
  GITHUB_SCOPE: z.string().check(z.minLength(5)),
  /** GitHub Enterprise Server API root; empty for github.com. */
  GITHUB_API_URL: z.pipe(
    z.optional(z.union([z.literal(''), z.url()])),
    z.transform((value) => (value ? value : undefined)),
  ),
  POWERTOOLS_SERVICE_NAME: z._default(z.string().check(z.minLength(1)), 'autoscaler'),
  POWERTOOLS_METRICS_NAMESPACE: z._default(z.string().check(z.minLength(1)), 'RunnerAutoscaler'),
});

export type AutoScalerConfig = z.infer<typeof autoScalerConfigSchema>;

export function loadAutoScalerConfig(env?: Record<string, string | undefined>): AutoScalerConfig {
  return loadConfig(autoScalerConfigSchema, env);
}
