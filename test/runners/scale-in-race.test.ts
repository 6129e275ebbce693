import nock from 'nock';
import { CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { join } from 'node:path';
import { observe } from '../../AutoScaler/src/observe';
import { scaleIn } from '../../AutoScaler/src/scale-in';
import type { AutoScalerDeps } from '../../AutoScaler/src/deps';
import { AutoScalingGroupAdapter, createAutoScalingClients } from '../../lib/adapters/auto-scaling';
import { createGitHubPort } from '../../lib/adapters/github';
import { loadTemplate, parameterDefaults, resolveIntrinsics } from '../../lib/cfn-template';
import { decide } from '../../lib/policy';
import { systemClock } from '../../lib/ports';
import { DEFAULT_SETTINGS, type Settings } from '../../lib/settings';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { describeWithTool, FAKE_AWS, startMoto, type MotoServer } from '../support/tools';

/**
 * The AutoScaler's scale-in path against the group exactly as the Runners
 * template defines it (name, floor, protection, tags; moto as Auto Scaling)
 * and GitHub served by nock: a runner that GitHub reports idle at Observe but
 * that takes a job before ScaleIn must keep its instance.
 */
const API = 'https://api.github.com';
const STACK = 'runner-autoscaler-runners';
const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describeWithTool('moto_server', 'scale-in race on the Runners group (moto) with GitHub (nock)', (motoPath) => {
  let moto: MotoServer;
  let dynamo: LocalDynamo;

  beforeAll(async () => {
    [moto, dynamo] = await Promise.all([startMoto(motoPath), startDynalite()]);
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterAll(async () => {
    nock.cleanAll();
    nock.enableNetConnect();
    await Promise.all([moto?.stop(), dynamo?.stop()]);
  });

  async function createRunnerGroup(desired: number) {
    const clients = createAutoScalingClients({ ...FAKE_AWS, endpoint: moto.endpoint, maxAttempts: 1 });
    const template = loadTemplate(join(__dirname, '../../Runners/template.yaml'));
    const names = { ...parameterDefaults(template), 'AWS::StackName': STACK, 'AWS::Region': FAKE_AWS.region, 'AWS::AccountId': '123456789012', 'AWS::Partition': 'aws' };
    const group = resolveIntrinsics(template.Resources.RunnerGroup.Properties, names) as Record<string, any>;

    const subnets = await clients.ec2.send(new DescribeSubnetsCommand({}));
    const launchTemplate = await clients.ec2.send(
      new CreateLaunchTemplateCommand({ LaunchTemplateName: `${STACK}-runners`, LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 'm7i.large' } }),
    );
    const distribution = group.MixedInstancesPolicy.InstancesDistribution;
    await clients.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: group.AutoScalingGroupName,
        MinSize: Number(group.MinSize),
        MaxSize: Number(group.MaxSize),
        DesiredCapacity: desired,
        VPCZoneIdentifier: subnets.Subnets?.[0]?.SubnetId,
        NewInstancesProtectedFromScaleIn: group.NewInstancesProtectedFromScaleIn,
        CapacityRebalance: String(group.CapacityRebalance) === 'true',
        MixedInstancesPolicy: {
          InstancesDistribution: { ...distribution, OnDemandBaseCapacity: Number(distribution.OnDemandBaseCapacity) },
          // moto does not model attribute-based selection; two concrete types stand in for InstanceRequirements.
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateId: launchTemplate.LaunchTemplate?.LaunchTemplateId, Version: '$Latest' },
            Overrides: [{ InstanceType: 'm7i.large' }, { InstanceType: 'm6i.large' }],
          },
        },
        Tags: group.Tags,
      }),
    );
    return { name: group.AutoScalingGroupName as string, floor: Number(group.MinSize), clients };
  }

  it('terminates only the runner GitHub agreed to delete; the one that turned busy keeps its instance', async () => {
    const { name, floor, clients } = await createRunnerGroup(3);
    expect(name).toBe(STACK);
    const scalingGroup = new AutoScalingGroupAdapter(name, clients);
    const before = await scalingGroup.describe();
    expect(before.instances).toHaveLength(3);
    expect(before.instances.every((instance) => instance.protectedFromScaleIn)).toBe(true);

    const ids = before.instances.map((instance) => instance.instanceId);
    const runnerIdOf = new Map(ids.map((id, index) => [id, 100 + index]));
    // At Observe, every runner is online and idle.
    nock(API)
      .get('/orgs/acme/actions/runners')
      .query(true)
      .reply(200, {
        total_count: 3,
        runners: ids.map((id) => ({ id: runnerIdOf.get(id), name: id, os: 'linux', status: 'online', busy: false, labels: [{ name: 'self-hosted' }] })),
      });

    const tableName = await dynamo.createTable();
    const deps: AutoScalerDeps = {
      doc: dynamo.doc,
      tableName,
      pool: 'default',
      scalingGroup,
      github: createGitHubPort({ scope: { kind: 'org', org: 'acme' }, auth: { type: 'pat', token: 'ghp_x' }, retry: { sleep: async () => undefined } }),
      clock: systemClock,
      logger: silent,
    };
    const settings: Settings = { ...DEFAULT_SETTINGS, floor, scaleInCooldownSeconds: 0, headroom: 0 };
    const observation = await observe(deps, { executionId: 'exec-1', settings });
    const decision = decide(observation, settings);
    expect(decision.action).toBe('scale_in');
    expect(decision.victims).toHaveLength(2);

    // Between Observe and ScaleIn the first victim picks up a job: GitHub refuses its deletion.
    const [turnedBusy, stillIdle] = decision.victims;
    nock(API)
      .delete(`/orgs/acme/actions/runners/${turnedBusy.runnerId}`)
      .reply(422, { message: 'Bad request - Runner is still running a job' })
      .delete(`/orgs/acme/actions/runners/${stillIdle.runnerId}`)
      .reply(204);

    const result = await scaleIn(deps, { executionId: 'exec-1', observedVersion: observation.activity.version, decision });
    expect(nock.pendingMocks()).toEqual([]);
    expect(result).toMatchObject({ action: 'scale_in', terminated: [stillIdle.instanceId], skipped: [{ instanceId: turnedBusy.instanceId }] });

    const { AutoScalingGroups } = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }));
    const members = AutoScalingGroups?.[0]?.Instances ?? [];
    const stateOf = (id: string) => members.find((member) => member.InstanceId === id)?.LifecycleState;
    expect(stateOf(turnedBusy.instanceId)).toBe('InService');
    expect(stateOf(stillIdle.instanceId) ?? 'gone').not.toBe('InService');
    expect(AutoScalingGroups?.[0]?.DesiredCapacity).toBe(2);
  });
});
