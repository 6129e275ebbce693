import type { CheckResult, DoctorFacts, Fact } from './checks';

/**
 * The doctor's runner-version check. GitHub refuses to register runners below a minimum version and
 * stops sending jobs to a runner that has not installed a new release within 30 days of its publication
 * (github.com/orgs/community/discussions/194762). The Runners stack's RunnerVersion is the version every
 * new instance downloads: "latest" keeps up on its own, a pin must move at least monthly.
 */
export const RUNNER_UPDATE_DAYS = 30;
export const RUNNER_RELEASES_API = 'https://api.github.com/repos/actions/runner/releases?per_page=50';

export interface RunnerRelease {
  version: string;
  publishedAt: string;
}

export interface RunnerVersionFact {
  /** The Runners stack's RunnerVersion parameter, undefined when the stack has none. */
  parameter: string | undefined;
  /** Published releases (no drafts, no prereleases); empty when they were not needed. */
  releases: RunnerRelease[];
}

const CHECK = 'runner version';
const DAY_MS = 86_400_000;

/** Numeric x.y.z order; NaN parts (a malformed tag) sort first. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i += 1) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function checkRunnerVersion(fact: Fact<RunnerVersionFact>, now: Date = new Date()): CheckResult[] {
  if ('skipped' in fact) return [{ check: CHECK, status: 'WARN', message: `skipped: ${fact.skipped}` }];
  // Advisory: GitHub being unreachable from the operator's machine is not a broken deployment.
  if (!fact.ok) return [{ check: CHECK, status: 'WARN', message: `could not read the actions/runner releases: ${fact.error}` }];
  const { parameter, releases } = fact.value;
  if (parameter === undefined) return [{ check: CHECK, status: 'WARN', message: 'skipped: the Runners stack has no RunnerVersion parameter' }];
  if (parameter === 'latest') {
    return [{ check: CHECK, status: 'PASS', message: 'RunnerVersion=latest: every new instance installs the current release (a runner baked into the AMI is not checked)' }];
  }
  const newer = releases.filter((r) => compareVersions(r.version, parameter) > 0).sort((a, b) => compareVersions(a.version, b.version));
  if (newer.length === 0) return [{ check: CHECK, status: 'PASS', message: `RunnerVersion=${parameter} is the current release` }];
  const first = newer[0];
  const current = newer[newer.length - 1];
  const days = Math.floor((now.getTime() - Date.parse(first.publishedAt)) / DAY_MS);
  const behind = `${first.version}, the first release after ${parameter}, was published ${days} day(s) ago (${first.publishedAt.slice(0, 10)}); current is ${current.version}`;
  if (days > RUNNER_UPDATE_DAYS) {
    return [
      {
        check: CHECK,
        status: 'WARN',
        message: `RunnerVersion=${parameter} is more than ${RUNNER_UPDATE_DAYS} days behind: ${behind}. GitHub stops sending jobs to runners that did not install a release within ${RUNNER_UPDATE_DAYS} days of its publication`,
        fix: `redeploy the Runners stack with RunnerVersion=latest (or RunnerVersion=${current.version}, and its RunnerSha256), and rebuild a baked AMI`,
      },
    ];
  }
  return [{ check: CHECK, status: 'PASS', message: `RunnerVersion=${parameter} pinned; ${behind}: move the pin within ${RUNNER_UPDATE_DAYS - days} day(s)` }];
}

interface RawRelease {
  tag_name?: string;
  published_at?: string | null;
  draft?: boolean;
  prerelease?: boolean;
}

/** The RunnerVersion in use and, for a pin only, the published releases (public data, no credentials). */
export async function gatherRunnerVersion(
  stacks: DoctorFacts['stacks'],
  fetchImpl: typeof fetch = fetch,
  url: string = process.env.RUNNER_RELEASES_API_URL ?? RUNNER_RELEASES_API,
): Promise<RunnerVersionFact | { skipped: string }> {
  if ('skipped' in stacks) return { skipped: stacks.skipped };
  if (!stacks.ok) return { skipped: 'stacks could not be read' };
  if (!stacks.value.runners.exists) return { skipped: `stack ${stacks.value.runners.name} not found` };
  const parameter = stacks.value.runners.parameters.RunnerVersion;
  if (parameter === undefined || parameter === 'latest') return { parameter, releases: [] };
  const response = await fetchImpl(url, {
    headers: { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'runner-autoscaler-cli' },
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  const raw = (await response.json()) as RawRelease[];
  const releases = (Array.isArray(raw) ? raw : [])
    .filter((r) => !r.draft && !r.prerelease && r.published_at && /^v\d+\.\d+\.\d+$/.test(r.tag_name ?? ''))
    .map((r) => ({ version: r.tag_name!.slice(1), publishedAt: r.published_at! }));
  return { parameter, releases };
}

/** Gathers and checks in one: the doctor appends these results to its own. */
export async function runnerVersionChecks(stacks: DoctorFacts['stacks'], fetchImpl?: typeof fetch): Promise<CheckResult[]> {
  let fact: Fact<RunnerVersionFact>;
  try {
    const value = await gatherRunnerVersion(stacks, fetchImpl);
    fact = 'skipped' in value ? value : { ok: true, value };
  } catch (error) {
    fact = { ok: false, error: (error as Error).message ?? String(error) };
  }
  return checkRunnerVersion(fact);
}
