import type { GitHubJob, QueuedJobScan } from '../ports';

/**
 * Bounded discovery of queued jobs in an organization (defect 4 of issue 13).
 *
 * GitHub has no organization-wide "queued jobs" endpoint: queued jobs are found
 * per repository, by listing its workflow runs
 * (`GET /repos/{owner}/{repo}/actions/runs`, docs.github.com/rest/actions/workflow-runs)
 * and the jobs of each run that is not completed
 * (`GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs`, docs.github.com/rest/actions/workflow-jobs).
 * One scan:
 *  - candidates, in order: the repositories the caller names first (the ledger's
 *    open jobs: a job listed there as queued costs no re-check of its own), then the
 *    organization's most recently pushed repositories
 *    (`GET /orgs/{org}/repos?sort=pushed&direction=desc`, docs.github.com/rest/repos/repos),
 *    pages read while their repositories were pushed inside the look-back;
 *  - requests run in parallel, at most `concurrency` at a time (GitHub's secondary limit
 *    allows 100 concurrent requests), jobs of a repository already started before new
 *    repositories, so the scan ends with as many repositories complete as it can;
 *  - it stops starting requests when its time budget or its call budget is spent, and
 *    returns what it found, saying which repositories it read completely. A repository
 *    it did not read says nothing about its jobs: callers must not take "not listed"
 *    for "not queued" outside `scannedRepositories`.
 * One request per repository when it has at most 100 runs in the look-back (the list is not
 * filtered by status: a run is `in_progress` as soon as one job started while others still
 * wait, and `queued`/`waiting`/`pending`/`requested` runs may hold queued jobs too).
 */
export interface ScanRequest {
  (route: string, parameters: Record<string, unknown>): Promise<{ data: unknown }>;
}

export interface QueuedJobScanOptions {
  /** `undefined` for a repository scope (then `repositories` holds that one repository). */
  org?: string;
  repositories: readonly string[];
  /** Also scan the organization's recently pushed repositories (org scope only). */
  includePushed: boolean;
  timeBudgetMs: number;
  callBudget: number;
  concurrency: number;
  lookbackHours: number;
  maxRunsPerRepository: number;
  /** At most this many pages (100 repositories each) of recently pushed repositories. */
  maxRepositoryPages: number;
  now: () => number;
  /** Requests made so far by the port (retries included): the call budget counts them. */
  requestsSoFar: () => number;
  /** An error of one repository that is not "the budget ran out": reported, the scan goes on. */
  statusOf: (error: unknown) => number | undefined;
  isRateLimited: (error: unknown) => boolean;
}

/** A job as GitHub's REST API returns it (the fields we read). */
export type RawJob = { id: number; run_id: number; status: string; conclusion: string | null; labels: string[]; runner_name: string | null; created_at?: string | null };
type RawRun = { id: number; status: string };
type RawRepository = { full_name: string; archived?: boolean; pushed_at?: string | null };

/** Run statuses that may hold a queued job (everything but completed). */
const OPEN_RUN = new Set(['queued', 'in_progress', 'waiting', 'pending', 'requested']);

export function toJob(raw: RawJob, repository: string): GitHubJob {
  return {
    id: raw.id,
    runId: raw.run_id,
    repository,
    status: raw.status,
    conclusion: raw.conclusion ?? null,
    labels: raw.labels ?? [],
    runnerName: raw.runner_name ?? null,
    createdAt: raw.created_at ?? null,
  };
}

interface RepoState {
  pending: number;
  failed: boolean;
  capped: boolean;
}

