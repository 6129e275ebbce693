import nock from 'nock';
import { mockClient } from 'aws-sdk-client-mock';
import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import { createGitHubPort } from '../../lib/adapters/github';
import { createLifecyclePort } from '../../Runners/src/aws';
import { createInterruptionHandler, REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION } from '../../Runners/src/interruption';
import { createMemoryCounter } from '../../Runners/src/metrics';
import { FAKE_AWS } from '../support/tools';
import { fakeLifecycle, GROUP } from './support';

const API = 'https://api.github.com';
const ID = 'i-0123456789abcdef0';

const spotWarning = (instanceId: string) => ({
  version: '0',
  'detail-type': SPOT_INTERRUPTION,
  source: 'aws.ec2',
  account: '123456789012',
  region: 'eu-west-1',
  detail: { 'instance-id': instanceId, 'instance-action': 'terminate' },
});
const rebalance = (instanceId: string) => ({ ...spotWarning(instanceId), 'detail-type': REBALANCE_RECOMMENDATION, detail: { 'instance-id': instanceId } });

const runner = (id: number, name: string, busy: boolean) => ({ id, name, os: 'linux', status: 'online', busy, labels: [{ name: 'self-hosted' }] });

beforeAll(() => nock.disableNetConnect());
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});
afterAll(() => nock.enableNetConnect());

function setup(states: Record<string, string> = { [ID]: 'InService' }, groupName = GROUP) {
  const metrics = createMemoryCounter();
  const lines: string[] = [];
  const log = (message: string, ...extra: Record<string, unknown>[]) => lines.push(JSON.stringify({ message, ...Object.assign({}, ...extra) }));
  const github = createGitHubPort({ scope: { kind: 'repo', owner: 'acme', repo: 'widgets' }, auth: { type: 'pat', token: 'ghp_x' }, retry: { sleep: async () => undefined } });
  const handler = createInterruptionHandler({
    groupName: GROUP,
    github: () => github,
    lifecycle: fakeLifecycle(states, groupName).port,
    metrics,
    logger: { info: log, warn: log, error: log },
  });
  return { handler, metrics, github, lines };
}

describe('spot interruption and rebalance handler', () => {
  it('deregisters an idle runner of an interrupted instance and counts the event', async () => {
    nock(API)
      .get('/repos/acme/widgets/actions/runners').query(true)
      .reply(200, { total_count: 2, runners: [runner(1, 'i-0ffffffffffffffff', false), runner(2, ID, false)] })
      .delete('/repos/acme/widgets/actions/runners/2').reply(204);
    const { handler, metrics, lines } = setup();
    expect(await handler(spotWarning(ID))).toEqual({ outcome: 'deregistered', instanceId: ID });
    expect(metrics.counts).toEqual({ 'SpotInterruption|Outcome=deregistered': 1 });
    expect(lines.join()).toContain('"kind":"SpotInterruption"');
  });

  it('leaves a busy runner alone (its job may still finish; the reconcile re-counts it otherwise)', async () => {
    nock(API).get('/repos/acme/widgets/actions/runners').query(true).reply(200, { total_count: 1, runners: [runner(2, ID, true)] });
    const { handler, metrics } = setup();
    expect((await handler(rebalance(ID))).outcome).toBe('busy');
    expect(metrics.counts).toEqual({ 'RebalanceRecommendation|Outcome=busy': 1 });
  });

  it('reports busy when the runner took a job between the listing and the deletion (GitHub answers 422)', async () => {
    nock(API)
      .get('/repos/acme/widgets/actions/runners').query(true).reply(200, { total_count: 1, runners: [runner(2, ID, false)] })
      .delete('/repos/acme/widgets/actions/runners/2').reply(422, { message: 'Bad request - Runner is still running a job' });
    const { handler } = setup();
    expect((await handler(spotWarning(ID))).outcome).toBe('busy');
  });

  it('reports a still-booting instance as not registered', async () => {
    nock(API).get('/repos/acme/widgets/actions/runners').query(true).reply(200, { total_count: 0, runners: [] });
    const { handler } = setup({ [ID]: 'Pending:Wait' });
    expect((await handler(spotWarning(ID))).outcome).toBe('not_registered');
  });

  it('ignores instances outside the group without calling GitHub', async () => {
    const { handler, github, metrics } = setup({}, GROUP);
    expect((await handler(spotWarning(ID))).outcome).toBe('not_ours');
    const other = setup({ [ID]: 'InService' }, 'another-group');
    expect((await other.handler(spotWarning(ID))).outcome).toBe('not_ours');
    expect(github.requestCount + other.github.requestCount).toBe(0);
    expect(metrics.counts).toEqual({});
  });

  it('throws (so Lambda retries) and counts an error when GitHub keeps failing', async () => {
    nock(API).get('/repos/acme/widgets/actions/runners').query(true).times(4).reply(500, { message: 'boom' });
    const { handler, metrics } = setup();
    await expect(handler(spotWarning(ID))).rejects.toThrow();
    expect(metrics.counts).toEqual({ 'SpotInterruption|Outcome=error': 1 });
  });

  it('ignores other events', async () => {
    const { handler } = setup();
    expect((await handler({ 'detail-type': 'EC2 Instance State-change Notification', detail: { 'instance-id': ID } })).outcome).toBe('ignored');
  });
});

describe('Auto Scaling lifecycle adapter', () => {
  // moto has no lifecycle actions, so the SDK client is mocked for these two calls only.
  const autoscaling = mockClient(AutoScalingClient);
  afterEach(() => autoscaling.reset());

  it('reads group and lifecycle state, and undefined for an unknown instance', async () => {
    autoscaling
      .on(DescribeAutoScalingInstancesCommand, { InstanceIds: [ID] })
      .resolves({ AutoScalingInstances: [{ InstanceId: ID, AutoScalingGroupName: GROUP, LifecycleState: 'Pending:Wait', AvailabilityZone: 'eu-west-1a', HealthStatus: 'HEALTHY', ProtectedFromScaleIn: true }] })
      .on(DescribeAutoScalingInstancesCommand, { InstanceIds: ['i-0000000000000000a'] })
      .resolves({ AutoScalingInstances: [] });
    const port = createLifecyclePort(new AutoScalingClient(FAKE_AWS));
    expect(await port.membership(ID)).toEqual({ groupName: GROUP, lifecycleState: 'Pending:Wait' });
    expect(await port.membership('i-0000000000000000a')).toBeUndefined();
  });

  it('surfaces a refused completion (expired token) instead of swallowing it', async () => {
    autoscaling.on(CompleteLifecycleActionCommand).rejects(Object.assign(new Error('No active Lifecycle Action found with token'), { name: 'ValidationError' }));
    const port = createLifecyclePort(new AutoScalingClient(FAKE_AWS));
    await expect(port.complete({ groupName: GROUP, hookName: 'runner-launch', token: 't', instanceId: ID }, 'CONTINUE')).rejects.toThrow('No active Lifecycle Action');
  });
});
