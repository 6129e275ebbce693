/**
 * Pure: how long one Task state can take at worst, from its ASL alone, so a
 * test can prove that every Task, retries included, still leaves the
 * execution time to run RecordFailure (issue 13, defect 7: a Reconcile that
 * retried States.Timeout outlived the 240 s execution, RecordFailure never
 * ran, and the failed-executions alarm stayed silent).
 *
 * Step Functions' retry semantics (AWS Step Functions Developer Guide,
 * "Handling errors in Step Functions workflows", retrier fields and "Complex
 * retry scenarios"):
 *  - each retrier counts its own retries across the whole state execution,
 *    so errors that alternate between retriers get the sum of their
 *    MaxAttempts: at most 1 + sum(MaxAttempts) attempts;
 *  - the wait before retry k of a retrier is IntervalSeconds * BackoffRate^(k-1)
 *    (defaults 1 s, 2.0, MaxAttempts 3), capped by MaxDelaySeconds;
 *    JitterStrategy FULL only ever shortens it, so the cap is the worst case;
 *  - an attempt ends at the latest when the Task's TimeoutSeconds elapse
 *    (States.Timeout). The Lambda function may still be running then: Step
 *    Functions does not stop it.
 */
export interface Retrier {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
  JitterStrategy?: string;
}

export interface TaskState {
  Type: string;
  TimeoutSeconds?: number;
  Retry?: Retrier[];
}

export interface TaskWorstCase {
  attempts: number;
  /** Sum of every wait between attempts, without jitter. */
  backoffSeconds: number;
  /** attempts * TimeoutSeconds + backoffSeconds. */
  totalSeconds: number;
}

const DEFAULT_INTERVAL_SECONDS = 1;
const DEFAULT_MAX_ATTEMPTS = 3;
const DEFAULT_BACKOFF_RATE = 2;

/** The waits one retrier can add, in order. */
export function retrierWaits(retrier: Retrier): number[] {
  const interval = retrier.IntervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
  const rate = retrier.BackoffRate ?? DEFAULT_BACKOFF_RATE;
  const cap = retrier.MaxDelaySeconds ?? Infinity;
  const waits: number[] = [];
  for (let k = 0; k < (retrier.MaxAttempts ?? DEFAULT_MAX_ATTEMPTS); k++) waits.push(Math.min(interval * rate ** k, cap));
  return waits;
}

/** Worst case of one Task state; throws when it has no TimeoutSeconds (Step Functions would then wait for a reply without limit). */
export function taskWorstCase(name: string, state: TaskState): TaskWorstCase {
  if (!(typeof state.TimeoutSeconds === 'number' && state.TimeoutSeconds > 0)) throw new Error(`${name}: a Task needs TimeoutSeconds to have a worst case`);
  const waits = (state.Retry ?? []).flatMap(retrierWaits);
  const attempts = 1 + waits.length;
  const backoffSeconds = waits.reduce((sum, wait) => sum + wait, 0);
  return { attempts, backoffSeconds, totalSeconds: attempts * state.TimeoutSeconds + backoffSeconds };
}
