/**
 * GitHub's routing rule: a runner can take a job when every label the job asks
 * for (`runs-on`) is one of the runner's labels. Comparison is case-insensitive,
 * as GitHub's is. A job with no labels is served by nobody: GitHub would never
 * route it to a self-hosted pool, and launching for it would only leak cost.
 */
/**
 * The Infrastructure stack's RunnerLabels default (test/ingress/template.test.ts keeps them equal): what
 * local mode, the simulator and tests use when they are not given a pool's labels.
 */
export const DEFAULT_POOL_LABELS: readonly string[] = Object.freeze(['self-hosted', 'linux', 'x64']);

export function normalizeLabels(labels: readonly string[]): string[] {
  return [...new Set(labels.map((label) => label.trim().toLowerCase()).filter((label) => label.length > 0))];
}

export function runnerCanTakeJob(runnerLabels: readonly string[], jobLabels: readonly string[]): boolean {
  const wanted = normalizeLabels(jobLabels);
  if (wanted.length === 0) return false;
  const offered = new Set(normalizeLabels(runnerLabels));
  return wanted.every((label) => offered.has(label));
}
