import { DEFAULT_SCAN } from '../../lib/adapters/github';
import { RECONCILE_LAMBDA_TIMEOUT_SECONDS, runOrgScaleReconcile } from '../../bench/org-scale';

/**
 * The reconcile at organisation scale (issue 13, defect 4 and its check): the real Reconcile step and
 * GitHub adapter against the simulated GitHub at 300 ms per request, in simulated time ten times faster
 * than the wall clock (bench/org-scale.ts), so the budgets below are the production ones.
 */
const RECONCILE_LAMBDA_TIMEOUT_MS = RECONCILE_LAMBDA_TIMEOUT_SECONDS * 1000;

it('defect 4: 30 repositories, 10 active runs, 300 ms a request: the reconcile succeeds, finds the jobs and still cleans up', async () => {
  // Before: the 30 most recently pushed repositories, two run lists each and one job list per run, one
  // request at a time (71 x 300 ms = 21 s) inside a 20 s call budget: aborted (Octokit: 500), the step failed.
  const r = await runOrgScaleReconcile({ repositories: 30, activeRepositories: 10, jobsPerRepository: 1, scheduledRepositories: 0, quietRepositories: 20, ledgerRepositories: 0 });
  expect(r.error).toBeNull();
  expect(r.outcome).toBe('succeeded');
  expect(r.addedJobs).toBe(10);
  expect(r.stale).toBe(true); // stale registration removed
  expect(r.stuckTerminated).toBe(true); // never-registered instance cleaned up
  expect(r.summary?.discovery).toMatchObject({ complete: true, queuedFound: 10 });
  expect(r.reconcileMs).toBeLessThan(10_000);
});

it('1,000 repositories, 200 queued jobs in 100 of them, 300 ms a request: all found, inside the time and call budgets', async () => {
  const r = await runOrgScaleReconcile();
  expect(r.error).toBeNull();
  expect(r.queuedJobs).toBe(200);
  expect(r.summary?.discovery).toMatchObject({ complete: true, stoppedBy: null, queuedFound: 200, failures: 0, deferredRechecks: 0 });
  // 60 of them were in the ledger already (their webhook arrived), 140 were lost: added now.
  expect(r.addedJobs).toBe(140);
  // 20 of the active repositories were pushed months ago: only the ledger's hint finds their lost jobs.
  expect(r.summary?.discovery?.repositoriesScanned).toBe(170);
  expect(r.summary?.discovery?.githubCalls).toBeLessThanOrEqual(DEFAULT_SCAN.callBudget);
  // The whole step: the search, the runner list, the clean-ups (plus the two registrations of the setup, not counted here).
  expect(r.githubCalls).toBeLessThanOrEqual(DEFAULT_SCAN.callBudget + 10);
  // The search inside its budget; the whole step inside its Lambda's timeout. (Simulated time scales the
  // local work too, dynalite's 280 calls for the 140 added jobs included: an overstatement, not a margin.)
  expect(r.summary?.discovery?.elapsedMs).toBeLessThan(DEFAULT_SCAN.timeBudgetMs);
  expect(r.reconcileMs).toBeLessThan(RECONCILE_LAMBDA_TIMEOUT_MS);
  expect(r.stale).toBe(true);
  expect(r.stuckTerminated).toBe(true);
});

it('a search cut short by its call budget is reported, not failed: repair and clean-ups run, no job is closed for not being looked at', async () => {
  const r = await runOrgScaleReconcile({ port: { queuedJobScan: { callBudget: 40 } } });
  expect(r.error).toBeNull();
  expect(r.summary?.discovery).toMatchObject({ complete: false, stoppedBy: 'calls' });
  expect(r.summary?.discovery?.githubCalls).toBeLessThanOrEqual(40 + DEFAULT_SCAN.concurrency);
  expect(r.summary?.discovery?.repositoriesNotScanned).toBeGreaterThan(0);
  // The ledger's 60 queued jobs are still queued at GitHub: whether listed or re-read one by one, none is closed.
  expect(r.summary?.counts?.closedJobs).toBe(0);
  expect(r.summary?.counts?.startedJobs).toBe(0);
  // What it did find is used: the ledger's repositories come first, so their lost jobs are added.
  expect(r.addedJobs).toBeGreaterThan(0);
  expect(r.addedJobs).toBeLessThan(140);
  expect(r.stale).toBe(true);
  expect(r.stuckTerminated).toBe(true);
});
