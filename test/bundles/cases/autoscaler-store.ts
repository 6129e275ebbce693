import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EVENT_SOURCE, WORKFLOW_JOB_DETAIL_TYPE } from '../../../lib/events';
import { readJob } from '../../../lib/ledger';
import { decideStep } from '../../../AutoScaler/src/decide';
import { buildSlimEvent } from '../../../Infrastructure/src/slim-event';
import { DEFAULT_SETTINGS } from '../../../lib/settings';
import { writeSettings } from '../../../lib/settings-store';
import { keys } from '../../../lib/table';
import { queuedJob } from '../../ingress/support';
import type { BundleCases } from '../support/cases';
import type { BundleWorld } from '../support/world';

/**
 * The AutoScaler steps that only read and write the table, and the pure
 * Decide. Each case uses its own pool (POOL is a template variable), so the
 * ledger and activity items of one case never meet another's.
 */

/** The execution input a queued webhook becomes (what the bus rule hands the state machine). */
export function workflowJobEnvelope(jobId: number, deliveryId: string): Record<string, unknown> {
  const payload = queuedJob();
  payload.workflow_job = { ...payload.workflow_job, id: jobId };
  const slim = buildSlimEvent(payload, deliveryId, new Date());
  if (!slim.ok) throw new Error(slim.reason);
  return {
    version: '0',
    id: `event-${deliveryId}`,
    source: EVENT_SOURCE,
    'detail-type': WORKFLOW_JOB_DETAIL_TYPE,
    account: '123456789012',
    region: 'us-east-1',
    time: new Date().toISOString(),
    resources: [],
    detail: slim.event,
  };
}

export async function activityItem(
  world: BundleWorld,
  pool: string,
): Promise<Record<string, any> | undefined> {
  return (
    await world.dynamo.doc.send(
      new GetCommand({ TableName: world.tableName, Key: { pk: keys.activity(pool) } }),
    )
  ).Item;
}

