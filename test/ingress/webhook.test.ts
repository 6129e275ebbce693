import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { sign, verify } from '@octokit/webhooks-methods';
import { mockClient } from 'aws-sdk-client-mock';
import { EventBridgeBus } from '../../lib/adapters/event-bus';
import { EVENT_SOURCE, WORKFLOW_JOB_DETAIL_TYPE, workflowJobEventSchema, type WorkflowJobEvent } from '../../lib/events';
import { createWebhookHandler, type WebhookDeps } from '../../Infrastructure/src/webhook';
import { signatureIsValid } from '../../Infrastructure/src/verify';
import {
  delivery,
  examplesOf,
  formBody,
  PREVIOUS_SECRET,
  queuedJob,
  recordingLogger,
  TEST_SECRET,
} from './support';

const eventBridge = mockClient(EventBridgeClient);
const RECEIVED_AT = Date.parse('2026-11-23T03:00:00.000Z');
const DELIVERY = '72d3162e-cc78-11e3-81ab-4c9367dc0958';

function harness(overrides: Partial<WebhookDeps> = {}) {
  const logger = recordingLogger();
  const bus = new EventBridgeBus(new EventBridgeClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }), 'runner-autoscaler', {
    sleep: async () => undefined,
  });
  const handler = createWebhookHandler({
    secrets: async () => [TEST_SECRET],
    bus,
    servedLabels: ['self-hosted', 'linux', 'x64'],
    logger,
    now: () => RECEIVED_AT,
    ...overrides,
  });
  return { handler, logger };
}

function putEventsEntries() {
  return eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
}

function forwardedEvents(): WorkflowJobEvent[] {
  return putEventsEntries().map((entry) => workflowJobEventSchema.parse(JSON.parse(entry.Detail!)));
}

beforeEach(() => {
  eventBridge.reset();
  eventBridge.on(PutEventsCommand).callsFake((input) => ({
    FailedEntryCount: 0,
    Entries: input.Entries.map((_: unknown, index: number) => ({ EventId: `event-${index}` })),
  }));
});

describe("GitHub's documented signature test vector", () => {
  const secret = "It's a Secret to Everybody";
  const payload = 'Hello, World!';
  const signature = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';

  it('is accepted by the verifier, alone and as the previous secret of a rotation', async () => {
    expect(await signatureIsValid([secret], payload, signature)).toBe(true);
    expect(await signatureIsValid(['a-newer-secret', secret], payload, signature)).toBe(true);
  });

  it('is refused with another secret, another payload, a flipped digit or another algorithm prefix', async () => {
    expect(await signatureIsValid(['another secret'], payload, signature)).toBe(false);
    expect(await signatureIsValid([secret], 'Hello, World?', signature)).toBe(false);
    expect(await signatureIsValid([secret], payload, signature.replace(/7$/, '8'))).toBe(false);
    expect(await signatureIsValid([secret], payload, signature.replace('sha256=', 'sha1='))).toBe(false);
    expect(await signatureIsValid([secret], payload, signature.toUpperCase())).toBe(false);
    expect(await signatureIsValid([], payload, signature)).toBe(false);
    expect(await signatureIsValid([''], payload, signature)).toBe(false);
  });

  it('matches what @octokit/webhooks-methods computes, so test deliveries are signed the way GitHub signs', async () => {
    expect(await sign(secret, payload)).toBe(signature);
    expect(await verify(secret, payload, signature)).toBe(true);
  });
});

