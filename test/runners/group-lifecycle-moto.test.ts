import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  EnterStandbyCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateLaunchTemplateCommand, CreateSubnetCommand, CreateVpcCommand, EC2Client } from '@aws-sdk/client-ec2';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { emptyGroup } from '../../Runners/src/group-lifecycle';
import { createGroupLifecyclePort, createStackStatusPort } from '../../Runners/src/group-lifecycle-aws';
import { describeWithTool, FAKE_AWS, startMoto, type MotoServer } from '../support/tools';

/**
 * The lifecycle custom resource's AWS side against moto_server. moto models
 * what this needs of Auto Scaling: scale-in protection (a smaller desired
 * capacity removes only unprotected instances), SetInstanceProtection,
 * TerminateInstanceInAutoScalingGroup, SuspendProcesses and the group's
 * SuspendedProcesses. It does not model instance states between Pending and
 * gone, a stack in DELETE_IN_PROGRESS (its stack deletion is synchronous), or
 * the custom resource protocol: those are in group-lifecycle.test.ts.
 */
const root = join(__dirname, '..', '..');
const run = promisify(execFile);

describeWithTool('moto_server', 'group lifecycle against moto_server', (motoPath) => {
  let moto: MotoServer;
  let autoScaling: AutoScalingClient;
  let ec2: EC2Client;
  let cloudFormation: CloudFormationClient;
  let subnets: string;
  let stackId: string;

  const createGroup = async (name: string, desired: number) => {
    await autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: name,
        MinSize: 1,
        MaxSize: 10,
        DesiredCapacity: desired,
        VPCZoneIdentifier: subnets,
        NewInstancesProtectedFromScaleIn: true,
        LaunchTemplate: { LaunchTemplateName: 'runner', Version: '$Latest' },
      }),
    );
  };
  const groupOf = async (name: string) =>
    (await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }))).AutoScalingGroups?.[0];

  beforeAll(async () => {
    moto = await startMoto(motoPath);
    const config = { ...FAKE_AWS, endpoint: moto.endpoint, maxAttempts: 2 };
    autoScaling = new AutoScalingClient(config);
    ec2 = new EC2Client(config);
    cloudFormation = new CloudFormationClient(config);
    const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }));
    const ids: string[] = [];
    for (const [i, zone] of ['us-east-1a', 'us-east-1b'].entries()) {
      const subnet = await ec2.send(new CreateSubnetCommand({ VpcId: vpc.Vpc!.VpcId!, CidrBlock: `10.30.${i}.0/24`, AvailabilityZone: zone }));
      ids.push(subnet.Subnet!.SubnetId!);
    }
    subnets = ids.join(',');
    await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'runner', LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 'm7g.large' } }));
    const stack = await cloudFormation.send(
      new CreateStackCommand({ StackName: 'lifecycle-test', TemplateBody: JSON.stringify({ Resources: { Topic: { Type: 'AWS::SNS::Topic' } } }) }),
    );
    stackId = stack.StackId!;
  }, 60000);

  afterAll(async () => {
    for (const client of [autoScaling, ec2, cloudFormation]) client?.destroy();
    await moto?.stop();
  });

  it('setting the sizes to 0, as CloudFormation does, leaves protected instances running (why the deletion hung)', async () => {
    await createGroup('protected-only', 2);
    await autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'protected-only', MinSize: 0, MaxSize: 0, DesiredCapacity: 0 }));
    const group = await groupOf('protected-only');
    expect(group).toMatchObject({ DesiredCapacity: 0 });
    expect(group!.Instances).toHaveLength(2);
    expect(group!.Instances!.every((i) => i.ProtectedFromScaleIn)).toBe(true);
  });

  it('the adapter describes, suspends AZRebalance, and empties a group of protected instances', async () => {
    await createGroup('runners-a', 3);
    const port = createGroupLifecyclePort(autoScaling, 'runners-a');
    const before = await port.describe();
    expect(before).toMatchObject({ min: 1, max: 10, desired: 3, newInstancesProtectedFromScaleIn: true, suspendedProcesses: [] });
    expect(before!.instances).toHaveLength(3);
    expect(before!.instances.every((i) => i.protectedFromScaleIn && i.lifecycleState === 'InService')).toBe(true);

    await port.suspendProcesses(['AZRebalance']);
    await port.suspendProcesses(['AZRebalance']); // idempotent
    expect((await groupOf('runners-a'))!.SuspendedProcesses!.map((p) => p.ProcessName)).toEqual(['AZRebalance']);

    // An operator parked one in Standby: it is terminated too.
    await autoScaling.send(new EnterStandbyCommand({ AutoScalingGroupName: 'runners-a', InstanceIds: [before!.instances[0].instanceId], ShouldDecrementDesiredCapacity: false }));
    expect((await port.describe())!.instances.map((i) => i.lifecycleState).sort()).toEqual(['InService', 'InService', 'InService', 'Standby']);

    const result = await emptyGroup(port, { deadline: Date.now() + 20_000 });
    expect(result.outcome).toBe('emptied');
    const after = await groupOf('runners-a');
    expect(after).toMatchObject({ MinSize: 0, MaxSize: 0, DesiredCapacity: 0, NewInstancesProtectedFromScaleIn: false });
    expect(after!.Instances).toEqual([]);
    expect(await createGroupLifecyclePort(autoScaling, 'no-such-group').describe()).toBeUndefined();
  });

  it('removes protection in batches of at most 50', async () => {
    await createGroup('runners-big', 0);
    await autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: 'runners-big', MaxSize: 60, DesiredCapacity: 55 }));
    const port = createGroupLifecyclePort(autoScaling, 'runners-big');
    const ids = (await port.describe())!.instances.map((i) => i.instanceId);
    expect(ids).toHaveLength(55);
    const batches: number[] = [];
    const record = (next: any, context: any) => async (args: any) => {
      if (context.commandName === 'SetInstanceProtectionCommand') batches.push(args.input.InstanceIds.length);
      return next(args);
    };
    autoScaling.middlewareStack.add(record, { step: 'initialize', name: 'recordBatches' });
    try {
      await port.removeProtection(ids);
    } finally {
      autoScaling.middlewareStack.remove('recordBatches');
    }
    expect(batches).toEqual([50, 5]); // moto accepts more per call; AWS refuses above 50
    expect((await port.describe())!.instances.every((i) => !i.protectedFromScaleIn)).toBe(true);
  });

  it('reads the stack status by stack id, and undefined for a stack CloudFormation does not know', async () => {
    const stacks = createStackStatusPort(cloudFormation);
    expect(await stacks.status(stackId)).toBe('CREATE_COMPLETE');
    expect(await stacks.status(stackId.replace(/[0-9a-f]{8}-/, '00000000-'))).toBeUndefined();
  });

  describe('the bundled function (scripts/build.mjs options), invoked in its own Node process', () => {
    let outdir: string;
    let bundle: string;
    let server: Server;
    let responseUrl: string;
    const responses: Array<Record<string, unknown>> = [];

    beforeAll(async () => {
      outdir = mkdtempSync(join(tmpdir(), 'group-lifecycle-bundle-'));
      bundle = join(outdir, 'index.js');
      const script = `const { build } = await import('esbuild');
        const { lambdaBuildOptions } = await import(${JSON.stringify(join(root, 'scripts', 'build.mjs'))});
        await build({ ...lambdaBuildOptions(process.argv[1], process.argv[2]), metafile: false });`;
      await run(process.execPath, ['--input-type=module', '-e', script, join(root, 'Runners/functions/group-lifecycle/handler.ts'), bundle], { cwd: root });
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          responses.push(JSON.parse(body));
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      responseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
    }, 60000);

    afterAll(async () => {
      rmSync(outdir, { recursive: true, force: true });
      await new Promise<void>((resolve) => server?.close(() => resolve()));
    });

    const invoke = async (event: Record<string, unknown>) => {
      const driver = `const { handler } = require(${JSON.stringify(bundle)});
        handler(JSON.parse(process.argv[1]), { getRemainingTimeInMillis: () => 40000 }).then((r) => console.log('RESULT ' + JSON.stringify(r)));`;
      const { stdout } = await run(process.execPath, ['-e', driver, JSON.stringify(event)], {
        env: {
          PATH: process.env.PATH,
          AWS_ENDPOINT_URL: moto.endpoint,
          AWS_REGION: FAKE_AWS.region,
          AWS_ACCESS_KEY_ID: 'testing',
          AWS_SECRET_ACCESS_KEY: 'testing',
          POWERTOOLS_SERVICE_NAME: 'group-lifecycle',
        },
        timeout: 30000,
      });
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      return JSON.parse(line!.slice('RESULT '.length));
    };
    const event = (type: string, groupName: string, extra: Record<string, unknown> = {}) => ({
      RequestType: type,
      RequestId: `bundle-${type}-${groupName}`,
      ResponseURL: responseUrl,
      ResourceType: 'Custom::RunnerGroupLifecycle',
      LogicalResourceId: 'RunnerGroupLifecycle',
      StackId: stackId,
      ResourceProperties: { ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:group-lifecycle', AutoScalingGroupName: groupName },
      ...extra,
    });

    it('Create suspends AZRebalance on the group and PUTs SUCCESS', async () => {
      await createGroup('runners-bundle', 2);
      const result = await invoke(event('Create', 'runners-bundle'));
      expect(result).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'lifecycle:runners-bundle' });
      expect(responses.at(-1)).toMatchObject({ Status: 'SUCCESS', RequestId: 'bundle-Create-runners-bundle' });
      expect((await groupOf('runners-bundle'))!.SuspendedProcesses!.map((p) => p.ProcessName)).toEqual(['AZRebalance']);
    }, 40000);

    it('Create for a missing group PUTs FAILED with the reason', async () => {
      const result = await invoke(event('Create', 'no-such-group'));
      expect(result).toMatchObject({ Status: 'FAILED', Reason: 'Auto Scaling group no-such-group does not exist' });
    }, 40000);

    it('Delete of a stack that is not being deleted, and of one CloudFormation does not know (its ValidationError through the bundle), leaves the group alone', async () => {
      const id = { PhysicalResourceId: 'lifecycle:runners-bundle' };
      expect(await invoke(event('Delete', 'runners-bundle', id))).toMatchObject({ Status: 'SUCCESS' });
      const unknown = stackId.replace(/[0-9a-f]{8}-/, '00000000-');
      expect(await invoke(event('Delete', 'runners-bundle', { ...id, StackId: unknown }))).toMatchObject({ Status: 'SUCCESS' });
      expect((await groupOf('runners-bundle'))!.Instances!.filter((i) => i.ProtectedFromScaleIn)).toHaveLength(2);
    }, 60000);
  });
});
