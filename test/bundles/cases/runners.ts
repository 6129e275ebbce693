import { GetParameterCommand, ListTagsForResourceCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import type { BundleCases } from '../support/cases';
import { APP_PARAMETER, GROUP, RUNNER_CONFIG_PREFIX, type BundleWorld } from '../support/world';
import { registerRunner } from './autoscaler-fleet';

/**
 * The Runners stack's functions: the launch lifecycle hook (jit-config) with
 * GitHub App credentials, and the spot interruption handler.
 */
function launchEvent(instanceId: string, token: string, group = GROUP): Record<string, unknown> {
  return {
    version: '0',
    id: `launch-${instanceId}`,
    'detail-type': 'EC2 Instance-launch Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [
      `arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/${group}`,
    ],
    detail: {
      Origin: 'EC2',
      Destination: 'AutoScalingGroup',
      LifecycleActionToken: token,
      AutoScalingGroupName: group,
      LifecycleHookName: 'jit-config',
      EC2InstanceId: instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
    },
  };
}

async function runnerConfig(
  world: BundleWorld,
  instanceId: string,
): Promise<{ value?: string; tags: Record<string, string> } | undefined> {
  const Name = `${RUNNER_CONFIG_PREFIX}/${instanceId}`;
  try {
    const { Parameter } = await world.clients.ssm.send(
      new GetParameterCommand({ Name, WithDecryption: true }),
    );
    const { TagList = [] } = await world.clients.ssm.send(
      new ListTagsForResourceCommand({ ResourceType: 'Parameter', ResourceId: Name }),
    );
    return { value: Parameter?.Value, tags: Object.fromEntries(TagList.map((t) => [t.Key!, t.Value!])) };
  } catch (error) {
    if ((error as Error).name === 'ParameterNotFound') return undefined;
    throw error;
  }
}

export const cases: BundleCases = {
  // Its own test builds the bundle with the build's options and runs it against moto with a local ResponseURL.
  'Runners/group-lifecycle': { invokedBy: 'test/runners/group-lifecycle-moto.test.ts' },
  'Runners/jit-config': [
    {
      name: "a launch (GitHub App credentials): installation token minted, JIT runner registered with the pool's labels (the Infrastructure export), its config replaces a leftover in SSM, the launch continues",
      plugins: ['no-oauth-app', 'sdk-schema-shaking'],
      async run(world) {
        const instanceId = 'i-0a1b2c3d4e5f60001';
        world.aws.pendingLifecycleAction(instanceId, 'token-1');
        // A leftover from an earlier attempt: PutParameter answers ParameterAlreadyExists and the handler replaces it.
        await world.clients.ssm.send(
          new PutParameterCommand({
            Name: `${RUNNER_CONFIG_PREFIX}/${instanceId}`,
            Value: 'stale',
            Type: 'SecureString',
          }),
        );
        const before = world.github.requests.length;
        const run = await world.invoke('Runners/jit-config', launchEvent(instanceId, 'token-1'), {
          GITHUB_CREDENTIALS_PARAMETER: APP_PARAMETER,
        });
        expect(run.result).toEqual({ outcome: 'continued', instanceId });

        const github = world.github.requests.slice(before);
        expect(
          github.find((r) => r.path === `/app/installations/${world.sim.installationId}/access_tokens`),
        ).toMatchObject({ method: 'POST', status: 201 });
        expect(github.find((r) => r.path.endsWith('/generate-jitconfig'))).toMatchObject({
          method: 'POST',
          status: 201,
          authorization: `token ${world.github.installationToken}`,
        });
        const runner = world.sim.runnerByName(instanceId);
        expect(runner?.labels).toEqual(['self-hosted', 'linux', 'x64']);

        const stored = await runnerConfig(world, instanceId);
        expect(stored?.value).not.toBe('stale');
        expect(JSON.parse(Buffer.from(stored!.value!, 'base64').toString('utf8'))).toMatchObject({
          name: instanceId,
        });
        expect(stored?.tags).toEqual({
          RunnerInstanceArn: `arn:aws:ec2:us-east-1:123456789012:instance/${instanceId}`,
        });
        expect(
          world.aws.calls
            .filter((c) => c.service === 'ssm' && c.body.includes(instanceId))
            .map((c) => `${c.action} ${c.status}`),
        ).toEqual(['PutParameter 400', 'DeleteParameter 200', 'PutParameter 200']);
        expect(world.aws.completedLifecycleActions).toContainEqual({ instanceId, result: 'CONTINUE' });
        expect(run.stdout + run.stderr).not.toContain(stored!.value!);
      },
    },
    {
      name: "the launch action is no longer open (Auto Scaling's ValidationError, no modelled class): the config and the registration are removed again and the error reaches Lambda",
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const instanceId = 'i-0a1b2c3d4e5f60002';
        const run = await world.invoke('Runners/jit-config', launchEvent(instanceId, 'token-expired'));
        expect(run.error).toMatchObject({ name: 'ValidationError' });
        expect(run.error?.message).toContain('No active Lifecycle Action found');
        const lifecycle = world.aws.calls.filter(
          (c) => c.action === 'CompleteLifecycleAction' && c.body.includes(instanceId),
        );
        expect(
          lifecycle.map((c) => `${new URLSearchParams(c.body).get('LifecycleActionResult')} ${c.status}`),
        ).toEqual(['CONTINUE 400', 'ABANDON 400']);
        expect(await runnerConfig(world, instanceId)).toBeUndefined();
        expect(world.sim.runnerByName(instanceId)).toBeUndefined();
      },
    },
  ],

  'Runners/interruption': [
    {
      name: 'a spot interruption warning for an idle runner of the group: its GitHub registration is deleted; an instance of another group is not touched',
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const group = 'b-interruption';
        const [instanceId] = await world.createGroup(group, 1);
        await registerRunner(world, instanceId, true, ['self-hosted', 'linux', 'x64', 'interruption']);
        const warning = (id: string) => ({
          version: '0',
          id: `interruption-${id}`,
          'detail-type': 'EC2 Spot Instance Interruption Warning',
          source: 'aws.ec2',
          account: '123456789012',
          time: new Date().toISOString(),
          region: 'us-east-1',
          resources: [`arn:aws:ec2:us-east-1:123456789012:instance/${id}`],
          detail: { 'instance-id': id, 'instance-action': 'terminate' },
        });
        const run = await world.invoke('Runners/interruption', warning(instanceId), {
          AUTO_SCALING_GROUP_NAME: group,
        });
        expect(run.result).toEqual({ outcome: 'deregistered', instanceId });
        expect(world.sim.runnerByName(instanceId)).toBeUndefined();
        expect(
          world.github.requests.some(
            (r) => r.method === 'DELETE' && /\/actions\/runners\/\d+$/.test(r.path) && r.status === 204,
          ),
        ).toBe(true);

        const [other] = (await world.groupState()).instances;
        const deletes = world.github.requests.filter((r) => r.method === 'DELETE').length;
        const elsewhere = await world.invoke('Runners/interruption', warning(other), {
          AUTO_SCALING_GROUP_NAME: group,
        });
        expect(elsewhere.result).toEqual({ outcome: 'not_ours', instanceId: other });
        expect(world.github.requests.filter((r) => r.method === 'DELETE').length).toBe(deletes);
      },
    },
  ],
};