describe('every workflow_job example of @octokit/webhooks-examples', () => {
  const jobExamples = examplesOf('workflow_job');
  // The examples use hosted and custom labels; this pool serves all of them so each example is judged on its action.
  const servedLabels = ['self-hosted', 'k8s', 'ubuntu-latest', 'gpu', 'db-app', 'dc-03'];

  const expected: Array<Partial<WorkflowJobEvent> | 'ignored'> = [
    { action: 'in_progress', jobId: 2832853555, runId: 940463255, runAttempt: 1, labels: ['gpu', 'db-app', 'dc-03'],
      repository: 'octo-org/example-workflow', owner: 'octo-org', installationId: null, runnerName: 'my runner', runnerId: 1,
      createdAt: null, startedAt: '2021-06-15T19:22:27Z', completedAt: null, status: 'in_progress', conclusion: null },
    { action: 'completed', jobId: 289782451, runId: 2202229078, runAttempt: 1, labels: ['ubuntu-latest'],
      repository: 'Codertocat/Hello-World', owner: 'Octocoders', installationId: null, runnerName: 'GitHub Actions 5', runnerId: 5,
      createdAt: '2021-08-05T10:33:58Z', startedAt: '2021-08-05T10:34:58Z', completedAt: '2021-08-05T10:38:16Z', status: 'completed', conclusion: 'failure' },
    { action: 'completed', jobId: 289782451, conclusion: 'success', completedAt: '2021-08-05T10:38:16Z' },
    { action: 'in_progress', jobId: 289782451, installationId: 1, completedAt: null, status: 'in_progress', startedAt: '2021-09-13T02:21:13Z' },
    { action: 'in_progress', jobId: 14541957942, runId: 5373506832, repository: 'wolfy1339/github-events-schemas', owner: 'wolfy1339',
      installationId: 3456996, runnerName: 'GitHub Actions 6', runnerId: 6, createdAt: '2023-06-26T03:31:29Z', startedAt: '2023-06-26T03:31:36Z' },
    { action: 'queued', jobId: 289782451, installationId: 3456996, status: 'queued', conclusion: null },
    { action: 'queued', jobId: 12877621891, runId: 4747967848, labels: ['self-hosted', 'k8s'], repository: 'lineville/elastic-machines-testing',
      owner: 'lineville', installationId: 23154469, runnerName: null, runnerId: null, status: 'waiting' },
    'ignored', // action "waiting" is not a scaling action
  ];

  it('has the eight examples this table describes', () => {
    expect(jobExamples.map((example) => example.action)).toEqual([
      'in_progress', 'completed', 'completed', 'in_progress', 'in_progress', 'queued', 'queued', 'waiting',
    ]);
  });

  describe.each(jobExamples.map((example, index) => [index, example.action, example] as const))('example %i (%s)', (index, _action, example) => {
    for (const encoding of ['json', 'form', 'base64 json'] as const) {
      it(`sent as ${encoding}: ${expected[index] === 'ignored' ? 'answered 202 ignored, nothing put' : 'forwards the expected slim event'}`, async () => {
        const { handler } = harness({ servedLabels });
        const json = JSON.stringify(example);
        const body = encoding === 'form' ? formBody(json) : json;
        const response = await handler(
          await delivery(body, {
            delivery: `${DELIVERY}-${index}`,
            contentType: encoding === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
            base64: encoding === 'base64 json',
          }),
        );
        const want = expected[index];
        if (want === 'ignored') {
          expect(response.statusCode).toBe(202);
          expect(JSON.parse(response.body).message).toMatch(/^ignored: action waiting/);
          expect(putEventsEntries()).toHaveLength(0);
          return;
        }
        expect(response.statusCode).toBe(202);
        expect(JSON.parse(response.body).message).toBe('forwarded');
        const entries = putEventsEntries();
        expect(entries).toHaveLength(1);
        expect(entries[0]).toMatchObject({ EventBusName: 'runner-autoscaler', Source: EVENT_SOURCE, DetailType: WORKFLOW_JOB_DETAIL_TYPE });
        const [event] = forwardedEvents();
        expect(event).toMatchObject({ ...want, deliveryId: `${DELIVERY}-${index}`, event: 'workflow_job', receivedAt: '2026-11-23T03:00:00.000Z' });
        // Slim means slim: no field beyond the contract travels.
        expect(Object.keys(event).sort()).toEqual(Object.keys(workflowJobEventSchema.shape).sort());
        expect(entries[0].Detail!.length).toBeLessThan(1000);
      });
    }
  });

  it('examples whose labels the pool does not serve are ignored (default pool self-hosted,linux,x64)', async () => {
    const { handler } = harness();
    for (const example of jobExamples) {
      const response = await handler(await delivery(JSON.stringify(example)));
      expect(response.statusCode).toBe(202);
      expect(JSON.parse(response.body).message).toMatch(/^ignored: /);
    }
    expect(putEventsEntries()).toHaveLength(0);
  });
});

describe('ping', () => {
  it.each(examplesOf('ping').map((example, index) => [index, example] as const))('example %i answers 200 pong and puts nothing', async (_index, example) => {
    const { handler } = harness();
    const response = await handler(await delivery(JSON.stringify(example), { event: 'ping' }));
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ message: 'pong' });
    expect(putEventsEntries()).toHaveLength(0);
  });

  it('a ping signed with the wrong secret is refused like any other delivery', async () => {
    const { handler } = harness();
    const response = await handler(await delivery(JSON.stringify(examplesOf('ping')[0]), { event: 'ping', secret: 'wrong' }));
    expect(response.statusCode).toBe(401);
  });
});

