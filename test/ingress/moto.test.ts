import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DeleteParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EventBridgeBus } from '../../lib/adapters/event-bus';
import { EVENT_SOURCE, SCALING_ACTIONS, WORKFLOW_JOB_DETAIL_TYPE, workflowJobEventSchema } from '../../lib/events';
import { createSsmSecretReader, createWebhookSecretSource, WebhookSecretMissingError } from '../../lib/webhook-secrets';
import { createWebhookHandler } from '../../Infrastructure/src/webhook';
import { describeWithTool, FAKE_AWS, startMoto, type MotoServer } from '../support/tools';
import { delivery, PREVIOUS_SECRET, queuedJob, TEST_SECRET } from './support';

const BUS = 'runner-autoscaler-test';
const CURRENT_PARAMETER = '/runner-autoscaler-test/webhook-secret';
const PREVIOUS_PARAMETER = '/runner-autoscaler-test/webhook-secret-previous';
const root = join(__dirname, '..', '..');

describeWithTool('moto_server', 'webhook ingress against moto_server (SSM SecureString -> handler -> EventBridge rule -> SQS)', (motoPath) => {
  let moto: MotoServer;
  let eventBridge: EventBridgeClient;
  let sqs: SQSClient;
  let ssm: SSMClient;
  let queueUrl: string;

  beforeAll(async () => {
    moto = await startMoto(motoPath);
    const config = { ...FAKE_AWS, endpoint: moto.endpoint };
    eventBridge = new EventBridgeClient(config);
    sqs = new SQSClient(config);
    ssm = new SSMClient(config);
    await eventBridge.send(new CreateEventBusCommand({ Name: BUS }));
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'autoscaler-stand-in' }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn;
    // The shape of the AutoScaler's rule: our source and detail-type, scaling actions only.
    await eventBridge.send(
      new PutRuleCommand({
        Name: 'workflow-job',
        EventBusName: BUS,
        EventPattern: JSON.stringify({
          source: [EVENT_SOURCE],
          'detail-type': [WORKFLOW_JOB_DETAIL_TYPE],
          detail: { action: [...SCALING_ACTIONS], labels: ['self-hosted'] },
        }),
      }),
    );
    await eventBridge.send(new PutTargetsCommand({ Rule: 'workflow-job', EventBusName: BUS, Targets: [{ Id: 'queue', Arn: queueArn }] }));
    await ssm.send(new PutParameterCommand({ Name: CURRENT_PARAMETER, Type: 'SecureString', Value: TEST_SECRET }));
  }, 60000);

  afterAll(async () => {
    eventBridge?.destroy();
    sqs?.destroy();
    ssm?.destroy();
    await moto?.stop();
  });

  async function receiveAll(waitSeconds = 1) {
    const messages = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: waitSeconds }))).Messages ?? [];
    // Deleted at once, so a slow run never sees a message again after its visibility timeout.
    for (const message of messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
    return messages.map((message) => JSON.parse(message.Body!));
  }

  function motoHandler(secretNames: { current: string; previous?: string } = { current: CURRENT_PARAMETER }) {
    return createWebhookHandler({
      secrets: createWebhookSecretSource({
        reader: createSsmSecretReader(ssm),
        currentName: secretNames.current,
        previousName: secretNames.previous,
      }),
      bus: new EventBridgeBus(eventBridge, BUS),
      servedLabels: ['self-hosted', 'linux', 'x64'],
    });
  }

  it('a signed queued delivery arrives at the rule target as the slim event', async () => {
    const handler = motoHandler();
    const response = await handler(await delivery(JSON.stringify(queuedJob()), { delivery: 'moto-delivery-1' }));
    expect(response.statusCode).toBe(202);
    const [envelope, ...rest] = await receiveAll();
    expect(rest).toHaveLength(0);
    expect(envelope).toMatchObject({ source: EVENT_SOURCE, 'detail-type': WORKFLOW_JOB_DETAIL_TYPE });
    const detail = workflowJobEventSchema.parse(envelope.detail);
    expect(detail).toMatchObject({
      deliveryId: 'moto-delivery-1',
      action: 'queued',
      jobId: 289782451,
      runId: 2202229078,
      labels: ['self-hosted', 'linux', 'x64'],
      repository: 'Codertocat/Hello-World',
      installationId: 3456996,
    });
  });

  it('ignored and refused deliveries put nothing on the bus', async () => {
    const handler = motoHandler();
    const waiting = { ...queuedJob(), action: 'waiting' };
    expect((await handler(await delivery(JSON.stringify(waiting)))).statusCode).toBe(202);
    expect((await handler(await delivery(JSON.stringify(queuedJob({ labels: ['self-hosted', 'gpu'] }))))).statusCode).toBe(202);
    expect((await handler(await delivery(JSON.stringify(queuedJob()), { secret: 'forged' }))).statusCode).toBe(401);
    expect(await receiveAll()).toEqual([]);
  });

  it('rotation: with the previous-secret parameter present both secrets are valid; once it is deleted only the current one', async () => {
    await ssm.send(new PutParameterCommand({ Name: PREVIOUS_PARAMETER, Type: 'SecureString', Value: PREVIOUS_SECRET }));
    const names = { current: CURRENT_PARAMETER, previous: PREVIOUS_PARAMETER };
    const during = motoHandler(names);
    expect((await during(await delivery(JSON.stringify(queuedJob()), { secret: PREVIOUS_SECRET, delivery: 'rot-1' }))).statusCode).toBe(202);
    expect((await during(await delivery(JSON.stringify(queuedJob()), { secret: TEST_SECRET, delivery: 'rot-2' }))).statusCode).toBe(202);
    expect((await receiveAll()).map((envelope) => envelope.detail.deliveryId).sort()).toEqual(['rot-1', 'rot-2']);

    await ssm.send(new DeleteParameterCommand({ Name: PREVIOUS_PARAMETER }));
    const after = motoHandler(names); // a fresh container: its cache starts empty
    expect((await after(await delivery(JSON.stringify(queuedJob()), { secret: PREVIOUS_SECRET }))).statusCode).toBe(401);
    expect((await after(await delivery(JSON.stringify(queuedJob()), { secret: TEST_SECRET, delivery: 'rot-3' }))).statusCode).toBe(202);
    expect((await receiveAll()).map((envelope) => envelope.detail.deliveryId)).toEqual(['rot-3']);
  });

  it('the secret is read from SSM once per cache period, decrypted, and a missing current parameter is an error', async () => {
    let now = 0;
    const reads: string[] = [];
    const reader = createSsmSecretReader(ssm, 0);
    const source = createWebhookSecretSource({
      reader: { read: (name) => (reads.push(name), reader.read(name)) },
      currentName: CURRENT_PARAMETER,
      maxAgeMs: 300000,
      now: () => now,
    });
    expect(await source()).toEqual([TEST_SECRET]);
    expect(await source()).toEqual([TEST_SECRET]);
    expect(reads).toHaveLength(1);
    await ssm.send(new PutParameterCommand({ Name: CURRENT_PARAMETER, Type: 'SecureString', Value: 'rotated-secret', Overwrite: true }));
    now = 299999;
    expect(await source()).toEqual([TEST_SECRET]);
    now = 300000;
    expect(await source()).toEqual(['rotated-secret']);
    await ssm.send(new PutParameterCommand({ Name: CURRENT_PARAMETER, Type: 'SecureString', Value: TEST_SECRET, Overwrite: true }));

    const missing = createWebhookSecretSource({ reader: createSsmSecretReader(ssm), currentName: '/runner-autoscaler-test/nope' });
    await expect(missing()).rejects.toBeInstanceOf(WebhookSecretMissingError);
    const handler = motoHandler({ current: '/runner-autoscaler-test/nope' });
    expect((await handler(await delivery(JSON.stringify(queuedJob())))).statusCode).toBe(503);
    expect(await receiveAll(0)).toEqual([]);
  });

  it('EventBridgeBus puts more than 10 entries in batches of 10, all delivered', async () => {
    const bus = new EventBridgeBus(eventBridge, BUS);
    const entries = Array.from({ length: 23 }, (_, index) => ({
      source: EVENT_SOURCE,
      detailType: WORKFLOW_JOB_DETAIL_TYPE,
      detail: { action: 'queued', labels: ['self-hosted'], deliveryId: `batch-${index}` },
    }));
    expect(await bus.putEvents(entries)).toEqual({ failedCount: 0, errorCodes: [] });
    const received: string[] = [];
    for (let attempt = 0; attempt < 10 && received.length < 23; attempt += 1) {
      received.push(...(await receiveAll(0)).map((envelope) => envelope.detail.deliveryId));
    }
    expect(received.sort()).toEqual(entries.map((entry) => entry.detail.deliveryId).sort());
  });

  describe('the bundled Lambda entry point (esbuild, as `npm run build` makes it) in its own Node process', () => {
    let outdir: string;
    let bundle: string;

    beforeAll(async () => {
      outdir = mkdtempSync(join(tmpdir(), 'webhook-bundle-'));
      bundle = join(outdir, 'index.js');
      // The product's own esbuild options and plugins (scripts/build.mjs), so this runs the bundle `npm run build` ships.
      const script = `const { build } = await import('esbuild');
        const { lambdaBuildOptions } = await import(${JSON.stringify(join(root, 'scripts', 'build.mjs'))});
        await build({ ...lambdaBuildOptions(process.argv[1], process.argv[2]), metafile: false });`;
      await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, join(root, 'Infrastructure/functions/webhook/handler.ts'), bundle], { cwd: root });
    }, 60000);

    afterAll(() => rmSync(outdir, { recursive: true, force: true }));

    it('reads its config from the environment (names only), its secret from SSM, forwards to the bus, and logs JSON with the delivery id', async () => {
      const kb = statSync(bundle).size / 1024;
      // eslint-disable-next-line no-console
      console.log(`webhook bundle: ${kb.toFixed(1)} KB minified (AWS SDK EventBridge + SSM, Powertools logger + parameters, zod)`);
      const signed = await delivery(JSON.stringify(queuedJob()), { delivery: 'bundle-delivery' });
      const driver = `const { handler } = require(${JSON.stringify(bundle)});
        handler(JSON.parse(process.argv[1])).then((r) => console.log('RESULT ' + JSON.stringify(r)));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['-e', driver, JSON.stringify(signed)], {
        env: {
          PATH: process.env.PATH,
          AWS_ENDPOINT_URL: moto.endpoint,
          AWS_REGION: FAKE_AWS.region,
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          EVENT_BUS_NAME: BUS,
          WEBHOOK_SECRET_PARAMETER: CURRENT_PARAMETER,
          WEBHOOK_SECRET_PREVIOUS_PARAMETER: '',
          RUNNER_LABELS: 'self-hosted,linux,x64',
          POWERTOOLS_SERVICE_NAME: 'webhook',
        },
        timeout: 20000,
      });
      const output = stdout.split('\n').filter(Boolean);
      const result = output.find((line) => line.startsWith('RESULT '));
      expect(JSON.parse(result!.slice('RESULT '.length))).toMatchObject({ statusCode: 202 });
      const [envelope] = await receiveAll();
      expect(envelope.detail).toMatchObject({ deliveryId: 'bundle-delivery', action: 'queued', jobId: 289782451 });
      const lines = output.filter((line) => line !== result).map((line) => JSON.parse(line));
      expect(lines.length).toBeGreaterThanOrEqual(2);
      for (const line of lines) expect(line).toMatchObject({ service: 'webhook', deliveryId: 'bundle-delivery' });
      expect(stdout).not.toContain(TEST_SECRET);
      expect(stdout).not.toContain(signed.headers['x-hub-signature-256']!.slice(7));
    }, 30000);
  });
});
