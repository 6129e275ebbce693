import type { LaunchAction, LifecyclePort, LifecycleResult } from '../../Runners/src/aws';

export const GROUP = 'runner-autoscaler-runners';

export function launchEvent(instanceId: string, overrides: { group?: string; token?: string } = {}) {
  return {
    version: '0',
    id: 'b3a6b2f1-0000-0000-0000-000000000000',
    'detail-type': 'EC2 Instance-launch Lifecycle Action',
    source: 'aws.autoscaling',
    account: '123456789012',
    time: '2026-11-23T03:00:00Z',
    region: 'eu-west-1',
    resources: [`arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/${GROUP}`],
    detail: {
      LifecycleActionToken: overrides.token ?? '87654321-4321-4321-4321-210987654321',
      AutoScalingGroupName: overrides.group ?? GROUP,
      LifecycleHookName: 'runner-launch',
      EC2InstanceId: instanceId,
      LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
      Origin: 'EC2',
      Destination: 'AutoScalingGroup',
    },
  };
}

/**
 * A stand-in for the group's lifecycle: moto has no CompleteLifecycleAction.
 * It holds instance states and moves them as Auto Scaling would.
 */
export function fakeLifecycle(states: Record<string, string>, groupName = GROUP) {
  const completions: Array<{ action: LaunchAction; result: LifecycleResult }> = [];
  const port: LifecyclePort = {
    async membership(instanceId) {
      return states[instanceId] ? { groupName, lifecycleState: states[instanceId] } : undefined;
    },
    async complete(action, result) {
      if (states[action.instanceId] !== 'Pending:Wait') throw Object.assign(new Error('No active Lifecycle Action found'), { name: 'ValidationError' });
      completions.push({ action, result });
      states[action.instanceId] = result === 'CONTINUE' ? 'Pending:Proceed' : 'Terminating';
    },
  };
  return { port, states, completions };
}

