import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingClientConfig,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import type { DescribeOptions, GroupInstance, GroupState, ScalingGroupPort } from '../ports';

/**
 * ScalingGroupPort over the Auto Scaling API. Group instances do not say
 * whether they run on spot, so their market and launch time come from EC2
 * DescribeInstances (InstanceLifecycle === 'spot'). Throttling and transient
 * faults are retried by the SDK (adaptive retry mode: backoff plus client-side
 * rate limiting); what is left after that reaches the caller.
 */
export class ScalingGroupNotFoundError extends Error {
  constructor(readonly groupName: string) {
    super(`Auto Scaling group "${groupName}" does not exist (check the Runners stack and the AutoScalingGroupName parameter)`);
    this.name = 'ScalingGroupNotFoundError';
  }
}

export interface AutoScalingClients {
  autoScaling: AutoScalingClient;
  ec2: EC2Client;
}

const CLIENT_DEFAULTS = { maxAttempts: 6, retryMode: 'adaptive' } as const;

export function createAutoScalingClient(config: AutoScalingClientConfig = {}): AutoScalingClient {
  return new AutoScalingClient({ ...CLIENT_DEFAULTS, ...config });
}

export function createEC2Client(config: EC2ClientConfig = {}): EC2Client {
  return new EC2Client({ ...CLIENT_DEFAULTS, ...config });
}

export function createAutoScalingClients(config: AutoScalingClientConfig & EC2ClientConfig = {}): AutoScalingClients {
  return { autoScaling: createAutoScalingClient(config), ec2: createEC2Client(config as EC2ClientConfig) };
}

/** What describe() needs from EC2 about each instance. */
export interface InstanceDetails {
  spot: boolean;
  launchTime: string | undefined;
}

/** Instance details by id; ids EC2 does not know (yet) are absent. */
export type InstanceDetailsLookup = (ids: string[]) => Promise<Map<string, InstanceDetails>>;

/** DescribeInstances takes at most this many ids per call. */
const DESCRIBE_BATCH = 200;

/** EC2 DescribeInstances, in batches; a client factory is called on the first lookup only. */
export function ec2InstanceDetails(ec2: EC2Client | (() => EC2Client)): InstanceDetailsLookup {
  let client: EC2Client | undefined;
  return async (ids) => {
    const out = new Map<string, InstanceDetails>();
    for (let i = 0; i < ids.length; i += DESCRIBE_BATCH) {
      const batch = ids.slice(i, i + DESCRIBE_BATCH);
      client ??= typeof ec2 === 'function' ? ec2() : ec2;
      let nextToken: string | undefined;
      do {
        // Filter by id rather than InstanceIds: an id EC2 does not know yet must not fail the whole call.
        const page = await client.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: batch }], NextToken: nextToken }));
        for (const reservation of page.Reservations ?? []) {
          for (const instance of reservation.Instances ?? []) {
            if (!instance.InstanceId) continue;
            out.set(instance.InstanceId, {
              spot: instance.InstanceLifecycle === 'spot',
              launchTime: instance.LaunchTime ? new Date(instance.LaunchTime).toISOString() : undefined,
            });
          }
        }
        nextToken = page.NextToken;
      } while (nextToken);
    }
    return out;
  };
}

/**
 * The port over the Auto Scaling client alone, EC2 given as a lookup. Without
 * one, describe() is unavailable: ScaleOut only sets the desired capacity, and
 * its bundle then carries no EC2 client (lib/adapters pieces it does not
 * reference are left out).
 */
export class AutoScalingGroupBase implements ScalingGroupPort {
  constructor(
    readonly groupName: string,
    private readonly autoScaling: AutoScalingClient,
    private readonly instanceDetails: InstanceDetailsLookup | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async describe(options: DescribeOptions = {}): Promise<GroupState> {
    const withDetails = options.instanceDetails ?? true;
    const { AutoScalingGroups } = await this.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [this.groupName] }),
    );
    const group = AutoScalingGroups?.find((g) => g.AutoScalingGroupName === this.groupName);
    if (!group) throw new ScalingGroupNotFoundError(this.groupName);
    const bare: GroupState = {
      name: this.groupName,
      desired: group.DesiredCapacity ?? 0,
      min: group.MinSize ?? 0,
      max: group.MaxSize ?? 0,
      instances: (group.Instances ?? [])
        .filter((i) => i.InstanceId)
        .map((i) => ({
          instanceId: i.InstanceId as string,
          lifecycleState: String(i.LifecycleState ?? 'Pending'),
          market: 'on-demand',
          launchTime: new Date(this.now()).toISOString(),
          protectedFromScaleIn: Boolean(i.ProtectedFromScaleIn),
          ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
        })),
    };
    return withDetails ? this.withInstanceDetails(bare) : bare;
  }

  async withInstanceDetails(group: GroupState): Promise<GroupState> {
    if (!this.instanceDetails) throw new Error('AutoScalingGroupBase needs an EC2 instance lookup for instance details (see ec2InstanceDetails)');
    const details = await this.instanceDetails(group.instances.map((i) => i.instanceId));
    return {
      ...group,
      instances: group.instances.map((instance): GroupInstance => {
        const detail = details.get(instance.instanceId);
        // Not yet visible to EC2 (just launched): on-demand is the safe assumption, it only ranks it last as a victim.
        return { ...instance, market: detail?.spot ? 'spot' : 'on-demand', launchTime: detail?.launchTime ?? instance.launchTime };
      }),
    };
  }

  async setDesiredCapacity(desired: number): Promise<void> {
    // HonorCooldown false: the autoscaler applies its own cooldowns from the settings.
    await this.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: this.groupName, DesiredCapacity: desired, HonorCooldown: false }),
    );
  }

  async terminateInstance(instanceId: string, decrement: boolean): Promise<void> {
    await this.autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instanceId, ShouldDecrementDesiredCapacity: decrement }),
    );
  }
}

/** The port over both clients (the CLI, local mode and tests; the Lambdas that describe the group pass a lazy EC2 client). */
export class AutoScalingGroupAdapter extends AutoScalingGroupBase {
  constructor(groupName: string, clients: AutoScalingClients, now: () => number = Date.now) {
    super(groupName, clients.autoScaling, ec2InstanceDetails(clients.ec2), now);
  }
}
