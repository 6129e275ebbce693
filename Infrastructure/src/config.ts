import * as z from 'zod/mini';
import { loadConfig, runnerLabels } from '../../lib/config';

/**
 * The webhook function's environment, as the template sets it: names only.
 * The secret itself is in SSM; its parameter names are all the function sees.
 * (zod/mini keeps the bundle small; lib/config's loader accepts it.)
 */
const parameterName = z.string().check(z.regex(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, 'must be an SSM parameter name starting with /'));

export const webhookConfigSchema = z.object({
  EVENT_BUS_NAME: z.string().check(z.minLength(1), z.maxLength(256)),
  WEBHOOK_SECRET_PARAMETER: parameterName,
  WEBHOOK_SECRET_PREVIOUS_PARAMETER: z.pipe(
    z.optional(z.union([z.literal(''), parameterName])),
    z.transform((value) => (value ? value : undefined)),
  ),
  RUNNER_LABELS: runnerLabels,
  POWERTOOLS_SERVICE_NAME: z._default(z.string().check(z.minLength(1)), 'webhook'),
});

export type WebhookConfig = z.infer<typeof webhookConfigSchema>;

export function loadWebhookConfig(env?: Record<string, string | undefined>): WebhookConfig {
  return loadConfig(webhookConfigSchema, env);
}
