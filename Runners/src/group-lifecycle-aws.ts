import {
  CompleteLifecycleActionCommand,
  DescribeAutoScalingGroupsCommand,
  SetInstanceProtectionCommand,
  SuspendProcessesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingClient,
} from '@aws-sdk/client-auto-scaling';
import { DescribeStacksCommand, type CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { GroupLifecyclePort, GroupSnapshot, StackStatusPort } from './group-lifecycle';

/** SetInstanceProtection takes at most 50 instance ids per call (API reference). */
export const PROTECTION_BATCH = 50;

/** The lifecycle ports over the Auto Scaling and CloudFormation APIs (the role allows exactly these calls, for this group and stack). */
/** launchHookName: the group's launch lifecycle hook; without it, instances held there are waited for instead of abandoned. */
export function createGroupLifecyclePort(client: AutoScalingClient, groupName: string, launchHookName?: string): GroupLifecyclePort {
  return {
    async describe(): Promise<GroupSnapshot | undefined> {
      const { AutoScalingGroups } = await client.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [groupName] }));
      const group = AutoScalingGroups?.find((g) => g.AutoScalingGroupName === groupName);
      // A group being deleted is listed with a Status until it is gone; it is still there to empty.
      if (!group) return undefined;
      return {
        name: groupName,
        min: group.MinSize ?? 0,
        max: group.MaxSize ?? 0,
        desired: group.DesiredCapacity ?? 0,
        newInstancesProtectedFromScaleIn: Boolean(group.NewInstancesProtectedFromScaleIn),
        suspendedProcesses: (group.SuspendedProcesses ?? []).map((p) => p.ProcessName ?? '').filter(Boolean),
        instances: (group.Instances ?? [])
          .filter((i) => i.InstanceId)
          .map((i) => ({ instanceId: i.InstanceId!, lifecycleState: String(i.LifecycleState ?? 'Pending'), protectedFromScaleIn: Boolean(i.ProtectedFromScaleIn) })),
      };
    },
    async suspendProcesses(processes) {
      await client.send(new SuspendProcessesCommand({ AutoScalingGroupName: groupName, ScalingProcesses: [...processes] }));
    },
    async close() {
      // MaxSize 0 too: nothing (a leftover AutoScaler execution, an operator) can scale the group out again.
      await client.send(
        new UpdateAutoScalingGroupCommand({ AutoScalingGroupName: groupName, MinSize: 0, MaxSize: 0, DesiredCapacity: 0, NewInstancesProtectedFromScaleIn: false }),
      );
    },
    async removeProtection(instanceIds) {
      for (let i = 0; i < instanceIds.length; i += PROTECTION_BATCH) {
        await client.send(
          new SetInstanceProtectionCommand({ AutoScalingGroupName: groupName, InstanceIds: instanceIds.slice(i, i + PROTECTION_BATCH), ProtectedFromScaleIn: false }),
        );
      }
    },
    async terminate(instanceId) {
      await client.send(new TerminateInstanceInAutoScalingGroupCommand({ InstanceId: instanceId, ShouldDecrementDesiredCapacity: false }));
    },
    async abandonLaunch(instanceId) {
      if (!launchHookName) return;
      // By instance id: the action's token went to the jit-config function's event, not here.
      await client.send(
        new CompleteLifecycleActionCommand({ AutoScalingGroupName: groupName, LifecycleHookName: launchHookName, InstanceId: instanceId, LifecycleActionResult: 'ABANDON' }),
      );
    },
  };
}

export function createStackStatusPort(client: CloudFormationClient): StackStatusPort {
  return {
    async status(stackId) {
      try {
        // By stack id (an ARN), which also finds a stack that is being deleted.
        const { Stacks } = await client.send(new DescribeStacksCommand({ StackName: stackId }));
        return Stacks?.[0]?.StackStatus;
      } catch (error) {
        const { name, message } = error as { name?: string; message?: string };
        if (name === 'ValidationError' && /does not exist/.test(String(message))) return undefined;
        throw error;
      }
    },
  };
}