describe('labels', () => {
  it('forwards a job whose labels are a subset of the pool labels, in any case, with labels lower-cased and de-duplicated', async () => {
    const { handler } = harness();
    const response = await handler(await delivery(JSON.stringify(queuedJob({ labels: ['Self-Hosted', 'LINUX', 'linux'] }))));
    expect(response.statusCode).toBe(202);
    expect(forwardedEvents()[0].labels).toEqual(['self-hosted', 'linux']);
  });

  it.each([
    [['self-hosted', 'linux', 'arm64']],
    [['ubuntu-latest']],
    [[]],
  ])('ignores a job asking for %j', async (labels) => {
    const { handler } = harness();
    const response = await handler(await delivery(JSON.stringify(queuedJob({ labels }))));
    expect(response.statusCode).toBe(202);
    expect(JSON.parse(response.body).message).toMatch(/^ignored: labels .* not served/);
    expect(putEventsEntries()).toHaveLength(0);
  });
});

describe('bad input: each answer is a clear 4xx and nothing reaches the bus', () => {
  const validBody = JSON.stringify(queuedJob());

  async function expectRefused(event: Awaited<ReturnType<typeof delivery>>, status: number, reason: RegExp) {
    const { handler } = harness();
    const response = await handler(event);
    expect(response.statusCode).toBe(status);
    const message: string = JSON.parse(response.body).message;
    expect(message).toMatch(reason);
    expect(message).not.toContain('\n');
    expect(putEventsEntries()).toHaveLength(0);
  }

  it('a valid delivery does reach the bus (control case for the cases below)', async () => {
    const { handler } = harness();
    expect((await handler(await delivery(validBody))).statusCode).toBe(202);
    expect(putEventsEntries()).toHaveLength(1);
  });

  it('missing signature: 401', async () => expectRefused(await delivery(validBody, { signature: null }), 401, /missing X-Hub-Signature-256/));
  it('signature made with another secret: 401', async () => expectRefused(await delivery(validBody, { secret: 'not-the-secret' }), 401, /does not match/));
  it('sha1 signature in the sha256 header: 401', async () =>
    expectRefused(await delivery(validBody, { signature: 'sha1=' + 'a'.repeat(40) }), 401, /does not match/));
  it('garbage signature: 401', async () => expectRefused(await delivery(validBody, { signature: 'sha256=zz' }), 401, /does not match/));
  it('body altered after signing (replayed delivery with another job id): 401', async () => {
    const signed = await delivery(validBody);
    signed.body = validBody.replace('"id":289782451', '"id":289782452');
    expect(signed.body).not.toBe(validBody);
    await expectRefused(signed, 401, /does not match/);
  });
  it('base64 flag set on a body that was signed before encoding but sent raw: 401', async () => {
    const signed = await delivery(validBody);
    signed.isBase64Encoded = true;
    await expectRefused(signed, 401, /does not match/);
  });
  it('missing X-GitHub-Event: 400', async () => expectRefused(await delivery(validBody, { event: null }), 400, /missing X-GitHub-Event/));
  it('missing X-GitHub-Delivery: 400', async () => expectRefused(await delivery(validBody, { delivery: null }), 400, /missing X-GitHub-Delivery/));
  it('delivery id that is not one: 400', async () =>
    expectRefused(await delivery(validBody, { delivery: 'x'.repeat(101) }), 400, /not a delivery id/));
  it('unsupported content type: 415', async () => expectRefused(await delivery(validBody, { contentType: 'text/plain' }), 415, /content type/));
  it('signed but unparsable JSON: 400', async () => expectRefused(await delivery('{"action": "queued", '), 400, /not valid JSON/));
  it('signed JSON that is not an object: 400', async () => expectRefused(await delivery('[1,2,3]'), 400, /not a JSON object/));
  it('signed form body without a payload field: 400', async () =>
    expectRefused(await delivery('data=%7B%7D', { contentType: 'application/x-www-form-urlencoded' }), 400, /no payload field/));
  it('empty body: 401 (GitHub never signs an empty body)', async () => expectRefused(await delivery('', { signature: 'sha256=' + '0'.repeat(64) }), 401, /does not match/));
  it('workflow_job without action: 400', async () => {
    const payload = queuedJob();
    delete payload.action;
    await expectRefused(await delivery(JSON.stringify(payload)), 400, /action is missing/);
  });
  it.each([
    ['workflow_job', 'workflow_job: Invalid input: expected object, received undefined'],
    ['workflow_job.id', 'workflow_job.id'],
    ['workflow_job.run_id', 'workflow_job.run_id'],
    ['workflow_job.labels', 'workflow_job.labels'],
    ['workflow_job.status', 'workflow_job.status'],
    ['repository', 'repository'],
    ['repository.full_name', 'repository.full_name'],
    ['repository.owner', 'repository.owner'],
  ])('workflow_job without %s: 400 naming the field', async (path, reason) => {
    const payload = queuedJob();
    const parts = path.split('.');
    const parent = parts.slice(0, -1).reduce((node: any, key) => node[key], payload);
    delete parent[parts[parts.length - 1]];
    await expectRefused(await delivery(JSON.stringify(payload)), 400, new RegExp(`^workflow_job payload is incomplete: ${reason.replace('.', '\\.')}`));
  });
  it.each([
    ['workflow_job.id', '"12"'],
    ['workflow_job.run_attempt', 0],
    ['workflow_job.labels', 'self-hosted'],
    ['workflow_job.runner_id', -1],
    ['installation', 'acme'],
  ])('workflow_job with a wrong type in %s: 400', async (path, value) => {
    const payload = queuedJob();
    const parts = path.split('.');
    const parent = parts.slice(0, -1).reduce((node: any, key) => node[key], payload);
    parent[parts[parts.length - 1]] = value;
    await expectRefused(await delivery(JSON.stringify(payload)), 400, /^workflow_job payload is incomplete: /);
  });
  it('body over 1 MB: 413, before any signature work', async () => {
    const big = JSON.stringify({ ...queuedJob(), padding: 'x'.repeat(1024 * 1024) });
    await expectRefused(await delivery(big, { signature: 'sha256=' + '0'.repeat(64) }), 413, /larger than/);
    await expectRefused(await delivery(big, { base64: true }), 413, /larger than/);
  });
  it.each(['GET', 'PUT', 'DELETE'])('%s: 405 with Allow: POST', async (method) => {
    const { handler } = harness();
    const response = await handler(await delivery(validBody, { method }));
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe('POST');
    expect(putEventsEntries()).toHaveLength(0);
  });
  it('other events: 202 ignored', async () => {
    for (const event of ['push', 'workflow_run', 'check_run']) {
      await expectRefused(await delivery(JSON.stringify({ action: 'completed' }), { event }), 202, new RegExp(`^ignored: event ${event}`));
    }
  });
  it('actions that are not scaling actions: 202 ignored', async () => {
    for (const action of ['waiting', 'requested', 'something_new']) {
      await expectRefused(await delivery(JSON.stringify({ ...queuedJob(), action })), 202, new RegExp(`^ignored: action ${action}`));
    }
  });
});