/** An EC2 instance metadata service (IMDSv2) that would hand out a region and role credentials, and records who asked. */
async function startMetadataService(): Promise<{ url: string; requests: string[]; stop(): Promise<void> }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (request.method === 'PUT') return void response.end('imds-token');
    if (request.url?.endsWith('/placement/region')) return void response.end('eu-west-3');
    if (request.url?.endsWith('/security-credentials/')) return void response.end('runner-role');
    const expiration = new Date(Date.now() + 3600_000).toISOString();
    response.end(
      JSON.stringify({
        Code: 'Success',
        AccessKeyId: 'ASIAIMDS',
        SecretAccessKey: 'imds',
        Token: 'imds',
        Expiration: expiration,
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const execution = (name: string) => ({
  Id: `arn:aws:states:us-east-1:123456789012:express:bundles:${name}:1`,
  Name: name,
});

export const cases: BundleCases = {
  'AutoScaler/record-event': [
    {
      name: 'a queued job is written to the ledger; its redelivery loses the conditional write (ConditionalCheckFailedException) and ends the execution as a duplicate',
      plugins: ['sdk-schema-shaking', 'lambda-runtime-only'],
      async run(world) {
        const pool = 'b-record-event';
        const event = { input: workflowJobEnvelope(71001, 'b-record-event-1'), execution: execution('re-1') };
        const first = await world.invoke('AutoScaler/record-event', event, { POOL: pool });
        expect(first.result).toMatchObject({
          skip: false,
          trigger: 'workflow_job',
          job: { jobId: 71001, action: 'queued' },
        });
        expect(await readJob(world.dynamo.doc, world.tableName, 71001)).toMatchObject({
          status: 'queued',
          pool,
        });

        const again = await world.invoke(
          'AutoScaler/record-event',
          { ...event, execution: execution('re-2') },
          { POOL: pool },
        );
        expect(again.result).toMatchObject({
          skip: true,
          skipReason: 'delivery b-record-event-1 was already handled',
        });
        // The refusal came over the wire as DynamoDB's 400, not from a shortcut in the handler.
        expect(
          world.aws.calls.some(
            (c) =>
              c.service === 'dynamodb' &&
              c.action === 'PutItem' &&
              c.status === 400 &&
              c.body.includes('b-record-event-1'),
          ),
        ).toBe(true);
      },
    },
  ],

  'AutoScaler/load-settings': [
    {
      name: "the pool's settings item is read and returned with its version",
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const pool = 'b-load-settings';
        await writeSettings(
          world.dynamo.doc,
          world.tableName,
          pool,
          { ...DEFAULT_SETTINGS, max: 3, headroom: 1 },
          0,
        );
        const run = await world.invoke('AutoScaler/load-settings', { executionId: 'ls-1' }, { POOL: pool });
        expect(run.result).toMatchObject({ values: { max: 3, headroom: 1 }, problems: [], version: 1 });
      },
    },
    {
      name: 'a table that does not exist (DynamoDB ResourceNotFoundException, its class unregistered by the build) fails by that name, not as a TransientError the state machine would retry',
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const run = await world.invoke(
          'AutoScaler/load-settings',
          { executionId: 'ls-2' },
          { POOL: 'b-load-settings', TABLE_NAME: 'bundles-no-such-table' },
        );
        expect(run.result).toBeUndefined();
        expect(run.error).toMatchObject({ name: 'ResourceNotFoundException' });
      },
    },
  ],

  'AutoScaler/record-failure': [
    {
      name: "a failed execution is kept on the pool's activity item and counted",
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const pool = 'b-record-failure';
        const input = {
          failure: { Error: 'States.TaskFailed', Cause: 'ScaleOut: boom' },
          execution: execution('rf-1'),
        };
        const run = await world.invoke('AutoScaler/record-failure', input, { POOL: pool });
        expect(run.result).toEqual({
          executionId: execution('rf-1').Id,
          error: 'States.TaskFailed',
          cause: 'ScaleOut: boom',
        });
        expect(await activityItem(world, pool)).toMatchObject({
          failureCount: 1,
          lastFailure: { error: 'States.TaskFailed', executionId: execution('rf-1').Id },
        });
      },
    },
    {
      // The stand-in's one code path in this SDK is its constructor (the client's endpoint cache): no DynamoDB
      // operation carries endpoint discovery, even when the environment turns it on. Were a future SDK to
      // discover, the AWS front would answer DescribeEndpoints and this case fails, so get/set get covered here.
      name: 'the DynamoDB client is built on the LRU stand-in, and with endpoint discovery turned on no operation uses its cache',
      plugins: ['small-lru-cache'],
      async run(world) {
        const pool = 'b-record-failure-discovery';
        const before = world.aws.calls.length;
        const input = { failure: { Error: 'States.Timeout', Cause: '' }, execution: execution('rf-2') };
        const run = await world.invoke(
          'AutoScaler/record-failure',
          input,
          { POOL: pool },
          { AWS_ENABLE_ENDPOINT_DISCOVERY: 'true' },
        );
        expect(run.error).toBeUndefined();
        expect(world.aws.calls.slice(before).map((c) => `${c.action}@${c.host.split(':')[0]}`)).toEqual([
          'UpdateItem@127.0.0.1',
        ]);
        expect(await activityItem(world, pool)).toMatchObject({ failureCount: 1 });
      },
    },
    {
      // Lambda always sets the region and the role's credentials in the environment and has no instance metadata
      // service; the build drops the SDK's fallbacks that ask it (region, and the SSO/INI/IMDS credential chain).
      // A metadata service that would answer both is offered here (AWS_EC2_METADATA_SERVICE_ENDPOINT): the
      // bundle must not ask it, and must fail at once saying what is missing.
      name: 'without AWS_REGION, or without credentials in the environment, the write fails at once naming what is missing, and never asks instance metadata',
      plugins: ['lambda-runtime-only', 'lambda-credentials'],
      async run(world) {
        const imds = await startMetadataService();
        try {
          const input = { failure: { Error: 'States.Timeout', Cause: '' }, execution: execution('rf-3') };
          const before = world.aws.calls.length;
          const metadata = { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url };
          const noRegion = await world.invoke(
            'AutoScaler/record-failure',
            input,
            { POOL: 'b-rf-runtime' },
            { ...metadata, AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined },
          );
          expect(noRegion.error?.message).toMatch(/region is missing/i);
          const noCredentials = await world.invoke(
            'AutoScaler/record-failure',
            input,
            { POOL: 'b-rf-runtime' },
            {
              ...metadata,
              AWS_ACCESS_KEY_ID: undefined,
              AWS_SECRET_ACCESS_KEY: undefined,
              AWS_SESSION_TOKEN: undefined,
            },
          );
          expect(noCredentials.error).toMatchObject({ name: 'CredentialsProviderError' });
          expect(noCredentials.error?.message).toMatch(/environment/i);
          expect(imds.requests).toEqual([]);
          expect(world.aws.calls.length).toBe(before);
          expect(await activityItem(world, 'b-rf-runtime')).toBeUndefined();
        } finally {
          await imds.stop();
        }
      },
    },
  ],

  'AutoScaler/decide': [
    {
      name: 'two queued jobs and a floor of one: the bundled policy decides what the source decides (scale out)',
      async run(world) {
        const input = {
          observation: {
            now: Date.now(),
            group: { desired: 1, min: 1, max: 4 },
            fleet: [],
            ledger: { queued: 2, inProgress: 0 },
            activity: { version: 3 },
          },
          settings: { ...DEFAULT_SETTINGS, max: 10 },
        };
        const run = await world.invoke('AutoScaler/decide', input);
        expect(run.result).toMatchObject({ action: 'scale_out', current: 1 });
        expect(run.result).toEqual(JSON.parse(JSON.stringify(decideStep(input))));
        expect((run.result as { desired: number }).desired).toBeLessThanOrEqual(4);
      },
    },
  ],

  'AutoScaler/record-activity': [
    {
      name: "an applied scale-out is added to the pool's recent decisions",
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const pool = 'b-record-activity';
        const decision = {
          action: 'scale_out',
          current: 1,
          target: 3,
          desired: 3,
          victims: [],
          reason: '2 queued',
          counts: { queued: 2, busy: 0, idle: 1, booting: 0, offline: 0, unregistered: 0 },
        };
        const state = {
          executionId: execution('ra-1').Id,
          trigger: 'workflow_job',
          skip: false,
          skipReason: null,
          job: { jobId: 71002, action: 'queued', ledger: 'new -> queued' },
          reconcile: null,
          attempt: 0,
          settings: { values: DEFAULT_SETTINGS, problems: [], version: 0 },
          decision,
          applied: { action: 'scale_out', applied: true, stale: false, desired: 3, version: 1 },
        };
        const run = await world.invoke('AutoScaler/record-activity', state, { POOL: pool });
        expect(run.result).toMatchObject({ outcome: 'scaled_out', decision: { desired: 3 } });
        const item = await activityItem(world, pool);
        expect(JSON.stringify(item)).toContain(execution('ra-1').Id);
      },
    },
  ],
};
