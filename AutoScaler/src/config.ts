import * as z from 'zod';
import { loadConfig } from '../../lib/config';
import { DEFAULT_POOL } from '../../lib/settings';

/**
 * The AutoScaler functions' environment, as the template sets it: names of
 * things only (table, group, SSM parameter). The GitHub credentials are read
 * from SSM at run time and never placed in the environment.
 */
const parameterName = z.string().regex(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, 'must be an SSM parameter name starting with /');

export const autoScalerConfigSchema = z.object({
  TABLE_NAME: z.string().min(3).max(255),
  POOL: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'pool names are 1..64 letters, digits, _ . -').default(DEFAULT_POOL),
  AUTO_SCALING_GROUP_NAME: z.string().min(1).max(255),
  GITHUB_CREDENTIALS_PARAMETER: parameterName,
  /** `org:NAME` or `repo:OWNER/NAME` */
  GITHUB_SCOPE: z.string().min(5),
  /** GitHub Enterprise Server API root; empty for github.com. */
  GITHUB_API_URL: z
    .union([z.literal(''), z.url()])
    .optional()
    .transform((value) => (value ? value : undefined)),
  POWERTOOLS_SERVICE_NAME: z.string().min(1).default('autoscaler'),
  POWERTOOLS_METRICS_NAMESPACE: z.string().min(1).default('RunnerAutoscaler'),
});

export type AutoScalerConfig = z.infer<typeof autoScalerConfigSchema>;

export function loadAutoScalerConfig(env?: Record<string, string | undefined>): AutoScalerConfig {
  return loadConfig(autoScalerConfigSchema, env);
}
