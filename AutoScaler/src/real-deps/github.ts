import { AutoScalingGroupBase, createEC2Client, ec2InstanceDetails } from '../../../lib/adapters/auto-scaling';
import { AutoScalingActivities } from '../../../lib/adapters/scaling-activities';
import { createGitHubPort, loadGitHubCredentials } from '../../../lib/adapters/github';
import { once } from '../../../lib/config';
import { parseGitHubScope } from '../../../lib/ports';
import type { AutoScalerDeps } from '../deps';
import { realAutoScalingClient } from './fleet';
import { realConfig, realStoreDeps } from './store';

/**
 * Everything, GitHub included (Observe, ScaleIn, Reconcile), built once per
 * container on first use; the EC2 client (instance markets) is created on the
 * first describe of the group, the GitHub credentials are fetched from SSM on
 * the first GitHub call.
 */
export const realAutoScalerDeps = once((): AutoScalerDeps => {
  const config = realConfig();
  const fleet = realStoreDeps();
  return {
    ...fleet,
    scalingGroup: new AutoScalingGroupBase(config.AUTO_SCALING_GROUP_NAME, realAutoScalingClient(), ec2InstanceDetails(() => createEC2Client())),
    scalingActivities: new AutoScalingActivities(config.AUTO_SCALING_GROUP_NAME, realAutoScalingClient()),
    github: createGitHubPort({
      scope: parseGitHubScope(config.GITHUB_SCOPE),
      auth: (refresh) => loadGitHubCredentials(config.GITHUB_CREDENTIALS_PARAMETER, { forceRefresh: refresh?.forceRefresh }),
      ...(config.GITHUB_API_URL ? { baseUrl: config.GITHUB_API_URL } : {}),
      logger: { warn: (message, extra) => fleet.logger.warn(message, extra ?? {}) },
      // A Lambda must not sleep past its own timeout waiting for GitHub: the state machine retries instead.
      // Each GitHub call ends within 20 s, retries and waits included: inside the 25 s of Observe and ScaleIn.
      retry: { maxAttempts: 3, maxRateLimitWaitMs: 5_000, requestTimeoutMs: 8_000, callBudgetMs: 20_000 },
    }),
  };
});
