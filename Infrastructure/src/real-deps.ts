import { SSMClient } from '@aws-sdk/client-ssm';
import { createEventBridgeClient, EventBridgeBus } from '../../lib/adapters/event-bus';
import { createLogger } from '../../lib/logger';
import { createSsmSecretReader, createWebhookSecretSource } from '../../lib/webhook-secrets';
import { loadWebhookConfig } from './config';
import type { WebhookDeps } from './webhook';

/** AWS-backed deps, built once per container on the first request. */
export function realWebhookDeps(): WebhookDeps {
  const config = loadWebhookConfig();
  const ssm = new SSMClient({ maxAttempts: 3, requestHandler: { connectionTimeout: 800, requestTimeout: 1500 } });
  return {
    secrets: createWebhookSecretSource({
      reader: createSsmSecretReader(ssm),
      currentName: config.WEBHOOK_SECRET_PARAMETER,
      previousName: config.WEBHOOK_SECRET_PREVIOUS_PARAMETER,
    }),
    bus: new EventBridgeBus(createEventBridgeClient(), config.EVENT_BUS_NAME),
    servedLabels: config.RUNNER_LABELS,
    logger: createLogger(config.POWERTOOLS_SERVICE_NAME),
  };
}
