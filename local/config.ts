import { z } from 'zod';
import { loadConfig } from '../lib/config';

/** What local mode takes from the environment (flags override it). */
const localEnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  WEBHOOK_SECRET: z.string().min(1).optional(),
  AWS_ENDPOINT_URL: z.string().url().optional(),
  LOCAL_LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR', 'SILENT']).optional(),
});

export type LocalEnv = z.infer<typeof localEnvSchema>;

export function loadLocalEnv(env: Record<string, string | undefined> = process.env): LocalEnv {
  return loadConfig(localEnvSchema, env);
}
