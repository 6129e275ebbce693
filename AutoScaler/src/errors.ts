/**
 * Errors the state machine tells apart. A TransientError (throttling, 5xx,
 * network, rate limit, a conditional-write race that kept losing) is retried
 * by the Task's Retry with backoff; anything else goes straight to the Catch,
 * is recorded by RecordFailure and ends the execution in a Fail state.
 */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

/** The execution input is not an event this state machine handles (a contract bug: retrying cannot help). */
export class InvalidInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

const TRANSIENT_NAMES = new Set([
  'TransientError',
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceededException',
  'LimitExceededException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'InternalServerError',
  'InternalFailure',
  'InternalError',
  // Auto Scaling faults under both names: the class's, and the wire code a bundle reports once the build has
  // unregistered the class (scripts/build.mjs sdk-schema-shaking; test/bundles checks it on the bundle).
  'ScalingActivityInProgress',
  'ScalingActivityInProgressFault',
  'ResourceContention',
  'ResourceContentionFault',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'RateLimitedError',
  'LedgerConflictError',
  'AbortError',
]);

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET']);

/**
 * Wrappers keep the original as `cause` (Powertools' GetParameterError around
 * an SSM throttle, say): the chain is followed a few levels deep.
 */
export function isTransient(error: unknown, depth = 0): boolean {
  if (!error || typeof error !== 'object' || depth > 4) return false;
  const e = error as { name?: string; code?: string; status?: number; $metadata?: { httpStatusCode?: number }; $retryable?: unknown; cause?: unknown };
  if (e.name && TRANSIENT_NAMES.has(e.name)) return true;
  if (e.code && NETWORK_CODES.has(e.code)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode ?? e.status;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  return isTransient(e.cause, depth + 1);
}

/** Runs `fn`; a transient failure is re-thrown as TransientError so the state machine's Retry matches it by name. */
export async function classifyErrors<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof TransientError || !isTransient(error)) throw error;
    const e = error as Error;
    throw new TransientError(`${what}: ${e.name}: ${e.message}`, { cause: error });
  }
}
