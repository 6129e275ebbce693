/**
 * Property-based fuzzing of the webhook ingress (issue 6, item 1).
 *
 * Properties, for every generated request:
 *  - the handler answers (never throws) with a JSON body of one line;
 *  - the status is a 4xx, 200 (ping) or 202, never a 5xx;
 *  - something reaches the bus only when the request is a POST whose body is
 *    exactly what was signed with a valid secret, and what reaches it is a
 *    valid slim event for a scaling action with labels the pool serves.
 *
 * The bus is a recording EventBusPort (the port itself, not AWS), so only the
 * handler's own decisions are under test; the EventBridge adapter is covered in
 * webhook.test.ts and moto.test.ts. The number of cases run is printed at the end.
 */
import { sign } from '@octokit/webhooks-methods';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import fc from 'fast-check';
import { SCALING_ACTIONS, workflowJobEventSchema } from '../../lib/events';
import { runnerCanTakeJob } from '../../lib/labels';
import type { BusEntry } from '../../lib/ports';
import { createWebhookHandler, type WebhookResponse } from '../../Infrastructure/src/webhook';
import { delivery, examplesOf, formBody, PREVIOUS_SECRET, queuedJob, TEST_SECRET } from './support';

const SERVED = ['self-hosted', 'linux', 'x64'];
const RUNS = 400;
let casesRun = 0;

function setup() {
  const put: BusEntry[] = [];
  const handler = createWebhookHandler({
    secrets: async () => [TEST_SECRET, PREVIOUS_SECRET],
    bus: { putEvents: async (entries) => (put.push(...entries), { failedCount: 0 }) },
    servedLabels: SERVED,
    now: () => Date.parse('2026-11-23T03:00:00Z'),
  });
  return { handler, put };
}

async function run(event: APIGatewayProxyEventV2) {
  casesRun += 1;
  const { handler, put } = setup();
  const response: WebhookResponse = await handler(event);
  expect(response.statusCode === 200 || response.statusCode === 202 || (response.statusCode >= 400 && response.statusCode < 500)).toBe(true);
  const message = JSON.parse(response.body).message as string;
  expect(typeof message).toBe('string');
  expect(message).not.toMatch(/[\r\n]/);
  if (put.length > 0) {
    expect(put).toHaveLength(1);
    expect(response.statusCode).toBe(202);
    expect(message).toBe('forwarded');
    const detail = workflowJobEventSchema.parse(put[0].detail);
    expect(SCALING_ACTIONS).toContain(detail.action);
    expect(runnerCanTakeJob(SERVED, detail.labels)).toBe(true);
  }
  return { response, message, forwarded: put.length > 0, detail: put[0]?.detail as Record<string, unknown> | undefined };
}

const json = (value: unknown) => JSON.stringify(value);

/** Paths of every field the handler reads, with a value generator that is usually wrong for it. */
const READ_FIELDS = [
  'action', 'workflow_job', 'workflow_job.id', 'workflow_job.run_id', 'workflow_job.run_attempt', 'workflow_job.labels',
  'workflow_job.status', 'workflow_job.conclusion', 'workflow_job.runner_name', 'workflow_job.runner_id',
  'workflow_job.created_at', 'workflow_job.started_at', 'workflow_job.completed_at', 'repository', 'repository.full_name',
  'repository.owner', 'repository.owner.login', 'installation', 'installation.id',
] as const;

const weirdValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, '', 0, -1, 1.5, Number.MAX_SAFE_INTEGER + 2, 1e308, true, [], {}, 'queued', '12', ['self-hosted']),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.array(fc.string({ unit: 'binary', maxLength: 20 }), { maxLength: 5 }),
);

function setPath(target: Record<string, any>, path: string, value: unknown | typeof DELETE) {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object') node[key] = {};
    node = node[key];
  }
  const last = keys[keys.length - 1];
  if (value === DELETE) delete node[last];
  else node[last] = value;
}
const DELETE = Symbol('delete');

afterAll(() => {
  // eslint-disable-next-line no-console
  console.log(`ingress fuzz: ${casesRun} generated requests run through the webhook handler`);
});

