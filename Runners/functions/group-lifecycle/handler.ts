import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { createLogger } from '../../../lib/logger';
import { createGroupLifecyclePort, createStackStatusPort } from '../../src/group-lifecycle-aws';
import { createGroupLifecycleHandler } from '../../src/group-lifecycle-handler';

/** The Runners stack's Custom::RunnerGroupLifecycle (Runners/src/group-lifecycle-handler.ts). */
export const handler = createGroupLifecycleHandler(() => {
  // Adaptive retry: backoff on throttling and faults, and client-side rate limiting while a deletion terminates many instances.
  const autoScaling = new AutoScalingClient({ maxAttempts: 6, retryMode: 'adaptive' });
  return {
    group: (groupName: string, launchHookName?: string) => createGroupLifecyclePort(autoScaling, groupName, launchHookName),
    stacks: createStackStatusPort(new CloudFormationClient({ maxAttempts: 6, retryMode: 'adaptive' })),
    logger: createLogger(process.env.POWERTOOLS_SERVICE_NAME ?? 'group-lifecycle'),
  };
});
