import { realWebhookDeps } from '../../src/real-deps';
import { createWebhookHandler } from '../../src/webhook';

export const handler = createWebhookHandler(realWebhookDeps);
