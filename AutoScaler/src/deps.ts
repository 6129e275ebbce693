import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createAutoScalingClients, AutoScalingGroupAdapter } from '../../lib/adapters/auto-scaling';
import { createDocumentClient } from '../../lib/adapters/dynamodb';
import { createGitHubPort, loadGitHubCredentials } from '../../lib/adapters/github';
import { once } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { parseGitHubScope, systemClock, type Clock, type GitHubPort, type ScalingGroupPort } from '../../lib/ports';
import { loadAutoScalerConfig } from './config';

/**
 * Everything the AutoScaler steps touch. Lambdas get the AWS and GitHub
 * implementations (realAutoScalerDeps); tests, local mode and the simulator
 * pass dynalite, a simulated fleet and a simulated GitHub instead.
 */
export interface AutoScalerLogger {
  debug(message: string, ...extra: Array<Record<string, unknown>>): void;
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

/** The part of Powertools Metrics the steps use (EMF in Lambda). */
export interface AutoScalerMetrics {
  addMetric(name: string, unit: 'Count', value: number): void;
  publishStoredMetrics?(): void;
}

export interface AutoScalerDeps {
  doc: DynamoDBDocumentClient;
  tableName: string;
  pool: string;
  scalingGroup: ScalingGroupPort;
  github: GitHubPort;
  clock: Clock;
  logger: AutoScalerLogger;
  metrics?: AutoScalerMetrics;
}

/** AWS-backed deps, built once per container on first use; GitHub credentials are fetched from SSM on the first GitHub call. */
export const realAutoScalerDeps = once((): AutoScalerDeps => {
  const config = loadAutoScalerConfig();
  const logger = createLogger(config.POWERTOOLS_SERVICE_NAME);
  return {
    doc: createDocumentClient(),
    tableName: config.TABLE_NAME,
    pool: config.POOL,
    scalingGroup: new AutoScalingGroupAdapter(config.AUTO_SCALING_GROUP_NAME, createAutoScalingClients()),
    github: createGitHubPort({
      scope: parseGitHubScope(config.GITHUB_SCOPE),
      auth: () => loadGitHubCredentials(config.GITHUB_CREDENTIALS_PARAMETER),
      ...(config.GITHUB_API_URL ? { baseUrl: config.GITHUB_API_URL } : {}),
      logger: { warn: (message, extra) => logger.warn(message, extra ?? {}) },
      // A Lambda must not sleep past its own timeout waiting for GitHub: the state machine retries instead.
      retry: { maxAttempts: 3, maxRateLimitWaitMs: 5_000, requestTimeoutMs: 8_000 },
    }),
    clock: systemClock,
    logger,
    metrics: new Metrics({ namespace: config.POWERTOOLS_METRICS_NAMESPACE, serviceName: config.POWERTOOLS_SERVICE_NAME, defaultDimensions: { pool: config.POOL } }),
  };
});
