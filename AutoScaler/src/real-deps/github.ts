import { createGitHubPort, loadGitHubCredentials } from '../../../lib/adapters/github';
import { once } from '../../../lib/config';
import { parseGitHubScope } from '../../../lib/ports';
import type { AutoScalerDeps } from '../deps';
import { realFleetDeps } from './fleet';
import { realConfig } from './store';

/**
 * Everything, GitHub included (Observe, ScaleIn, Reconcile), built once per
 * container on first use; the GitHub credentials are fetched from SSM on the
 * first GitHub call.
 */
export const realAutoScalerDeps = once((): AutoScalerDeps => {
  const config = realConfig();
  const fleet = realFleetDeps();
  return {
    ...fleet,
    github: createGitHubPort({
      scope: parseGitHubScope(config.GITHUB_SCOPE),
      auth: () => loadGitHubCredentials(config.GITHUB_CREDENTIALS_PARAMETER),
      ...(config.GITHUB_API_URL ? { baseUrl: config.GITHUB_API_URL } : {}),
      logger: { warn: (message, extra) => fleet.logger.warn(message, extra ?? {}) },
      // A Lambda must not sleep past its own timeout waiting for GitHub: the state machine retries instead.
      retry: { maxAttempts: 3, maxRateLimitWaitMs: 5_000, requestTimeoutMs: 8_000 },
    }),
  };
});
