import { readActivity } from '../../lib/activity';
import { knownRepositoryNames, mergeKnownRepositories, readKnownRepositories, writeKnownRepositories } from '../../lib/known-repositories';
import { runnerCanTakeJob } from '../../lib/labels';
import type { JobRecord } from '../../lib/ledger';
import type { QueuedJobScan, RedeliveryReport } from '../../lib/ports';
import type { AutoScalerDeps } from './deps';
import type { DiscoverySummary } from './state';

/**
 * The reconcile's search for work GitHub has that the ledger missed (issue 13, defect 4):
 *  1. failed `workflow_job` deliveries since the last reconcile are redelivered
 *     (lib/adapters/github-deliveries.ts): a lost `queued` arrives as a normal event;
 *  2. a bounded search for queued jobs (lib/adapters/github-queued-jobs.ts), the
 *     repositories of the ledger's open jobs first, then those the pool's jobs came from in the
 *     last week (lib/known-repositories.ts), then recently pushed ones.
 * Neither fails the Reconcile step when its budget runs out: what was found is used,
 * and how much was not covered is logged, counted (metrics) and put in the summary.
 * A GitHub error both share with the rest of the reconcile (credentials refused) fails it.
 */

/** Deliveries are read back one period beyond the last reconcile: a delivery that failed as it ran is not missed. */
export const REDELIVERY_OVERLAP_MS = 15 * 60_000;

/** Pure: the repositories to search first, those with most open queued jobs first, then those with jobs in progress. */
export function ledgerRepositories(open: readonly Pick<JobRecord, 'repository' | 'status'>[]): string[] {
  const weight = new Map<string, number>();
  for (const job of open) {
    if (!job.repository) continue;
    weight.set(job.repository, (weight.get(job.repository) ?? 0) + (job.status === 'queued' ? 1000 : 1));
  }
  return [...weight.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([name]) => name);
}

/** Pure: the part of a scan and a redelivery pass the execution state carries (a few numbers, the first failure). */
export function discoverySummary(scan: QueuedJobScan, deferredRechecks: number, redelivery: RedeliveryReport | null): DiscoverySummary {
  return {
    complete: scan.complete,
    stoppedBy: scan.stoppedBy,
    repositoriesScanned: scan.scannedRepositories.length,
    repositoriesNotScanned: scan.unscannedRepositories,
    failures: scan.failureCount,
    firstFailure: scan.failures[0] ? `${scan.failures[0].repository}: ${scan.failures[0].message}` : null,
    queuedFound: scan.jobs.length,
    deferredRechecks,
    githubCalls: scan.requests + (redelivery?.requests ?? 0),
    elapsedMs: scan.elapsedMs,
    redelivered: redelivery?.redelivered ?? 0,
    redeliveryDeferred: redelivery?.deferred ?? 0,
    redeliveryHook: redelivery?.hook ?? 'none',
    redeliveryError: redelivery?.error ?? null,
  };
}

export async function redeliverLostWebhooks(deps: AutoScalerDeps): Promise<RedeliveryReport | null> {
  const { github, clock, logger } = deps;
  if (!github.redeliverFailedDeliveries) return null;
  const { lastReconcileAt } = await readActivity(deps.doc, deps.tableName, deps.pool);
  const since = (lastReconcileAt ?? clock.now() - REDELIVERY_OVERLAP_MS) - REDELIVERY_OVERLAP_MS;
  const report = await github.redeliverFailedDeliveries(since);
  if (report.error) logger.warn('webhook redelivery stopped on a GitHub error', { ...report });
  else if (!report.complete || report.deferred > 0) logger.warn('webhook redelivery did not cover the whole window', { ...report });
  return report;
}

/** `poolLabels`: only the repositories of jobs this pool serves are remembered (the search lists every queued job, GitHub-hosted ones too). */
export async function searchQueuedJobs(deps: AutoScalerDeps, open: readonly JobRecord[], poolLabels: readonly string[]): Promise<QueuedJobScan> {
  const { github, logger } = deps;
  if (!github.scanQueuedJobs) {
    // A port without a bounded search (the simulator's, the test fakes') lists everything.
    const jobs = await github.listQueuedJobs();
    return { jobs, complete: true, scannedRepositories: [], candidateRepositories: 0, unscannedRepositories: 0, failures: [], failureCount: 0, stoppedBy: null, requests: 0, elapsedMs: 0 };
  }
  const known = await readKnownRepositories(deps.doc, deps.tableName, deps.pool);
  const scan = await github.scanQueuedJobs({ repositories: [...new Set([...ledgerRepositories(open), ...knownRepositoryNames(known)])] });
  const seen = [...open.map((job) => job.repository), ...scan.jobs.filter((job) => runnerCanTakeJob(poolLabels, job.labels)).map((job) => job.repository)];
  await writeKnownRepositories(deps.doc, deps.tableName, deps.pool, mergeKnownRepositories(known, seen, deps.clock.now()), deps.clock.now());
  if (!scan.complete) {
    logger.warn('the search for queued jobs was partial: lost queued webhooks of the repositories not read are found in a later period', {
      stoppedBy: scan.stoppedBy,
      repositoriesScanned: scan.scannedRepositories.length,
      repositoriesNotScanned: scan.unscannedRepositories,
      failures: scan.failures,
      requests: scan.requests,
      elapsedMs: scan.elapsedMs,
    });
  }
  return scan;
}
