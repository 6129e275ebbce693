import * as z from 'zod';
import { csv, loadConfig } from '../../lib/config';

/**
 * The webhook function's environment, as the template sets it: names only.
 * The secret itself is in SSM; its parameter names are all the function sees.
 */
const parameterName = z.string().regex(/^\/[A-Za-z0-9_.\-/]{1,1010}$/, 'must be an SSM parameter name starting with /');

export const webhookConfigSchema = z.object({
  EVENT_BUS_NAME: z.string().min(1).max(256),
  WEBHOOK_SECRET_PARAMETER: parameterName,
  WEBHOOK_SECRET_PREVIOUS_PARAMETER: z
    .union([z.literal(''), parameterName])
    .optional()
    .transform((value) => (value ? value : undefined)),
  RUNNER_LABELS: csv.pipe(z.array(z.string()).min(1, 'at least one label')),
  POWERTOOLS_SERVICE_NAME: z.string().min(1).default('webhook'),
});

export type WebhookConfig = z.infer<typeof webhookConfigSchema>;

export function loadWebhookConfig(env?: Record<string, string | undefined>): WebhookConfig {
  return loadConfig(webhookConfigSchema, env);
}
