/**
 * One DynamoDB table, partition key `pk` (string), TTL attribute `expiresAt`
 * (epoch seconds), and a sparse GSI `open-jobs` (hash `openPool`, range
 * `queuedAt`) that holds only jobs not yet completed, so counting demand never
 * scans the table.
 */
export const TABLE_KEY = 'pk';
export const TTL_ATTRIBUTE = 'expiresAt';
export const OPEN_JOBS_INDEX = 'open-jobs';
export const OPEN_JOBS_HASH = 'openPool';
export const OPEN_JOBS_RANGE = 'queuedAt';

export const keys = {
  settings: (pool: string) => `SETTINGS#${pool}`,
  lastValidSettings: (pool: string) => `SETTINGS_LKG#${pool}`,
  /** The original design's single cooldown item (value in milliseconds). */
  legacyCooldown: 'settings_cooldown',
  job: (jobId: number | string) => `JOB#${jobId}`,
  delivery: (deliveryId: string) => `DELIVERY#${deliveryId}`,
  activity: (pool: string) => `ACTIVITY#${pool}`,
} as const;

export const DELIVERY_TTL_SECONDS = 3 * 24 * 3600; // GitHub allows redelivery for 3 days
export const COMPLETED_JOB_TTL_SECONDS = 7 * 24 * 3600;
export const OPEN_JOB_TTL_SECONDS = 3 * 24 * 3600; // GitHub cancels queued jobs after 24-48 h