describe('headers and encodings', () => {
  it('finds headers whatever their case (local servers do not lower-case them)', async () => {
    const { handler } = harness();
    const body = JSON.stringify(queuedJob());
    const event = await delivery(body);
    event.headers = Object.fromEntries(
      Object.entries(event.headers).map(([name, value]) => [name.replace(/(^|-)([a-z])/g, (_m, dash, c) => dash + c.toUpperCase()), value]),
    );
    expect(Object.keys(event.headers)).toContain('X-Hub-Signature-256');
    expect((await handler(event)).statusCode).toBe(202);
    expect(putEventsEntries()).toHaveLength(1);
  });

  it('verifies the exact bytes: non-ASCII labels survive base64 and form encoding', async () => {
    const payload = queuedJob({ labels: ['self-hosted', 'linux', 'x64'] });
    payload.repository.full_name = 'Codertocat/Hélló-Wörld';
    for (const options of [{ base64: true }, { contentType: 'application/x-www-form-urlencoded' }] as const) {
      eventBridge.resetHistory();
      const json = JSON.stringify(payload);
      const body = 'contentType' in options ? formBody(json) : json;
      const { handler } = harness();
      expect((await handler(await delivery(body, options))).statusCode).toBe(202);
      expect(forwardedEvents()[0].repository).toBe('Codertocat/Hélló-Wörld');
    }
  });

  it('accepts a charset parameter on the content type', async () => {
    const { handler } = harness();
    const response = await handler(await delivery(JSON.stringify(queuedJob()), { contentType: 'application/json; charset=utf-8' }));
    expect(response.statusCode).toBe(202);
  });
});

