import { Metrics } from '@aws-lambda-powertools/metrics';
import { createDocumentClient } from '../../../lib/adapters/dynamodb';
import { once } from '../../../lib/config';
import { createLogger } from '../../../lib/logger';
import { systemClock } from '../../../lib/ports';
import { loadAutoScalerConfig, type AutoScalerConfig } from '../config';
import type { StoreDeps } from '../deps';

/** The functions' configuration, read and validated once per container. */
export const realConfig = once((): AutoScalerConfig => loadAutoScalerConfig());

/** DynamoDB, logger and metrics, built once per container on first use (LoadSettings, RecordEvent, RecordActivity, RecordFailure). */
export const realStoreDeps = once((): StoreDeps => {
  const config = realConfig();
  return {
    doc: createDocumentClient(),
    tableName: config.TABLE_NAME,
    pool: config.POOL,
    labels: config.RUNNER_LABELS,
    clock: systemClock,
    logger: createLogger(config.POWERTOOLS_SERVICE_NAME),
    metrics: new Metrics({ namespace: config.POWERTOOLS_METRICS_NAMESPACE, serviceName: config.POWERTOOLS_SERVICE_NAME, defaultDimensions: { pool: config.POOL } }),
  };
});
