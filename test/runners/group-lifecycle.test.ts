import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { MAX_RESPONSE_BYTES, type CustomResourceResponse } from '../../Runners/src/cfn-response';
import { deleteIntent, planRound } from '../../Runners/src/group-lifecycle';
import { createGroupLifecycleHandler, RESPONSE_MARGIN_MS } from '../../Runners/src/group-lifecycle-handler';
import { FakeAutoScalingGroup } from './group-lifecycle-fake';

/**
 * The lifecycle custom resource (issue 13, defects 3 and 8) against a fake
 * group that models scale-in protection and CloudFormation's "set to 0 and
 * wait" (test/runners/group-lifecycle-fake.ts), answering a local HTTP server
 * that stands in for the presigned S3 ResponseURL.
 */
const GROUP = 'runner-autoscaler-runners';
const STACK_ID = 'arn:aws:cloudformation:eu-west-1:123456789012:stack/runner-autoscaler-runners/0a1b2c3d-0000-4000-8000-000000000000';

interface Received {
  headers: IncomingHttpHeaders;
  url: string;
  body: CustomResourceResponse;
}

let server: Server;
let responseUrl: string;
let received: Received[];
/** HTTP statuses the server answers with before it accepts (to test the PUT's retries). */
let refusals: number[];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const refusal = refusals.shift();
      if (refusal) return void res.writeHead(refusal).end();
      received.push({ headers: req.headers, url: req.url ?? '', body: JSON.parse(body) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cfn-response?X-Amz-Signature=abc`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  received = [];
  refusals = [];
});

function request(type: 'Create' | 'Update' | 'Delete', extra: Record<string, unknown> = {}, properties: Record<string, unknown> = {}) {
  return {
    RequestType: type,
    RequestId: `req-${type}`,
    ResponseURL: responseUrl,
    ResourceType: 'Custom::RunnerGroupLifecycle',
    LogicalResourceId: 'RunnerGroupLifecycle',
    StackId: STACK_ID,
    ResourceProperties: { ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:x', AutoScalingGroupName: GROUP, ...properties },
    ...extra,
  };
}

/** A virtual clock: sleeping advances it, so deadlines are tested without waiting. */
function setup(group: FakeAutoScalingGroup | undefined, stackStatus: string | (() => Promise<string | undefined>) = 'DELETE_IN_PROGRESS') {
  let clock = 1_000_000;
  const logs: Array<[string, string, unknown]> = [];
  const log = (level: string) => (message: string, ...extra: unknown[]) => logs.push([level, message, extra[0]]);
  const gone = new FakeAutoScalingGroup(GROUP, []);
  gone.exists = false;
  const handler = createGroupLifecycleHandler({
    group: (name, launchHookName) => {
      expect(name).toBe(GROUP);
      // As the adapter: without the hook's name there is no launch to abandon.
      if (group) group.abandonLaunch = launchHookName ? FakeAutoScalingGroup.prototype.abandonLaunch.bind(group) : async () => undefined;
      return group ?? gone;
    },
    stacks: { status: typeof stackStatus === 'string' ? async () => stackStatus : stackStatus },
    logger: { info: log('info'), warn: log('warn'), error: log('error') },
    now: () => clock,
    sleep: async (ms) => void (clock += ms),
  });
  const context = (remainingMs: number) => {
    const start = clock;
    return { getRemainingTimeInMillis: () => remainingMs - (clock - start) };
  };
  return { handler, logs, context, elapsed: () => clock - 1_000_000 };
}

describe('group lifecycle decisions', () => {
  it('empties the group only when the stack is being deleted or a failed creation rolls back', () => {
    expect(deleteIntent('DELETE_IN_PROGRESS')).toBe('empty-group');
    expect(deleteIntent('ROLLBACK_IN_PROGRESS')).toBe('empty-group');
    for (const status of ['UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_ROLLBACK_IN_PROGRESS', 'UPDATE_IN_PROGRESS', undefined]) {
      expect(deleteIntent(status)).toBe('leave-group');
    }
  });

  it('closes first, unprotects and terminates what is in service, waits for protected launches, and is done when only leaving or unprotected launching instances are left', () => {
    const group = { name: GROUP, min: 1, max: 10, desired: 3, newInstancesProtectedFromScaleIn: true, suspendedProcesses: [] };
    const instances = [
      { instanceId: 'i-1', lifecycleState: 'InService', protectedFromScaleIn: true },
      { instanceId: 'i-2', lifecycleState: 'Pending:Wait', protectedFromScaleIn: true },
      { instanceId: 'i-3', lifecycleState: 'Terminating:Wait', protectedFromScaleIn: true },
    ];
    expect(planRound({ ...group, instances })).toEqual({ close: true, removeProtection: ['i-1'], terminate: ['i-1'], abandonLaunch: ['i-2'], waitFor: ['i-2'], done: false });
    const closed = { ...group, min: 0, max: 0, desired: 0, newInstancesProtectedFromScaleIn: false };
    expect(planRound({ ...closed, instances: [instances[1], instances[2]] })).toMatchObject({ waitFor: ['i-2'], done: false });
    expect(planRound({ ...closed, instances: [{ ...instances[1], protectedFromScaleIn: false }, instances[2]] }).done).toBe(true);
  });
});

describe('the custom resource protocol', () => {
  it('Create suspends AZRebalance and answers SUCCESS with a physical id that Update keeps; the PUT has an empty Content-Type', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService']);
    const { handler } = setup(group);
    await handler(request('Create'));
    expect(group.suspended).toEqual(new Set(['AZRebalance']));
    expect(received).toHaveLength(1);
    const [created] = received;
    expect(created.url).toBe('/cfn-response?X-Amz-Signature=abc');
    expect(created.headers['content-type']).toBe('');
    expect(created.body).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: `lifecycle:${GROUP}`,
      StackId: STACK_ID,
      RequestId: 'req-Create',
      LogicalResourceId: 'RunnerGroupLifecycle',
      Data: { SuspendedProcesses: 'AZRebalance' },
    });

    group.suspended.clear(); // someone resumed it by hand: an Update suspends it again
    await handler(request('Update', { PhysicalResourceId: created.body.PhysicalResourceId, OldResourceProperties: { AutoScalingGroupName: GROUP } }));
    expect(received[1].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: created.body.PhysicalResourceId, RequestId: 'req-Update' });
    expect(group.suspended.has('AZRebalance')).toBe(true);
    expect(group.instances.map((i) => i.lifecycleState)).toEqual(['InService']); // Create and Update never touch instances
  });

  it('Create answers FAILED with a reason, and still a physical id, when the group does not exist or the properties are wrong', async () => {
    await setup(undefined).handler(request('Create'));
    expect(received[0].body).toMatchObject({ Status: 'FAILED', PhysicalResourceId: `lifecycle:${GROUP}`, Reason: `Auto Scaling group ${GROUP} does not exist` });
    await setup(undefined).handler(request('Create', { ResourceProperties: { ServiceToken: 'x' } }));
    expect(received[1].body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('AutoScalingGroupName') });
    // The rollback's Delete for that failed Create has nothing to undo.
    await setup(undefined).handler(request('Delete', { PhysicalResourceId: received[1].body.PhysicalResourceId, ResourceProperties: { ServiceToken: 'x' } }));
    expect(received[2].body.Status).toBe('SUCCESS');
  });

  it('retries throttling on Create and answers SUCCESS; a refused PUT is sent again', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService']);
    const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $fault: 'client' });
    group.failNext('suspendProcesses', throttled(), throttled());
    refusals = [503];
    await setup(group).handler(request('Create'));
    expect(group.calls.filter((c) => c === 'suspendProcesses')).toHaveLength(3);
    expect(received.map((r) => r.body.Status)).toEqual(['SUCCESS']);
  });

  it('answers FAILED, not never, when an AWS call keeps failing', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService']);
    group.failNext('suspendProcesses', Object.assign(new Error('not authorized to perform: autoscaling:SuspendProcesses'), { name: 'AccessDenied', $fault: 'client' }));
    await setup(group).handler(request('Create'));
    expect(received[0].body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('AccessDenied') });

    const { handler } = setup(group, async () => {
      throw Object.assign(new Error('boom'), { name: 'InternalFailure', $fault: 'server' });
    });
    await handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }));
    expect(received[1].body).toMatchObject({ Status: 'FAILED', Reason: 'InternalFailure: boom' });
    expect(group.instances).toHaveLength(1); // not knowing why the resource goes, it does not terminate anything
  });

  it('keeps the response within 4096 bytes', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService']);
    group.failNext('suspendProcesses', Object.assign(new Error('x'.repeat(10_000)), { name: 'ValidationError', $fault: 'client' }));
    await setup(group).handler(request('Create'));
    expect(Buffer.byteLength(JSON.stringify(received[0].body))).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(received[0].body.Status).toBe('FAILED');
  });
});

describe('Delete (defect 3: a stack deletion hung on protected instances)', () => {
  it('without it, CloudFormation\'s deletion of a group of protected, idle runners never finishes (the defect, in the model)', () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService', 'InService', 'Pending:Wait']);
    expect(group.cloudFormationDelete()).toBe('hangs');
    expect(group.instances).toHaveLength(3);
  });

  it('on a stack deletion, removes protection and terminates every instance, after which CloudFormation\'s deletion finishes', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService', 'InService', 'Standby', 'Pending:Wait', 'Terminating:Wait']);
    const { handler, context, elapsed } = setup(group, 'DELETE_IN_PROGRESS');
    const response = await handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }), context(600_000));
    expect(response).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `lifecycle:${GROUP}` });
    expect(received[0].body.Status).toBe('SUCCESS');
    expect(group).toMatchObject({ min: 0, max: 0, desired: 0, newInstancesProtectedFromScaleIn: false });
    expect(group.instances.filter((i) => i.protectedFromScaleIn && !i.lifecycleState.startsWith('Terminating'))).toEqual([]);
    expect(group.cloudFormationDelete()).toBe('deleted');
    expect(elapsed()).toBeLessThan(600_000 - RESPONSE_MARGIN_MS);
  });

  it('abandons launches still held by the launch hook instead of waiting out its heartbeat', async () => {
    const held = () => {
      const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService', 'Pending:Wait']);
      group.instances[1].pendingRounds = 10_000; // a heartbeat of up to 7200 s
      return group;
    };
    const group = held();
    const abandoning = setup(group);
    await abandoning.handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }, { LaunchHookName: 'runner-launch' }), abandoning.context(600_000));
    expect(received[0].body.Status).toBe('SUCCESS');
    expect(group.calls).toContain('abandonLaunch');
    expect(group.cloudFormationDelete()).toBe('deleted');

    // Without the hook's name it can only wait, and says so before its time is up.
    const waiting = held();
    const { handler, context } = setup(waiting);
    await handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }), context(120_000));
    expect(received[1].body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('1 instance(s) of runner-autoscaler-runners are still protected from scale-in or still launching (i-00000000000000001)') });
  });

  it('does the same when a failed stack creation rolls back', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['Pending:Wait']);
    await setup(group, 'ROLLBACK_IN_PROGRESS').handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }), undefined);
    expect(received[0].body.Status).toBe('SUCCESS');
    expect(group.cloudFormationDelete()).toBe('deleted');
  });

  it('is idempotent: a second Delete (Lambda retried the invocation) succeeds, and so does one for a group that is already gone', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService', 'InService']);
    const { handler } = setup(group);
    await handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }));
    await handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }));
    expect(received.map((r) => r.body.Status)).toEqual(['SUCCESS', 'SUCCESS']);
    await setup(undefined).handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }));
    expect(received[2].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: `lifecycle:${GROUP}` });
  });

  it('rides out AWS faults between rounds', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService', 'InService']);
    const fault = () => Object.assign(new Error('We currently do not have sufficient capacity'), { name: 'ResourceContention', $fault: 'server' });
    group.failNext('removeProtection', fault(), fault());
    group.failNext('terminate', fault());
    await setup(group).handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }));
    expect(received[0].body.Status).toBe('SUCCESS');
    expect(group.cloudFormationDelete()).toBe('deleted');
  });

  it('answers FAILED, naming the instances, before the Lambda times out when protection cannot be removed', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService', 'InService']);
    const denied = () => Object.assign(new Error('not authorized'), { name: 'AccessDenied', $fault: 'client' });
    group.failNext('removeProtection', ...Array.from({ length: 100 }, denied));
    group.failNext('terminate', ...Array.from({ length: 100 }, denied));
    const { handler, context, elapsed } = setup(group);
    await handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }), context(120_000));
    expect(received[0].body).toMatchObject({ Status: 'FAILED', Reason: expect.stringMatching(/2 instance\(s\) .* still protected .*i-00000000000000000, i-00000000000000001.*AccessDenied/) });
    expect(elapsed()).toBeLessThanOrEqual(120_000 - RESPONSE_MARGIN_MS);
  });

  it('answers FAILED, not SUCCESS, when the group cannot even be described', async () => {
    const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService']);
    group.failNext('describe', ...Array.from({ length: 100 }, () => Object.assign(new Error('not authorized'), { name: 'AccessDenied', $fault: 'client' })));
    const { handler, context } = setup(group);
    await handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }), context(120_000));
    expect(received[0].body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining(`could not describe the Auto Scaling group ${GROUP}; last error: AccessDenied`) });
  });

  it('leaves a live group alone when only the resource goes (an update\'s cleanup, or the rollback of the update that added it)', async () => {
    for (const status of ['UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS']) {
      const group = FakeAutoScalingGroup.protectedFleet(GROUP, ['InService', 'InService']);
      const { handler } = setup(group, status);
      await handler(request('Delete', { PhysicalResourceId: `lifecycle:${GROUP}` }));
      expect(group.calls).toEqual([]); // no busy runner is touched
      expect(group.instances.every((i) => i.protectedFromScaleIn && i.lifecycleState === 'InService')).toBe(true);
    }
    expect(received.map((r) => r.body.Status)).toEqual(['SUCCESS', 'SUCCESS']);
  });
});

describe('AZRebalance (defect 8)', () => {
  it('active, a zone imbalance leaves an extra runner it cannot terminate; suspended by Create, nothing is launched', async () => {
    const zones = ['eu-west-1a', 'eu-west-1b'];
    // Runners in 1b left with decrement: 3 in 1a, 0 in 1b.
    const unbalanced = () => FakeAutoScalingGroup.protectedFleet(GROUP, ['InService', 'InService', 'InService'], ['eu-west-1a']);
    const active = unbalanced();
    active.rebalance(zones);
    expect(active.instances).toHaveLength(4); // launched in 1b, and the protected one in 1a stays
    expect(active.instances.filter((i) => i.lifecycleState === 'Terminating')).toEqual([]);

    const suspended = unbalanced();
    await setup(suspended).handler(request('Create'));
    suspended.rebalance(zones);
    expect(suspended.instances).toHaveLength(3);
  });
});