describe('ingress fuzzing (fast-check)', () => {
  it('correctly signed workflow_job payloads with wrong types, missing fields and odd values in every field the handler reads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom(...READ_FIELDS), fc.oneof(weirdValue, fc.constant(DELETE))), { minLength: 1, maxLength: 4 }),
        fc.constantFrom('json', 'form', 'base64'),
        async (mutations, encoding) => {
          const payload = queuedJob();
          for (const [path, value] of mutations) setPath(payload, path, value);
          const text = json(payload);
          const body = encoding === 'form' ? formBody(text) : text;
          const { response, forwarded, detail } = await run(
            await delivery(body, { contentType: encoding === 'form' ? 'application/x-www-form-urlencoded' : 'application/json', base64: encoding === 'base64' }),
          );
          expect([202, 400]).toContain(response.statusCode);
          if (forwarded) {
            expect(detail!.jobId).toBe(payload.workflow_job.id);
            expect(detail!.repository).toBe(payload.repository.full_name);
          }
        },
      ),
      { numRuns: RUNS * 3 },
    );
  });

  it('valid signed deliveries with arbitrary labels (huge arrays, unicode, case) are forwarded exactly when the pool serves them', async () => {
    const label = fc.oneof(fc.constantFrom('self-hosted', 'Linux', 'X64', 'arm64', 'gpu', ' linux ', ''), fc.string({ unit: 'binary', maxLength: 30 }));
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.array(label, { maxLength: 8 }), fc.array(label, { minLength: 90, maxLength: 400 })),
        fc.constantFrom(...SCALING_ACTIONS),
        async (labels, action) => {
          const payload = { ...queuedJob({ labels }), action };
          const { response, forwarded } = await run(await delivery(json(payload)));
          const schemaFits = labels.length <= 100 && labels.every((l) => l.length <= 255);
          if (!schemaFits) {
            expect(response.statusCode).toBe(400);
          } else {
            expect(forwarded).toBe(runnerCanTakeJob(SERVED, labels));
            expect(response.statusCode).toBe(202);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('arbitrary bodies (binary, truncated JSON, empty, unicode) signed or not are refused or ignored, never forwarded unless intact', async () => {
    const validJson = json(queuedJob());
    const body = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.nat({ max: validJson.length - 1 }).map((cut) => validJson.slice(0, cut)),
      fc.json({ maxDepth: 3 }),
      fc.constant(''),
      fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
    );
    await fc.assert(
      fc.asyncProperty(body, fc.boolean(), fc.constantFrom('workflow_job', 'ping', 'push', 'WORKFLOW_JOB', 'workflow_job ', '💥'), async (text, signIt, event) => {
        const signature = signIt && text.length > 0 ? await sign(TEST_SECRET, text) : 'sha256=' + 'f'.repeat(64);
        const { response, forwarded } = await run(await delivery(text, { signature, event }));
        expect(forwarded).toBe(false);
        if (!signIt || text.length === 0) expect([400, 401]).toContain(response.statusCode);
      }),
      { numRuns: RUNS },
    );
  });

  it('replayed deliveries with an altered body are refused with 401', async () => {
    const examples = examplesOf('workflow_job').filter((example) => SCALING_ACTIONS.includes(example.action));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...examples),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (example, position, flip) => {
          const original = json({ ...example, workflow_job: { ...example.workflow_job, labels: ['self-hosted'] } });
          const signed = await delivery(original);
          const bytes = Buffer.from(original, 'utf8');
          const index = position % bytes.length;
          bytes[index] = bytes[index] ^ flip;
          signed.body = bytes.toString('utf8');
          fc.pre(signed.body !== original);
          const { response, forwarded } = await run(signed);
          expect(forwarded).toBe(false);
          expect(response.statusCode === 401 || response.statusCode === 413 || response.statusCode === 400).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('header chaos: missing, duplicated, re-cased headers, wrong content types, wrong algorithm prefixes and methods', async () => {
    const body = json(queuedJob());
    const goodSignature = await sign(TEST_SECRET, body);
    const signatureVariant = fc.constantFrom(
      goodSignature,
      goodSignature.toUpperCase(),
      goodSignature.replace('sha256=', 'sha1='),
      goodSignature.replace('sha256=', 'sha512='),
      goodSignature.slice(0, -1),
      `${goodSignature},${goodSignature}`,
      ` ${goodSignature} `,
      'sha256=',
      '',
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          method: fc.constantFrom('POST', 'post', 'GET', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH'),
          signature: fc.option(signatureVariant, { nil: null }),
          event: fc.option(fc.constantFrom('workflow_job', 'workflow_job,workflow_job', 'Workflow_Job', ''), { nil: null }),
          deliveryId: fc.option(fc.oneof(fc.uuid(), fc.string({ unit: 'binary', maxLength: 120 })), { nil: null }),
          contentType: fc.option(
            fc.constantFrom('application/json', 'APPLICATION/JSON; charset=utf-8', 'text/plain', 'application/xml', 'multipart/form-data', 'application/x-www-form-urlencoded', ''),
            { nil: null },
          ),
          recase: fc.boolean(),
          base64: fc.boolean(),
        }),
        async (options) => {
          const event = await delivery(body, {
            method: options.method,
            signature: options.signature,
            event: options.event,
            delivery: options.deliveryId,
            contentType: options.contentType,
            base64: options.base64,
          });
          if (options.recase) {
            event.headers = Object.fromEntries(Object.entries(event.headers).map(([name, value]) => [name.toUpperCase(), value]));
          }
          const { response, forwarded } = await run(event);
          const intact =
            options.method.toUpperCase() === 'POST' &&
            (options.signature === goodSignature || options.signature === ` ${goodSignature} `) &&
            options.event === 'workflow_job' &&
            options.deliveryId !== null && /^[A-Za-z0-9._:-]{1,100}$/.test(options.deliveryId.trim()) &&
            (options.contentType === null || options.contentType === '' || options.contentType.toLowerCase().startsWith('application/json'));
          expect(forwarded).toBe(intact);
          if (!intact) expect(response.statusCode === 202 || (response.statusCode >= 400 && response.statusCode < 500)).toBe(true);
        },
      ),
      { numRuns: RUNS * 2 },
    );
  });

  it('oversized bodies are answered 413 whatever else is wrong', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4096 }), fc.boolean(), fc.boolean(), async (extra, base64, signIt) => {
        const text = 'x'.repeat(1024 * 1024 + extra);
        const { response, forwarded } = await run(await delivery(text, { base64, signature: signIt ? undefined : null }));
        expect(response.statusCode).toBe(413);
        expect(forwarded).toBe(false);
      }),
      { numRuns: 25 },
    );
  });
});
