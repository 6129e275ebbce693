import { recordFailure as storeFailure } from '../../lib/activity';
import type { StoreDeps } from './deps';
import { classifyErrors } from './errors';

export interface RecordFailureInput {
  /** What the Catch put at $.failure: {Error, Cause}. */
  failure?: { Error?: string; Cause?: string } | null;
  execution?: { Id?: string; Name?: string } | null;
  executionId?: string | null;
}

export interface FailureRecord {
  executionId: string;
  error: string;
  cause: string;
}

/** A Task failed after its retries: log it, count it, keep it on the activity item, then the execution ends in a Fail state. */
export async function recordFailureStep(deps: StoreDeps, input: RecordFailureInput): Promise<FailureRecord> {
  const { doc, tableName, pool, clock, logger, metrics } = deps;
  const executionId = input.executionId ?? input.execution?.Id ?? input.execution?.Name ?? 'unknown';
  const error = String(input.failure?.Error ?? 'UnknownError').slice(0, 200);
  const cause = String(input.failure?.Cause ?? '').slice(0, 1000);
  logger.error('autoscaler execution failed', { executionId, error, cause });
  metrics?.addMetric('Errors', 'Count', 1);
  await classifyErrors('RecordFailure', () => storeFailure(doc, tableName, pool, { at: new Date(clock.now()).toISOString(), executionId, error, cause }));
  return { executionId, error, cause };
}
