import nock from 'nock';
import { GetParameterCommand, ListTagsForResourceCommand, SSMClient, DescribeParametersCommand } from '@aws-sdk/client-ssm';
import { createGitHubPort } from '../../lib/adapters/github';
import { createSsmRunnerConfigStore, INSTANCE_ARN_TAG } from '../../Runners/src/aws';
import { createJitConfigHandler, parseLaunchEvent, type JitConfigDeps } from '../../Runners/src/jit-config';
import { createMemoryCounter } from '../../Runners/src/metrics';
import { loadJitConfigConfig } from '../../Runners/src/config';
import { describeWithTool, FAKE_AWS, startMoto, type MotoServer } from '../support/tools';
import { fakeLifecycle, GROUP, launchEvent } from './support';

const API = 'https://api.github.com';
const PREFIX = '/runner-autoscaler/runners';
const CONFIG = 'SENTINEL-JIT-' + 'x'.repeat(2000);

function captureLogs() {
  const lines: string[] = [];
  const record = (level: string) => (message: string, ...extra: Record<string, unknown>[]) => lines.push(JSON.stringify({ level, message, ...Object.assign({}, ...extra) }));
  return { lines, logger: { info: record('INFO'), warn: record('WARN'), error: record('ERROR') } };
}

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});
afterAll(() => nock.enableNetConnect());

describe('parseLaunchEvent', () => {
  it('derives the instance ARN the instance role is matched against', () => {
    const parsed = parseLaunchEvent(launchEvent('i-0aaaaaaaaaaaaaaaa'));
    expect(parsed).toEqual({
      ok: true,
      launch: {
        groupName: GROUP,
        hookName: 'runner-launch',
        token: '87654321-4321-4321-4321-210987654321',
        instanceId: 'i-0aaaaaaaaaaaaaaaa',
        instanceArn: 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0aaaaaaaaaaaaaaaa',
      },
    });
  });

  it('rejects a terminate transition or a malformed instance id with a reason', () => {
    const terminating = launchEvent('i-0aaaaaaaaaaaaaaaa');
    (terminating.detail as Record<string, string>).LifecycleTransition = 'autoscaling:EC2_INSTANCE_TERMINATING';
    expect(parseLaunchEvent(terminating)).toMatchObject({ ok: false, reason: expect.stringContaining('LifecycleTransition') });
    expect(parseLaunchEvent(launchEvent('i-; rm -rf /'))).toMatchObject({ ok: false, reason: expect.stringContaining('EC2InstanceId') });
  });
});

