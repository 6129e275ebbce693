import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Clock, GitHubPort, ScalingActivitiesPort, ScalingGroupPort } from '../../lib/ports';

/**
 * Everything the AutoScaler steps touch. Lambdas get the AWS and GitHub
 * implementations (src/real-deps/*, one factory per set of clients so that
 * each function bundles only what its step uses); tests, local mode and the
 * simulator pass dynalite, a simulated fleet and a simulated GitHub instead.
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
  /**
   * The pool's labels (RUNNER_LABELS: the Infrastructure stack's RunnerLabels, as the webhook and the
   * runners use them); DEFAULT_POOL_LABELS where a test or the simulator gives none.
   */
  labels?: readonly string[];
  scalingGroup: ScalingGroupPort;
  github: GitHubPort;
  /** The group's terminations, for the reconcile's boot-failure check; without it the check is skipped. */
  scalingActivities?: ScalingActivitiesPort;
  clock: Clock;
  logger: AutoScalerLogger;
  metrics?: AutoScalerMetrics;
}

/** What the steps that only read and write the table need (LoadSettings, RecordEvent, RecordActivity, RecordFailure). */
export type StoreDeps = Pick<AutoScalerDeps, 'doc' | 'tableName' | 'pool' | 'labels' | 'clock' | 'logger' | 'metrics'>;

/** The table and the Auto Scaling group, no GitHub (ScaleOut). */
export type FleetDeps = StoreDeps & Pick<AutoScalerDeps, 'scalingGroup'>;
