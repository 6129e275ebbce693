import { delivery, queuedJob } from '../../ingress/support';
import type { BundleCases } from '../support/cases';
import { WEBHOOK_SECRET } from '../support/world';

const KEY = 'Infrastructure/webhook';

/** The webhook Lambda behind the HTTP API: a signed GitHub delivery in, a slim event on the bus out. */
export const cases: BundleCases = {
  [KEY]: [
    {
      name: 'a signed queued delivery: 202 and the slim event on the bus; a configured but absent previous-secret parameter (SSM ParameterNotFound, by name) means "no previous secret"',
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const signed = await delivery(JSON.stringify(queuedJob()), {
          secret: WEBHOOK_SECRET,
          delivery: 'bundle-webhook-1',
        });
        const run = await world.invoke(KEY, signed, {
          WEBHOOK_SECRET_PREVIOUS_PARAMETER: '/bundles/webhook-secret-previous',
        });
        expect(run.result).toMatchObject({ statusCode: 202 });
        const missing = world.aws.calls.find(
          (call) => call.action === 'GetParameter' && call.body.includes('webhook-secret-previous'),
        );
        expect(missing?.status).toBe(400);
        const [envelope, ...rest] = await world.busMessages();
        expect(rest).toEqual([]);
        expect(envelope.detail).toMatchObject({
          deliveryId: 'bundle-webhook-1',
          action: 'queued',
          jobId: 289782451,
        });
        expect(run.stdout).not.toContain(WEBHOOK_SECRET);
      },
    },
    {
      name: 'the bus does not exist (EventBridge ResourceNotFoundException, its class unregistered by the build): 502 so GitHub may redeliver, the error named in the log',
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const signed = await delivery(JSON.stringify(queuedJob()), {
          secret: WEBHOOK_SECRET,
          delivery: 'bundle-webhook-2',
        });
        const run = await world.invoke(KEY, signed, { EVENT_BUS_NAME: 'bundles-no-such-bus' });
        expect(run.result).toMatchObject({ statusCode: 502 });
        expect(JSON.stringify(run.logs)).toContain('ResourceNotFoundException');
        expect(await world.busMessages(0)).toEqual([]);
      },
    },
  ],
};