describeWithTool('moto_server', 'jit-config Lambda (GitHub via nock, SSM from moto)', (motoPath) => {
  let moto: MotoServer;
  let ssm: SSMClient;
  let instanceCounter = 0;
  const nextInstance = () => `i-0${(++instanceCounter).toString(16).padStart(16, '0')}`;

  beforeAll(async () => {
    moto = await startMoto(motoPath);
    ssm = new SSMClient({ ...FAKE_AWS, endpoint: moto.endpoint });
  });
  afterAll(async () => {
    ssm?.destroy();
    await moto?.stop();
  });

  function setup(instanceId: string, options: { state?: string; labels?: () => Promise<string[]>; sleeps?: number[] } = {}) {
    const lifecycle = fakeLifecycle({ [instanceId]: options.state ?? 'Pending:Wait' });
    const metrics = createMemoryCounter();
    const logs = captureLogs();
    const github = createGitHubPort({
      scope: { kind: 'org', org: 'acme' },
      auth: { type: 'pat', token: 'ghp_SENTINEL_TOKEN' },
      retry: { sleep: async (ms) => void options.sleeps?.push(ms), random: () => 0.5 },
    });
    const deps: JitConfigDeps = {
      groupName: GROUP,
      runnerGroupId: 1,
      github: () => github,
      labels: options.labels ?? (async () => ['self-hosted', 'linux', 'x64']),
      store: createSsmRunnerConfigStore({ ssm, prefix: PREFIX }),
      lifecycle: lifecycle.port,
      metrics,
      logger: logs.logger,
    };
    return { handler: createJitConfigHandler(deps), lifecycle, metrics, logs, github };
  }

  const readParameter = async (instanceId: string) => {
    try {
      return (await ssm.send(new GetParameterCommand({ Name: `${PREFIX}/${instanceId}`, WithDecryption: true }))).Parameter;
    } catch (error) {
      if ((error as Error).name === 'ParameterNotFound') return undefined;
      throw error;
    }
  };

  it('registers a runner named after the instance, stores its config for that instance only, and continues the launch', async () => {
    const instanceId = nextInstance();
    let body: Record<string, unknown> | undefined;
    nock(API)
      .post('/orgs/acme/actions/runners/generate-jitconfig', (b) => ((body = b), true))
      .reply(201, { runner: { id: 501, name: instanceId }, encoded_jit_config: CONFIG });
    const { handler, lifecycle, metrics, logs } = setup(instanceId);

    const first = await handler(launchEvent(instanceId));
    expect(first).toEqual({ outcome: 'continued', instanceId });

    expect(body).toEqual({ name: instanceId, runner_group_id: 1, labels: ['self-hosted', 'linux', 'x64'], work_folder: '_work' });
    const parameter = await readParameter(instanceId);
    expect(parameter).toMatchObject({ Type: 'SecureString', Value: CONFIG });
    const described = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [`${PREFIX}/${instanceId}`] }] }));
    expect(described.Parameters?.[0]?.Tier).toBe('Standard');
    const tags = await ssm.send(new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: `${PREFIX}/${instanceId}` }));
    expect(tags.TagList).toContainEqual({ Key: INSTANCE_ARN_TAG, Value: `arn:aws:ec2:eu-west-1:123456789012:instance/${instanceId}` });
    expect(lifecycle.states[instanceId]).toBe('Pending:Proceed');
    expect(metrics.counts).toEqual({ 'JitConfigCreated|Tier=Standard': 1 });
    expect(logs.lines.join('\n')).not.toContain('SENTINEL');
  });

  it('uses the Advanced tier for a config over 4 KB', async () => {
    const instanceId = nextInstance();
    nock(API).post('/orgs/acme/actions/runners/generate-jitconfig').reply(201, { runner: { id: 502 }, encoded_jit_config: 'y'.repeat(5000) });
    const { handler, metrics } = setup(instanceId);
    expect((await handler(launchEvent(instanceId))).outcome).toBe('continued');
    const described = await ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Values: [`${PREFIX}/${instanceId}`] }] }));
    expect(described.Parameters?.[0]?.Tier).toBe('Advanced');
    expect(metrics.counts).toEqual({ 'JitConfigCreated|Tier=Advanced': 1 });
  });

  it('abandons the launch when GitHub refuses (422), storing nothing, and logs and counts it', async () => {
    const instanceId = nextInstance();
    nock(API).post('/orgs/acme/actions/runners/generate-jitconfig').reply(422, { message: 'Invalid runner group' });
    const { handler, lifecycle, metrics, logs } = setup(instanceId);

    expect(await handler(launchEvent(instanceId))).toEqual({ outcome: 'abandoned', instanceId });
    expect(lifecycle.states[instanceId]).toBe('Terminating');
    expect(lifecycle.completions.map((c) => c.result)).toEqual(['ABANDON']);
    expect(await readParameter(instanceId)).toBeUndefined();
    expect(metrics.counts).toEqual({ 'JitConfigFailed|Reason=error': 1 });
    const error = logs.lines.map((line) => JSON.parse(line)).find((line) => line.level === 'ERROR');
    expect(error).toMatchObject({ instanceId, error: expect.stringContaining('422: Invalid runner group') });
    expect(logs.lines.join('\n')).not.toContain('SENTINEL');
  });

  it('retries GitHub 5xx with backoff and then continues', async () => {
    const instanceId = nextInstance();
    nock(API)
      .post('/orgs/acme/actions/runners/generate-jitconfig').reply(502, 'bad gateway')
      .post('/orgs/acme/actions/runners/generate-jitconfig').reply(503, { message: 'unavailable' })
      .post('/orgs/acme/actions/runners/generate-jitconfig').reply(201, { runner: { id: 503 }, encoded_jit_config: CONFIG });
    const sleeps: number[] = [];
    const { handler, lifecycle, github } = setup(instanceId, { sleeps });
    expect((await handler(launchEvent(instanceId))).outcome).toBe('continued');
    expect(sleeps).toHaveLength(2);
    expect(github.requestCount).toBe(3);
    expect((await readParameter(instanceId))?.Value).toBe(CONFIG);
    expect(lifecycle.states[instanceId]).toBe('Pending:Proceed');
  });

  it('gives up after bounded 5xx retries and abandons', async () => {
    const instanceId = nextInstance();
    nock(API).post('/orgs/acme/actions/runners/generate-jitconfig').times(4).reply(500, { message: 'boom' });
    const { handler, lifecycle, github } = setup(instanceId, { sleeps: [] });
    expect((await handler(launchEvent(instanceId))).outcome).toBe('abandoned');
    expect(github.requestCount).toBe(4);
    expect(lifecycle.states[instanceId]).toBe('Terminating');
  });

  it('removes the fresh registration at GitHub when the config cannot be stored, then abandons', async () => {
    const instanceId = nextInstance();
    nock(API)
      .post('/orgs/acme/actions/runners/generate-jitconfig').reply(201, { runner: { id: 504 }, encoded_jit_config: 'z'.repeat(9000) })
      .delete('/orgs/acme/actions/runners/504').reply(204);
    const { handler, lifecycle, logs } = setup(instanceId);
    expect((await handler(launchEvent(instanceId))).outcome).toBe('abandoned');
    expect(lifecycle.states[instanceId]).toBe('Terminating');
    expect(await readParameter(instanceId)).toBeUndefined();
    expect(logs.lines.join('\n')).not.toContain('z'.repeat(100));
  });

  it('replaces a leftover parameter from an earlier attempt', async () => {
    const instanceId = nextInstance();
    await createSsmRunnerConfigStore({ ssm, prefix: PREFIX }).put(instanceId, 'arn:aws:ec2:eu-west-1:123456789012:instance/' + instanceId, 'OLD');
    nock(API).post('/orgs/acme/actions/runners/generate-jitconfig').reply(201, { runner: { id: 505 }, encoded_jit_config: CONFIG });
    const { handler } = setup(instanceId);
    expect((await handler(launchEvent(instanceId))).outcome).toBe('continued');
    expect((await readParameter(instanceId))?.Value).toBe(CONFIG);
  });

  it('does nothing for a redelivered event of an instance that already left Pending:Wait', async () => {
    const instanceId = nextInstance();
    const { handler, lifecycle, github } = setup(instanceId, { state: 'InService' });
    expect(await handler(launchEvent(instanceId))).toEqual({ outcome: 'already_handled', instanceId });
    expect(github.requestCount).toBe(0);
    expect(lifecycle.completions).toEqual([]);
  });

  it('ignores launches of other groups and malformed events, counting the latter', async () => {
    const instanceId = nextInstance();
    const { handler, lifecycle, github, metrics } = setup(instanceId);
    expect((await handler(launchEvent(instanceId, { group: 'someone-else' }))).outcome).toBe('ignored');
    expect((await handler({ 'detail-type': 'EC2 Instance-launch Lifecycle Action', detail: {} })).outcome).toBe('ignored');
    expect(github.requestCount).toBe(0);
    expect(lifecycle.states[instanceId]).toBe('Pending:Wait');
    expect(metrics.counts).toEqual({ 'JitConfigFailed|Reason=bad_event': 1 });
  });

  it('registers with RUNNER_LABELS, the Infrastructure export the webhook filters on, as GitHub compares them (lower case)', async () => {
    const config = loadJitConfigConfig({
      AUTO_SCALING_GROUP_NAME: GROUP,
      GITHUB_SCOPE: 'org:acme',
      GITHUB_CREDENTIALS_PARAMETER: '/runner-autoscaler/github-credentials',
      RUNNER_CONFIG_PREFIX: '/runner-autoscaler/runners',
      RUNNER_LABELS: 'Self-Hosted, linux,X64,linux',
    });
    expect(config.RUNNER_LABELS).toEqual(['self-hosted', 'linux', 'x64']);

    const instanceId = nextInstance();
    let body: { labels?: string[] } | undefined;
    nock(API)
      .post('/orgs/acme/actions/runners/generate-jitconfig', (b) => ((body = b), true))
      .reply(201, { runner: { id: 506 }, encoded_jit_config: CONFIG });
    const { handler } = setup(instanceId, { labels: async () => config.RUNNER_LABELS });
    expect((await handler(launchEvent(instanceId))).outcome).toBe('continued');
    expect(body?.labels).toEqual(['self-hosted', 'linux', 'x64']);
  });
});
