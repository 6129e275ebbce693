import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { SSMClient } from '@aws-sdk/client-ssm';
import { createGitHubPort, loadGitHubCredentials } from '../../lib/adapters/github';
import { createLogger } from '../../lib/logger';
import type { GitHubPort } from '../../lib/ports';
import { createLifecyclePort, createSsmRunnerConfigStore } from './aws';
import { loadInterruptionConfig, loadJitConfigConfig, type InterruptionConfig } from './config';
import type { InterruptionDeps } from './interruption';
import type { JitConfigDeps } from './jit-config';
import { createMetricsCounter } from './metrics';

/** AWS-backed deps, built once per container on the first event. */
function gitHubFor(config: Pick<InterruptionConfig, 'GITHUB_SCOPE' | 'GITHUB_CREDENTIALS_PARAMETER' | 'GITHUB_API_URL'>, logger: ReturnType<typeof createLogger>): () => GitHubPort {
  let port: GitHubPort | undefined;
  return () =>
    (port ??= createGitHubPort({
      scope: config.GITHUB_SCOPE,
      auth: (refresh) => loadGitHubCredentials(config.GITHUB_CREDENTIALS_PARAMETER, { forceRefresh: refresh?.forceRefresh }),
      baseUrl: config.GITHUB_API_URL,
      logger,
      // Bounded well inside the 60 s function timeout (and the 300 s lifecycle heartbeat):
      // at worst 3 x 8 s attempts, 1.5 s of backoff and one 10 s rate-limit wait.
      retry: { maxAttempts: 3, requestTimeoutMs: 8_000, maxRateLimitWaitMs: 10_000, maxRateLimitWaits: 1, callBudgetMs: 40_000 },
    }));
}

export function realJitConfigDeps(): JitConfigDeps {
  const config = loadJitConfigConfig();
  const logger = createLogger(config.POWERTOOLS_SERVICE_NAME);
  return {
    groupName: config.AUTO_SCALING_GROUP_NAME,
    runnerGroupId: config.RUNNER_GROUP_ID,
    github: gitHubFor(config, logger),
    labels: async () => config.RUNNER_LABELS,
    store: createSsmRunnerConfigStore({ ssm: new SSMClient({ maxAttempts: 5 }), prefix: config.RUNNER_CONFIG_PREFIX, kmsKeyArn: config.RUNNER_CONFIG_KMS_KEY_ARN }),
    lifecycle: createLifecyclePort(new AutoScalingClient({ maxAttempts: 5 })),
    metrics: createMetricsCounter(config.METRICS_NAMESPACE, config.POWERTOOLS_SERVICE_NAME),
    logger,
  };
}

export function realInterruptionDeps(): InterruptionDeps {
  const config = loadInterruptionConfig();
  const logger = createLogger(config.POWERTOOLS_SERVICE_NAME);
  return {
    groupName: config.AUTO_SCALING_GROUP_NAME,
    github: gitHubFor(config, logger),
    lifecycle: createLifecyclePort(new AutoScalingClient({ maxAttempts: 5 })),
    metrics: createMetricsCounter(config.METRICS_NAMESPACE, config.POWERTOOLS_SERVICE_NAME),
    logger,
  };
}