export async function scanQueuedJobs(request: ScanRequest, options: QueuedJobScanOptions): Promise<QueuedJobScan> {
  const startedAt = options.now();
  const deadline = startedAt + options.timeBudgetMs;
  const firstRequest = options.requestsSoFar();
  const since = new Date(startedAt - options.lookbackHours * 3600_000).toISOString();
  const jobs: GitHubJob[] = [];
  const repos = new Map<string, RepoState>();
  const failures: Array<{ repository: string; status: number | null; message: string }> = [];
  let stoppedBy: QueuedJobScan['stoppedBy'] = null;
  /** GitHub refused the credentials: nothing else will work either; thrown once the requests in flight are done. */
  let fatal: { error: unknown } | undefined;

  // Two queues: follow-up work of a repository already started (its runs' jobs), then new repositories.
  const followUps: Array<() => Promise<void>> = [];
  const candidates: string[] = [];
  const queued = new Set<string>();
  const addCandidate = (name: string) => {
    const key = name.toLowerCase();
    if (queued.has(key)) return;
    queued.add(key);
    candidates.push(name);
  };
  for (const name of options.repositories) addCandidate(name);

  const outOfBudget = (): boolean => {
    if (stoppedBy || fatal) return true;
    if (options.now() >= deadline) stoppedBy = 'time';
    else if (options.requestsSoFar() - firstRequest >= options.callBudget) stoppedBy = 'calls';
    return stoppedBy !== null;
  };
  /** A failure after the budget ran out is the budget's (an aborted request), not GitHub's. */
  const pastBudget = () => options.now() >= deadline;

  const finish = (repository: string) => {
    const state = repos.get(repository)!;
    state.pending -= 1;
  };
  const fail = (repository: string, error: unknown) => {
    const state = repos.get(repository)!;
    state.failed = true;
    if (pastBudget()) {
      stoppedBy ??= 'time';
      return;
    }
    if (options.statusOf(error) === 401) {
      fatal ??= { error };
      return;
    }
    if (options.isRateLimited(error)) stoppedBy = 'rate_limit';
    failures.push({ repository, status: options.statusOf(error) ?? null, message: (error as Error).message?.slice(0, 200) ?? String(error) });
  };

  const scanRunJobs = (repository: string, owner: string, repo: string, runId: number, page: number) => async () => {
    try {
      const { data } = await request('GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs', { owner, repo, run_id: runId, filter: 'latest', per_page: 100, page });
      const body = data as { total_count?: number; jobs: RawJob[] };
      jobs.push(...body.jobs.filter((job) => job.status === 'queued').map((job) => toJob(job, repository)));
      if ((body.total_count ?? 0) > page * 100 && body.jobs.length === 100) {
        repos.get(repository)!.pending += 1;
        followUps.push(scanRunJobs(repository, owner, repo, runId, page + 1));
      }
      finish(repository);
    } catch (error) {
      if (options.statusOf(error) === 404) return finish(repository); // run deleted meanwhile
      fail(repository, error);
    }
  };

  const scanRepository = (repository: string) => async () => {
    const match = /^([^/\s]+)\/([^/\s]+)$/.exec(repository);
    if (!match) return;
    const [, owner, repo] = match;
    repos.set(repository, { pending: 1, failed: false, capped: false });
    try {
      const { data } = await request('GET /repos/{owner}/{repo}/actions/runs', { owner, repo, created: `>=${since}`, exclude_pull_requests: true, per_page: 100 });
      const body = data as { total_count?: number; workflow_runs: RawRun[] };
      let open = body.workflow_runs.filter((run) => OPEN_RUN.has(run.status));
      const state = repos.get(repository)!;
      // More runs in the look-back than one page: an open run may be on a later page. Not complete then.
      if ((body.total_count ?? 0) > body.workflow_runs.length) state.capped = true;
      if (open.length > options.maxRunsPerRepository) {
        open = open.slice(0, options.maxRunsPerRepository);
        state.capped = true;
      }
      state.pending += open.length;
      for (const run of open) followUps.push(scanRunJobs(repository, owner, repo, run.id, 1));
      finish(repository);
    } catch (error) {
      // Gone, Actions disabled, or not accessible to this installation: nothing queued there we could serve.
      if (options.statusOf(error) === 404 || options.statusOf(error) === 403) {
        if (!options.isRateLimited(error)) return finish(repository);
      }
      fail(repository, error);
    }
  };

  let repositoryPages = 0;
  let listing = false;
  let morePushed = options.includePushed && options.org !== undefined;
  const listPushed = (page: number) => async () => {
    try {
      const { data } = await request('GET /orgs/{org}/repos', { org: options.org, sort: 'pushed', direction: 'desc', per_page: 100, page });
      const list = data as RawRepository[];
      for (const repository of list) {
        if (repository.archived) continue;
        if (repository.pushed_at && repository.pushed_at < since) {
          morePushed = false;
          break;
        }
        addCandidate(repository.full_name);
      }
      if (list.length < 100) morePushed = false;
    } catch (error) {
      morePushed = false;
      if (pastBudget()) stoppedBy ??= 'time';
      else failures.push({ repository: `${options.org} (repository list)`, status: options.statusOf(error) ?? null, message: (error as Error).message?.slice(0, 200) ?? String(error) });
    } finally {
      listing = false;
    }
  };

  let nextCandidate = 0;
  const nextTask = (): (() => Promise<void>) | undefined => {
    if (outOfBudget()) return undefined;
    const followUp = followUps.shift();
    if (followUp) return followUp;
    // Read the next page of pushed repositories before the known candidates run out.
    if (morePushed && !listing && repositoryPages < options.maxRepositoryPages && candidates.length - nextCandidate < options.concurrency * 2) {
      listing = true;
      repositoryPages += 1;
      return listPushed(repositoryPages);
    }
    if (nextCandidate < candidates.length) return scanRepository(candidates[nextCandidate++]);
    return undefined;
  };

  // A small worker pool: a worker that finds no task waits for a running one to finish (it may add work).
  const running = new Set<Promise<void>>();
  for (;;) {
    while (running.size < options.concurrency) {
      const task = nextTask();
      if (!task) break;
      const promise: Promise<void> = task().finally(() => running.delete(promise));
      running.add(promise);
    }
    if (running.size === 0) break;
    await Promise.race(running);
  }
  if (fatal) throw fatal.error;

  const scannedRepositories = [...repos.entries()].filter(([, s]) => s.pending === 0 && !s.failed && !s.capped).map(([name]) => name);
  const unscanned = candidates.length - scannedRepositories.length;
  const complete = stoppedBy === null && failures.length === 0 && unscanned === 0 && !morePushed;
  return {
    jobs: jobs.sort((a, b) => a.id - b.id),
    complete,
    scannedRepositories,
    candidateRepositories: candidates.length,
    unscannedRepositories: unscanned,
    failures: failures.slice(0, 10),
    failureCount: failures.length,
    stoppedBy,
    requests: options.requestsSoFar() - firstRequest,
    elapsedMs: options.now() - startedAt,
  };
}
