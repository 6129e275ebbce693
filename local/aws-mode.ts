import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
  UpdateAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { type _InstanceType, CreateLaunchTemplateCommand, DescribeImagesCommand, DescribeLaunchTemplatesCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateEventBusCommand, DescribeEventBusCommand, EventBridgeClient, PutRuleCommand } from '@aws-sdk/client-eventbridge';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { existsSync } from 'node:fs';
import { loadTemplate, parameterDefaults, resolveIntrinsics, resourcesOfType } from '../lib/cfn-template';
import { AutoScalingGroupAdapter } from '../lib/adapters/auto-scaling';
import type { GitHubPort } from '../lib/ports';
import type { BusRule } from './bus';
import type { SimGitHub } from './sim-github';

/**
 * Real AWS mode: the AWS SDK adapters against an endpoint such as moto_server
 * or LocalStack. What the stacks would have created is created here when
 * missing (event bus and rules, SSM parameters, launch template, the Auto
 * Scaling Group with the Runners template's MixedInstancesPolicy), and every
 * instance the endpoint reports gets a simulated runner, so jobs run and the
 * group scales with nothing but the emulator.
 */
export const AWS_MODE_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };
export const AWS_MODE_REGION = 'us-east-1';

export interface AwsClients {
  autoScaling: AutoScalingClient;
  ec2: EC2Client;
  eventBridge: EventBridgeClient;
  ssm: SSMClient;
}

export function createAwsClients(endpoint: string): AwsClients {
  const config = { endpoint, region: AWS_MODE_REGION, credentials: AWS_MODE_CREDENTIALS, maxAttempts: 3 };
  return {
    autoScaling: new AutoScalingClient(config),
    ec2: new EC2Client(config),
    eventBridge: new EventBridgeClient(config),
    ssm: new SSMClient(config),
  };
}

export function destroyAwsClients(clients: AwsClients): void {
  for (const client of Object.values(clients)) client.destroy();
}

export interface GroupSpec {
  name: string;
  launchTemplateName: string;
  floor: number;
  max: number;
  instanceTypes: string[];
  spotAllocationStrategy: string;
}

/** Instance types and spot strategy from Runners/template.yaml's MixedInstancesPolicy, when that template exists. */
export function groupSpecFromRunnersTemplate(path: string | undefined, base: Omit<GroupSpec, 'instanceTypes' | 'spotAllocationStrategy'>): GroupSpec {
  const fallback: GroupSpec = { ...base, instanceTypes: ['m7g.large', 'm6g.large', 'c7g.large'], spotAllocationStrategy: 'price-capacity-optimized' };
  if (!path || !existsSync(path)) return fallback;
  const template = loadTemplate(path);
  const groups = resourcesOfType(template, 'AWS::AutoScaling::AutoScalingGroup');
  if (groups.length === 0) return fallback;
  const properties = resolveIntrinsics(groups[0][1].Properties ?? {}, parameterDefaults(template)) as Record<string, any>;
  const policy = properties.MixedInstancesPolicy ?? {};
  const overrides = (policy.LaunchTemplate?.Overrides ?? []) as Array<{ InstanceType?: unknown; InstanceRequirements?: { AllowedInstanceTypes?: unknown } }>;
  // Plain InstanceType overrides, or the allowed types of InstanceRequirements (a list, or the comma-separated parameter).
  const types = overrides.flatMap((o) => {
    if (typeof o.InstanceType === 'string') return [o.InstanceType];
    const allowed = o.InstanceRequirements?.AllowedInstanceTypes;
    if (Array.isArray(allowed)) return allowed.filter((t): t is string => typeof t === 'string');
    return typeof allowed === 'string' ? allowed.split(',').map((t) => t.trim()).filter(Boolean) : [];
  });
  const typesFromList: string[] = [];
  const strategy = policy.InstancesDistribution?.SpotAllocationStrategy;
  return {
    ...base,
    instanceTypes: types.length ? types : typesFromList.length ? typesFromList : fallback.instanceTypes,
    spotAllocationStrategy: typeof strategy === 'string' ? strategy : fallback.spotAllocationStrategy,
  };
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string }).name ?? '';
  return /NotFound|ResourceNotFoundException|InvalidLaunchTemplateName/.test(name);
}

