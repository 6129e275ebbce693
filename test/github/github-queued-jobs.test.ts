import { scanQueuedJobs, type QueuedJobScanOptions } from '../../lib/adapters/github-queued-jobs';

/**
 * The bounded search for queued jobs, against an in-memory GitHub answering after a simulated latency
 * (a fake clock moved by the requests themselves): concurrency, both budgets, and what counts as read.
 */
const NOW = Date.parse('2026-11-23T12:00:00Z');
class HttpError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

function fakeGitHub(repos: Record<string, { runs?: Array<{ id: number; status: string; jobs: Array<{ id: number; status: string }> }>; error?: number; totalRuns?: number }>, latencyMs = 300) {
  let time = NOW;
  let inFlight = 0;
  let maxInFlight = 0;
  let requests = 0;
  const request = async (route: string, p: Record<string, unknown>) => {
    requests += 1;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 1));
    time += latencyMs / 10; // ten in flight share the latency
    inFlight -= 1;
    if (route === 'GET /orgs/{org}/repos') return { data: [] };
    const repo = repos[`${p.owner}/${p.repo}`];
    if (!repo || repo.error) throw new HttpError(repo?.error ?? 404);
    if (route === 'GET /repos/{owner}/{repo}/actions/runs') {
      const runs = (repo.runs ?? []).map(({ id, status }) => ({ id, status }));
      return { data: { total_count: repo.totalRuns ?? runs.length, workflow_runs: runs } };
    }
    const run = repo.runs!.find((r) => r.id === p.run_id)!;
    return { data: { total_count: run.jobs.length, jobs: run.jobs.map((j) => ({ ...j, run_id: run.id, conclusion: null, labels: ['self-hosted'], runner_name: null })) } };
  };
  const options = (extra: Partial<QueuedJobScanOptions> = {}): QueuedJobScanOptions => ({
    org: 'acme',
    repositories: Object.keys(repos),
    includePushed: false,
    timeBudgetMs: 45_000,
    callBudget: 300,
    concurrency: 10,
    lookbackHours: 48,
    maxRunsPerRepository: 50,
    maxRepositoryPages: 3,
    now: () => time,
    requestsSoFar: () => requests,
    statusOf: (error) => (error instanceof HttpError ? error.status : undefined),
    isRateLimited: () => false,
    ...extra,
  });
  return { request, options, stats: () => ({ maxInFlight, requests }) };
}

const active = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`acme/r${i}`, { runs: [{ id: i, status: 'queued', jobs: [{ id: 1000 + i, status: 'queued' }, { id: 2000 + i, status: 'in_progress' }] }] }]));

it('reads every repository with at most `concurrency` requests at a time and lists only queued jobs', async () => {
  const gh = fakeGitHub({ ...active(30), 'acme/done': { runs: [{ id: 99, status: 'completed', jobs: [] }] } });
  const scan = await scanQueuedJobs(gh.request, gh.options({ concurrency: 4 }));
  expect(scan).toMatchObject({ complete: true, stoppedBy: null, failureCount: 0, unscannedRepositories: 0, requests: 61 });
  expect(scan.jobs.map((j) => j.id)).toEqual(Array.from({ length: 30 }, (_, i) => 1000 + i));
  expect(scan.scannedRepositories).toHaveLength(31);
  expect(gh.stats().maxInFlight).toBe(4);
});

it('stops at the call budget and the time budget, saying which repositories it read', async () => {
  const gh = fakeGitHub(active(100));
  const byCalls = await scanQueuedJobs(gh.request, gh.options({ callBudget: 50 }));
  expect(byCalls).toMatchObject({ complete: false, stoppedBy: 'calls' });
  expect(byCalls.requests).toBeLessThanOrEqual(50 + 10);
  // Repositories are finished before new ones start: every repository read has its job listed.
  expect(byCalls.jobs.map((j) => `acme/r${j.id - 1000}`).sort()).toEqual([...byCalls.scannedRepositories].sort());
  const gh2 = fakeGitHub(active(100));
  const byTime = await scanQueuedJobs(gh2.request, gh2.options({ timeBudgetMs: 1_500 }));
  expect(byTime).toMatchObject({ complete: false, stoppedBy: 'time' });
  expect(byTime.elapsedMs).toBeLessThan(1_500 + 10 * 30);
  expect(byTime.unscannedRepositories).toBe(100 - byTime.scannedRepositories.length);
});

it('a gone repository is read (nothing there), a failing one is reported and not read, a too busy one is not complete; credentials refused are thrown', async () => {
  const gh = fakeGitHub({ 'acme/gone': { error: 404 }, 'acme/broken': { error: 502 }, 'acme/busy': { runs: [], totalRuns: 250 }, ...active(1) });
  const scan = await scanQueuedJobs(gh.request, gh.options());
  expect(scan.scannedRepositories.sort()).toEqual(['acme/gone', 'acme/r0']);
  expect(scan).toMatchObject({ complete: false, failureCount: 1, failures: [{ repository: 'acme/broken', status: 502 }] });
  const refused = fakeGitHub({ ...active(40), 'acme/r0': { error: 401 } });
  await expect(scanQueuedJobs(refused.request, refused.options())).rejects.toThrow('HTTP 401');
  expect(refused.stats().requests).toBeLessThan(25);
});
