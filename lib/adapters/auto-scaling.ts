import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  SetDesiredCapacityCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type AutoScalingClientConfig,
} from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand, EC2Client, type EC2ClientConfig } from '@aws-sdk/client-ec2';
import type { GroupInstance, GroupState, ScalingGroupPort } from '../ports';

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

export function createAutoScalingClients(config: AutoScalingClientConfig & EC2ClientConfig = {}): AutoScalingClients {
  const base = { maxAttempts: 6, retryMode: 'adaptive', ...config };
  return { autoScaling: new AutoScalingClient(base), ec2: new EC2Client(base as EC2ClientConfig) };
}

/** DescribeInstances takes at most this many ids per call. */
const DESCRIBE_BATCH = 200;

export class AutoScalingGroupAdapter implements ScalingGroupPort {
  constructor(
    readonly groupName: string,
    private readonly clients: AutoScalingClients,
    private readonly now: () => number = Date.now,
  ) {}

  async describe(): Promise<GroupState> {
    const { AutoScalingGroups } = await this.clients.autoScaling.send(
      new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [this.groupName] }),
    );
    const group = AutoScalingGroups?.find((g) => g.AutoScalingGroupName === this.groupName);
    if (!group) throw new ScalingGroupNotFoundError(this.groupName);
    const members = group.Instances ?? [];
    const details = await this.describeInstances(members.map((i) => i.InstanceId).filter((id): id is string => Boolean(id)));
    const instances: GroupInstance[] = members
      .filter((i) => i.InstanceId)
      .map((i) => {
        const detail = details.get(i.InstanceId as string);
        return {
          instanceId: i.InstanceId as string,
          lifecycleState: String(i.LifecycleState ?? 'Pending'),
          // Not yet visible to EC2 (just launched): on-demand is the safe assumption, it only ranks it last as a victim.
          market: detail?.spot ? 'spot' : 'on-demand',
          launchTime: detail?.launchTime ?? new Date(this.now()).toISOString(),
          protectedFromScaleIn: Boolean(i.ProtectedFromScaleIn),
          ...(i.InstanceType ? { instanceType: i.InstanceType } : {}),
        };
      });
    return {
      name: this.groupName,
      desired: group.DesiredCapacity ?? 0,
      min: group.MinSize ?? 0,
      max: group.MaxSize ?? 0,
      instances,
    };
  }

  async setDesiredCapacity(desired: number): Promise<void> {
    // HonorCooldown false: the autoscaler applies its own cooldowns from the settings.
    await this.clients.autoScaling.send(
      new SetDesiredCapacityCommand({ AutoScalingGroupName: this.groupName, DesiredCapacity: desired, HonorCooldown: false }),
    );
  }

  async terminateInstance(instanceId: string, decrement: boolean): Promise<void> {
    await this.clients.autoScaling.send(
      new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instanceId, ShouldDecrementDesiredCapacity: decrement }),
    );
  }

  private async describeInstances(ids: string[]): Promise<Map<string, { spot: boolean; launchTime: string | undefined }>> {
    const out = new Map<string, { spot: boolean; launchTime: string | undefined }>();
    for (let i = 0; i < ids.length; i += DESCRIBE_BATCH) {
      const batch = ids.slice(i, i + DESCRIBE_BATCH);
      let nextToken: string | undefined;
      do {
        // Filter by id rather than InstanceIds: an id EC2 does not know yet must not fail the whole call.
        const page = await this.clients.ec2.send(
          new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: batch }], NextToken: nextToken }),
        );
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
  }
}
