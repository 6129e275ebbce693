import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { batchGetItems } from './batch-get';
import { TABLE_KEY } from './table';

/**
 * Which runners took a job: one small item `RUNNER#<runner name>` per runner
 * that a job event named (in_progress and completed carry `runner_name`; JIT
 * runners are named after their instance id, Runners/src/jit-config.ts). The
 * job items hold the runner name too, but the table has no index on it, and
 * the reconcile must answer "did instance X ever run a job?" for every
 * instance that left the group in one BatchGetItem per 100 instances
 * (lib/boot-health.ts). Kept as long as a completed job.
 */
export const RUNNER_JOB_PREFIX = 'RUNNER#';
const RUNNER_JOB_TTL_SECONDS = 7 * 24 * 3600;

export const runnerJobKey = (runnerName: string) => `${RUNNER_JOB_PREFIX}${runnerName}`;

/** Unconditional put: a runner runs one job, and a later write for the same runner says the same thing. */
export async function recordRunnerTookJob(doc: DynamoDBDocumentClient, tableName: string, runnerName: string, jobId: number, now: number): Promise<void> {
  await doc.send(
    new PutCommand({
      TableName: tableName,
      Item: { [TABLE_KEY]: runnerJobKey(runnerName), runnerName, jobId, at: new Date(now).toISOString(), expiresAt: Math.floor(now / 1000) + RUNNER_JOB_TTL_SECONDS },
    }),
  );
}

/** The names among `runnerNames` that took a job. */
export async function runnersThatTookJobs(doc: DynamoDBDocumentClient, tableName: string, runnerNames: readonly string[]): Promise<Set<string>> {
  if (runnerNames.length === 0) return new Set();
  const items = await batchGetItems(doc, tableName, [...new Set(runnerNames)].map(runnerJobKey));
  return new Set(items.map((item) => String(item.runnerName)));
}
