/**
 * One DynamoDB table, partition key `pk` (string), TTL attribute `expiresAt`
 * (epoch seconds), and a sparse GSI `open-jobs` that holds only jobs not yet
 * completed, so counting demand never scans the table. Its hash key is
 * `<pool>#<status>` (queued or in_progress) and it projects keys only: a
 * count of either status is one COUNT query over entries of a few dozen
 * bytes, with no filter and no attribute but the keys (in DynamoDB that is
 * the read units of the keys alone, not of whole job items; in dynalite half
 * the time of a filtered count over full items).
 */
export const TABLE_KEY = 'pk';
export const TTL_ATTRIBUTE = 'expiresAt';
export const OPEN_JOBS_INDEX = 'open-jobs';
export const OPEN_JOBS_HASH = 'openKey';
export const OPEN_JOBS_RANGE = 'queuedAt';
export const OPEN_JOBS_PROJECTION = { ProjectionType: 'KEYS_ONLY' } as const;
export type OpenJobStatus = 'queued' | 'in_progress';
export const OPEN_JOB_STATUSES: readonly OpenJobStatus[] = ['queued', 'in_progress'];

/** The open-jobs index hash of a pool's jobs in one status. */
export function openJobsKey(pool: string, status: OpenJobStatus): string {
  return `${pool}#${status}`;
}

export const keys = {
  settings: (pool: string) => `SETTINGS#${pool}`,
  lastValidSettings: (pool: string) => `SETTINGS_LKG#${pool}`,
  /** The original design's single cooldown item (value in milliseconds). */
  legacyCooldown: 'settings_cooldown',
  job: (jobId: number | string) => `JOB#${jobId}`,
  delivery: (deliveryId: string) => `DELIVERY#${deliveryId}`,
  activity: (pool: string) => `ACTIVITY#${pool}`,
  /** Repositories the pool's jobs came from lately (lib/known-repositories.ts). */
  knownRepositories: (pool: string) => `REPOS#${pool}`,
} as const;

export const DELIVERY_TTL_SECONDS = 3 * 24 * 3600; // GitHub allows redelivery for 3 days
export const COMPLETED_JOB_TTL_SECONDS = 7 * 24 * 3600;
export const OPEN_JOB_TTL_SECONDS = 3 * 24 * 3600; // GitHub cancels queued jobs after 24-48 h