/** Creates what the three stacks would have created, when missing. Returns what it created, for the banner. */
export async function provisionAwsResources(
  clients: AwsClients,
  spec: GroupSpec,
  bus: { name: string; rules: BusRule[] },
  ssmParameters: Record<string, string>,
): Promise<string[]> {
  const created: string[] = [];

  try {
    await clients.eventBridge.send(new DescribeEventBusCommand({ Name: bus.name }));
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await clients.eventBridge.send(new CreateEventBusCommand({ Name: bus.name }));
    created.push(`event bus ${bus.name}`);
  }
  for (const rule of bus.rules) {
    // Rules are recorded at the endpoint for inspection; matching and targets run locally (emulators do not start local handlers).
    await clients.eventBridge.send(
      new PutRuleCommand(
        rule.pattern
          ? { Name: rule.name, EventBusName: bus.name, EventPattern: JSON.stringify(rule.pattern) }
          : { Name: rule.name, ScheduleExpression: rule.schedule?.expression },
      ),
    );
  }

  for (const [name, value] of Object.entries(ssmParameters)) {
    await clients.ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'SecureString', Overwrite: true }));
  }
  created.push(`${Object.keys(ssmParameters).length} SSM SecureString parameters`);

  let templateExists = false;
  try {
    const found = await clients.ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [spec.launchTemplateName] }));
    templateExists = (found.LaunchTemplates ?? []).length > 0;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (!templateExists) {
    // Graviton types (m7g, c7g, ...) need an arm64 image, the others x86_64.
    const architecture = /^[a-z]+\d+g[a-z]*\./.test(spec.instanceTypes[0]) ? 'arm64' : 'x86_64';
    const images = await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'], Filters: [{ Name: 'architecture', Values: [architecture] }] }));
    const imageId = images.Images?.[0]?.ImageId ?? 'ami-12c6146b';
    await clients.ec2.send(
      new CreateLaunchTemplateCommand({
        LaunchTemplateName: spec.launchTemplateName,
        LaunchTemplateData: {
          ImageId: imageId,
          InstanceType: spec.instanceTypes[0] as _InstanceType,
          MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
          BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeSize: 30, VolumeType: 'gp3' } }],
        },
      }),
    );
    created.push(`launch template ${spec.launchTemplateName}`);
  }

  const groups = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [spec.name] }));
  if ((groups.AutoScalingGroups ?? []).length === 0) {
    const subnets = await clients.ec2.send(new DescribeSubnetsCommand({}));
    await clients.autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: spec.name,
        MinSize: spec.floor,
        MaxSize: spec.max,
        DesiredCapacity: spec.floor,
        NewInstancesProtectedFromScaleIn: true,
        CapacityRebalance: true,
        VPCZoneIdentifier: (subnets.Subnets ?? []).map((s) => s.SubnetId).filter(Boolean).join(','),
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateName: spec.launchTemplateName, Version: '$Latest' },
            Overrides: spec.instanceTypes.map((InstanceType) => ({ InstanceType })),
          },
          InstancesDistribution: {
            OnDemandBaseCapacity: spec.floor,
            OnDemandPercentageAboveBaseCapacity: 0,
            SpotAllocationStrategy: spec.spotAllocationStrategy,
          },
        },
      }),
    );
    created.push(`Auto Scaling Group ${spec.name} (min ${spec.floor}, max ${spec.max})`);
  }
  return created;
}

/**
 * The real Auto Scaling adapter (lib/adapters/auto-scaling.ts), plus the
 * MinSize/MaxSize update local mode makes when the floor/max settings change.
 * Emulators that do not model spot report every instance on-demand.
 */
export class AwsScalingGroup extends AutoScalingGroupAdapter {
  constructor(
    private readonly awsClients: AwsClients,
    readonly name: string,
  ) {
    super(name, { autoScaling: awsClients.autoScaling, ec2: awsClients.ec2 });
  }

  async updateLimits(min: number, max: number): Promise<void> {
    await this.awsClients.autoScaling.send(new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: this.name, MinSize: min, MaxSize: max }));
  }
}

/**
 * Gives every instance the endpoint reports a simulated runner after the boot
 * delay (JIT config through the real GitHub adapter), and plays the runner's
 * part afterwards: when its one job is done the instance terminates itself
 * with decrement (without it at the floor), and an instance that disappeared
 * takes its runner with it.
 */
export class RunnerAttacher {
  private readonly firstSeen = new Map<string, number>();
  private readonly attached = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  readonly selfTerminations: Array<{ instanceId: string; decrement: boolean }> = [];

  constructor(
    private readonly group: AwsScalingGroup,
    private readonly sim: SimGitHub,
    private readonly github: GitHubPort,
    private readonly labels: () => string[],
    private readonly bootMs: number,
    private readonly now: () => number,
    private readonly onError: (message: string, error: unknown) => void,
  ) {}

  start(intervalMs = 250): void {
    this.timer = setInterval(() => void this.tick(), intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private exits: Promise<void> = Promise.resolve();

  /** Serialised: two runners finishing together must not both decrement on the same view of the group. */
  runnerExited(instanceId: string): Promise<void> {
    this.exits = this.exits.then(() => this.leave(instanceId));
    return this.exits;
  }

  private async leave(instanceId: string): Promise<void> {
    try {
      // AWS refuses a decrement below MinSize; some emulators do not, so ask first, and still fall back on a refusal.
      const group = await this.group.describe();
      const decrement = group.desired > group.min;
      try {
        await this.group.terminateInstance(instanceId, decrement);
        this.selfTerminations.push({ instanceId, decrement });
      } catch (error) {
        if (!decrement || (error as { name?: string }).name !== 'ValidationError') throw error;
        await this.group.terminateInstance(instanceId, false);
        this.selfTerminations.push({ instanceId, decrement: false });
      }
    } catch (error) {
      this.onError('self-termination failed', error);
    }
  }

  async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const state = await this.group.describe();
      const present = new Set(state.instances.filter((i) => !/^Terminat/.test(i.lifecycleState)).map((i) => i.instanceId));
      for (const id of [...this.firstSeen.keys()]) {
        if (present.has(id)) continue;
        this.firstSeen.delete(id);
        this.attached.delete(id);
        this.sim.machineGone(id);
      }
      for (const instance of state.instances) {
        if (!present.has(instance.instanceId) || this.attached.has(instance.instanceId)) continue;
        if (!this.firstSeen.has(instance.instanceId)) this.firstSeen.set(instance.instanceId, this.now());
        if (instance.lifecycleState !== 'InService' || this.now() - this.firstSeen.get(instance.instanceId)! < this.bootMs) continue;
        this.attached.add(instance.instanceId);
        const { encodedJitConfig } = await this.github.generateJitConfig({ name: instance.instanceId, labels: this.labels(), runnerGroupId: 1 });
        this.sim.connectRunner(encodedJitConfig);
      }
    } catch (error) {
      this.onError('attaching runners failed', error);
    } finally {
      this.busy = false;
    }
  }

  /** Instance ids first seen but not yet given a runner (booting). */
  isBooting(instanceId: string): boolean {
    return !this.attached.has(instanceId);
  }
}