describe('secret rotation', () => {
  const body = JSON.stringify(queuedJob());

  it('accepts deliveries signed with the current or the previous secret, and nothing else', async () => {
    const { handler } = harness({ secrets: async () => [TEST_SECRET, PREVIOUS_SECRET] });
    expect((await handler(await delivery(body, { secret: TEST_SECRET }))).statusCode).toBe(202);
    expect((await handler(await delivery(body, { secret: PREVIOUS_SECRET }))).statusCode).toBe(202);
    expect((await handler(await delivery(body, { secret: 'third' }))).statusCode).toBe(401);
    expect(putEventsEntries()).toHaveLength(2);
  });

  it('once the previous secret is gone, its signatures are refused', async () => {
    const { handler } = harness({ secrets: async () => [TEST_SECRET] });
    expect((await handler(await delivery(body, { secret: PREVIOUS_SECRET }))).statusCode).toBe(401);
    expect(putEventsEntries()).toHaveLength(0);
  });

  it('a secret that cannot be read answers 503 (GitHub marks the delivery failed; it can be redelivered)', async () => {
    const { handler, logger } = harness({ secrets: async () => Promise.reject(new Error('AccessDeniedException')) });
    const response = await handler(await delivery(body));
    expect(response.statusCode).toBe(503);
    expect(putEventsEntries()).toHaveLength(0);
    expect(logger.lines.some((line) => line.level === 'ERROR' && line.message === 'could not read the webhook secret')).toBe(true);
  });
});

describe('PutEvents faults give 5xx so GitHub marks the delivery failed', () => {
  const body = JSON.stringify(queuedJob());

  it('a partial failure that persists through the retries: 503', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }] });
    const { handler, logger } = harness();
    const response = await handler(await delivery(body));
    expect(response.statusCode).toBe(503);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
    expect(logger.lines.find((line) => line.level === 'ERROR')).toMatchObject({ message: 'PutEvents did not accept the event', failedCount: 1 });
  });

  it('a partial failure that clears on retry is delivered once: 202', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const { handler } = harness();
    expect((await handler(await delivery(body))).statusCode).toBe(202);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });

  it('PutEvents throwing (access denied, endpoint down): 502', async () => {
    eventBridge.on(PutEventsCommand).rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDeniedException' }));
    const { handler } = harness();
    expect((await handler(await delivery(body))).statusCode).toBe(502);
  });
});

describe('logging', () => {
  it('every line of a request carries its delivery id; the secret and the signature never appear', async () => {
    const { handler, logger } = harness({ secrets: async () => [TEST_SECRET, PREVIOUS_SECRET] });
    const body = JSON.stringify(queuedJob());
    const signed = await delivery(body, { delivery: 'delivery-one' });
    await handler(signed);
    await handler(await delivery(body, { delivery: 'delivery-two', secret: 'wrong' }));
    await handler(await delivery(body, { delivery: null }));
    expect(logger.lines.length).toBeGreaterThanOrEqual(3);
    expect(logger.lines.filter((line) => line.deliveryId === 'delivery-one').length).toBeGreaterThanOrEqual(2);
    expect(logger.lines.filter((line) => line.deliveryId === 'delivery-two')).toHaveLength(1);
    expect(logger.lines.at(-1)).toMatchObject({ deliveryId: null, statusCode: 400 });
    const text = JSON.stringify(logger.lines);
    for (const secret of [TEST_SECRET, PREVIOUS_SECRET, signed.headers['x-hub-signature-256']!.slice(7)]) {
      expect(text).not.toContain(secret);
    }
  });

  it('with the real Powertools logger, each JSON line has the delivery id and the key does not leak into the next request', async () => {
    const { Logger } = await import('@aws-lambda-powertools/logger');
    const written: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const { handler } = harness({ logger: new Logger({ serviceName: 'webhook', logLevel: 'INFO' }) });
      await handler(await delivery(JSON.stringify(queuedJob()), { delivery: 'powertools-delivery' }));
      await handler(await delivery(JSON.stringify(queuedJob()), { delivery: null }));
    } finally {
      spy.mockRestore();
    }
    const lines = written.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const first = lines.filter((line) => line.deliveryId === 'powertools-delivery');
    expect(first.map((line) => line.message)).toEqual(['workflow_job forwarded', 'webhook answered']);
    expect(lines.at(-1)).toMatchObject({ message: 'webhook answered', statusCode: 400, service: 'webhook' });
    expect(lines.at(-1).deliveryId ?? null).toBeNull();
    expect(written.join('')).not.toContain(TEST_SECRET);
  });
});

describe('misconfiguration', () => {
  it('a deps factory that throws (bad environment) answers 500 and never forwards', async () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const handler = createWebhookHandler(() => {
      throw new Error('invalid configuration: EVENT_BUS_NAME: Required');
    });
    const response = await handler(await delivery(JSON.stringify(queuedJob())));
    errors.mockRestore();
    expect(response.statusCode).toBe(500);
    expect(putEventsEntries()).toHaveLength(0);
  });
});
