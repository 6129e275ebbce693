import { Logger } from '@aws-lambda-powertools/logger';

/** Structured JSON logs (Powertools). One logger per function; secrets are never passed to it. */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName, logLevel: (process.env.POWERTOOLS_LOG_LEVEL as 'INFO' | undefined) ?? 'INFO' });
}
