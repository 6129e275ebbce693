import {
  AutoScalingClient,
  CompleteLifecycleActionCommand,
  DescribeAutoScalingInstancesCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  DeleteParameterCommand,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';

/**
 * The two AWS systems the Runners functions touch, behind small interfaces so
 * tests and local mode can put their own in: the Auto Scaling lifecycle
 * (membership, CompleteLifecycleAction) and the per-instance runner config in
 * SSM Parameter Store.
 */
export type LifecycleResult = 'CONTINUE' | 'ABANDON';

export interface LaunchAction {
  groupName: string;
  hookName: string;
  token: string;
  instanceId: string;
}

export interface LifecyclePort {
  /** The instance's group and lifecycle state, or undefined when Auto Scaling does not know it (yet). */
  membership(instanceId: string): Promise<{ groupName: string; lifecycleState: string } | undefined>;
  complete(action: LaunchAction, result: LifecycleResult): Promise<void>;
}

export function createLifecyclePort(client: AutoScalingClient): LifecyclePort {
  return {
    async membership(instanceId) {
      const { AutoScalingInstances } = await client.send(new DescribeAutoScalingInstancesCommand({ InstanceIds: [instanceId] }));
      const instance = AutoScalingInstances?.[0];
      if (!instance?.AutoScalingGroupName || !instance.LifecycleState) return undefined;
      return { groupName: instance.AutoScalingGroupName, lifecycleState: instance.LifecycleState };
    },
    async complete(action, result) {
      await client.send(
        new CompleteLifecycleActionCommand({
          AutoScalingGroupName: action.groupName,
          LifecycleHookName: action.hookName,
          LifecycleActionToken: action.token,
          InstanceId: action.instanceId,
          LifecycleActionResult: result,
        }),
      );
    },
  };
}

/** SSM Standard parameters hold up to 4 KB; Advanced up to 8 KB (and cost 0.05 USD per parameter-month, prorated). */
export const STANDARD_TIER_MAX_BYTES = 4096;
export const ADVANCED_TIER_MAX_BYTES = 8192;
export type ParameterTier = 'Standard' | 'Advanced';

export function parameterTier(value: string): ParameterTier {
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes <= STANDARD_TIER_MAX_BYTES) return 'Standard';
  if (bytes <= ADVANCED_TIER_MAX_BYTES) return 'Advanced';
  throw new Error(`runner config is ${bytes} bytes, more than an SSM parameter can hold (${ADVANCED_TIER_MAX_BYTES})`);
}

/** The tag that binds a runner config to its instance: the instance role may read a parameter only where it equals ${ec2:SourceInstanceARN}. */
export const INSTANCE_ARN_TAG = 'RunnerInstanceArn';

export function instanceArn(partition: string, region: string, account: string, instanceId: string): string {
  return `arn:${partition}:ec2:${region}:${account}:instance/${instanceId}`;
}

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export interface RunnerConfigStore {
  /** Stores the single-use config for one instance, replacing a leftover from an earlier attempt. */
  put(instanceId: string, instanceArn: string, config: string): Promise<{ name: string; tier: ParameterTier }>;
  remove(instanceId: string): Promise<void>;
}

export function createSsmRunnerConfigStore(options: { ssm: SSMClient; prefix: string; kmsKeyArn?: string }): RunnerConfigStore {
  const { ssm, prefix } = options;
  const nameFor = (instanceId: string) => `${prefix}/${instanceId}`;
  const remove = async (instanceId: string) => {
    try {
      await ssm.send(new DeleteParameterCommand({ Name: nameFor(instanceId) }));
    } catch (error) {
      if (!(error instanceof ParameterNotFound) && (error as { name?: string }).name !== 'ParameterNotFound') throw error;
    }
  };
  return {
    async put(instanceId, arn, config) {
      const name = nameFor(instanceId);
      const tier = parameterTier(config);
      // Tags cannot be combined with Overwrite, so a leftover is deleted first.
      const command = () =>
        new PutParameterCommand({
          Name: name,
          Value: config,
          Type: 'SecureString',
          Tier: tier,
          ...(options.kmsKeyArn ? { KeyId: options.kmsKeyArn } : {}),
          Description: 'Single-use GitHub Actions JIT runner config; read and deleted by its instance at boot',
          Tags: [{ Key: INSTANCE_ARN_TAG, Value: arn }],
        });
      try {
        await ssm.send(command());
      } catch (error) {
        if (!(error instanceof ParameterAlreadyExists) && (error as { name?: string }).name !== 'ParameterAlreadyExists') throw error;
        await remove(instanceId);
        await ssm.send(command());
      }
      return { name, tier };
    },
    remove,
  };
}
