import { CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, CreateSubnetCommand, CreateVpcCommand, DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { AutoScalingGroupAdapter, createAutoScalingClients, ScalingGroupNotFoundError, type AutoScalingClients } from '../../lib/adapters/auto-scaling';
import { describeWithTool, FAKE_AWS, startMoto, type MotoServer } from '../support/tools';

/** The Auto Scaling adapter against moto_server: real SDK calls, real request/response shapes. */
describeWithTool('moto_server', 'Auto Scaling adapter against moto_server', (motoPath) => {
  let moto: MotoServer;
  let clients: AutoScalingClients;
  let adapter: AutoScalingGroupAdapter;
  const GROUP = 'runner-autoscaler-runners-test';

  beforeAll(async () => {
    moto = await startMoto(motoPath);
    clients = createAutoScalingClients({ ...FAKE_AWS, endpoint: moto.endpoint, maxAttempts: 2 });
    const vpc = await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }));
    const subnet = await clients.ec2.send(new CreateSubnetCommand({ VpcId: vpc.Vpc!.VpcId!, CidrBlock: '10.20.1.0/24', AvailabilityZone: 'us-east-1a' }));
    await clients.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: 'runner',
        LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 'm7g.large', MetadataOptions: { HttpTokens: 'required' } },
      }),
    );
    // The Runners stack's shape: floor 1 on-demand, spot above it, every instance protected from scale-in.
    await clients.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: GROUP,
        MinSize: 1,
        MaxSize: 10,
        DesiredCapacity: 1,
        VPCZoneIdentifier: subnet.Subnet!.SubnetId!,
        NewInstancesProtectedFromScaleIn: true,
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateName: 'runner', Version: '$Latest' },
            Overrides: [{ InstanceType: 'm7g.large' }, { InstanceType: 'm6g.large' }],
          },
          InstancesDistribution: { OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 0, SpotAllocationStrategy: 'price-capacity-optimized' },
        },
      }),
    );
    adapter = new AutoScalingGroupAdapter(GROUP, clients);
  }, 60000);

  afterAll(async () => {
    clients?.autoScaling.destroy();
    clients?.ec2.destroy();
    await moto?.stop();
  });

  it('describes the group with its instances, launch times and markets', async () => {
    const group = await adapter.describe();
    expect(group).toMatchObject({ name: GROUP, desired: 1, min: 1, max: 10 });
    expect(group.instances).toHaveLength(1);
    const [instance] = group.instances;
    expect(instance.instanceId).toMatch(/^i-[0-9a-f]+$/);
    expect(instance.lifecycleState).toBe('InService');
    expect(instance.protectedFromScaleIn).toBe(true);
    expect(Number.isNaN(Date.parse(instance.launchTime))).toBe(false);
    // Market comes from EC2's InstanceLifecycle: what EC2 reports is what the adapter says.
    const reservations = (await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.instanceId] }))).Reservations!;
    const lifecycle = reservations[0].Instances![0].InstanceLifecycle;
    expect(instance.market).toBe(lifecycle === 'spot' ? 'spot' : 'on-demand');
  });

  it('describes without EC2 when asked to, and fills in markets and launch times afterwards with EC2 alone', async () => {
    const calls: string[] = [];
    const count = (service: string) => (next: any, context: any) => async (args: any) => {
      calls.push(`${service}:${String(context.commandName).replace(/Command$/, '')}`);
      return next(args);
    };
    clients.autoScaling.middlewareStack.add(count('autoscaling'), { step: 'initialize', name: 'countCalls' });
    clients.ec2.middlewareStack.add(count('ec2'), { step: 'initialize', name: 'countCalls' });
    try {
      const bare = await adapter.describe({ instanceDetails: false });
      expect(calls).toEqual(['autoscaling:DescribeAutoScalingGroups']);
      expect(bare.instances.every((i) => i.market === 'on-demand')).toBe(true);
      calls.length = 0;
      const detailed = await adapter.withInstanceDetails(bare);
      expect(calls).toEqual(['ec2:DescribeInstances']);
      expect(detailed).toEqual(await adapter.describe());
    } finally {
      clients.autoScaling.middlewareStack.remove('countCalls');
      clients.ec2.middlewareStack.remove('countCalls');
    }
  });

  it('scales out with SetDesiredCapacity', async () => {
    await adapter.setDesiredCapacity(4);
    const group = await adapter.describe();
    expect(group.desired).toBe(4);
    expect(group.instances).toHaveLength(4);
  });

  it('terminates a chosen instance and decrements the desired capacity', async () => {
    const before = await adapter.describe();
    const victim = before.instances[2].instanceId;
    await adapter.terminateInstance(victim, true);
    const after = await adapter.describe();
    expect(after.desired).toBe(3);
    expect(after.instances.map((i) => i.instanceId)).not.toContain(victim);
    expect(after.instances.map((i) => i.instanceId).sort()).toEqual(before.instances.map((i) => i.instanceId).filter((id) => id !== victim).sort());
  });

  it('says clearly when the group does not exist', async () => {
    await expect(new AutoScalingGroupAdapter('no-such-group', clients).describe()).rejects.toBeInstanceOf(ScalingGroupNotFoundError);
  });
});
