import { recordReconcile } from '../../lib/activity';
import { forEachWithConcurrency } from '../../lib/concurrency';
import { listOpenJobs, readJob, recordJobEvent } from '../../lib/ledger';
import { missedQueuedEvent, missedQueuedJobs, repairFromRemote, recheckPlan, staleRegistrations, unregisteredToTerminate } from '../../lib/reconcile-rules';
import { DEFAULT_POOL_LABELS } from '../../lib/labels';
import { readSettings } from '../../lib/settings-store';
import { checkBootHealth } from './boot-check';
import type { AutoScalerDeps } from './deps';
import { classifyErrors } from './errors';
import { discoverySummary, redeliverLostWebhooks, searchQueuedJobs } from './reconcile-discovery';
import type { ReconcileCounts, ReconcileSummary } from './state';

/** GitHub allows 100 concurrent requests per installation; a handful keeps a big re-check inside the Lambda's timeout. */
const RECHECK_CONCURRENCY = 8;

/** Ids listed per kind in the summary: it travels in the execution's state (256 KB at most in Step Functions); the counts stay complete. */
export const SUMMARY_IDS_PER_KIND = 100;

/** Pure: the summary with every list cut to SUMMARY_IDS_PER_KIND, and its full counts. */
export function boundSummary(summary: ReconcileSummary): ReconcileSummary & { counts: ReconcileCounts } {
  const cut = <T>(list: T[]): T[] => list.slice(0, SUMMARY_IDS_PER_KIND);
  return {
    openJobs: summary.openJobs,
    ...(summary.discovery ? { discovery: summary.discovery } : {}),
    counts: {
      closedJobs: summary.closedJobs.length,
      startedJobs: summary.startedJobs.length,
      addedJobs: summary.addedJobs.length,
      removedRegistrations: summary.removedRegistrations.length,
      terminatedUnregistered: summary.terminatedUnregistered.length,
    },
    closedJobs: cut(summary.closedJobs),
    startedJobs: cut(summary.startedJobs),
    addedJobs: cut(summary.addedJobs),
    removedRegistrations: cut(summary.removedRegistrations),
    terminatedUnregistered: cut(summary.terminatedUnregistered),
  };
}

/**
 * The schedule's repair pass, so a lost webhook costs at most one period:
 *  0. failed webhook deliveries are redelivered and queued jobs searched for, within budgets
 *     (reconcile-discovery.ts); a search cut short is reported, never a failure;
 *  1. every open ledger job that GitHub does not list as queued is re-read
 *     there (8 at a time): finished, cancelled or vanished jobs are closed,
 *     started ones marked in progress;
 *  2. queued jobs GitHub has for this pool's labels that the ledger missed are added;
 *  3. offline registrations of this pool whose instance is gone are removed;
 *  4. instances that never registered within bootTimeoutSeconds are terminated
 *     (with decrement: they never had a runner, so no job can be running there).
 * The normal Observe/Decide/apply path follows.
 */
export async function reconcile(deps: AutoScalerDeps): Promise<ReconcileSummary> {
  const { doc, tableName, pool, github, scalingGroup, clock, logger, metrics } = deps;
  return classifyErrors('Reconcile', async () => {
    const { settings } = await readSettings(doc, tableName, pool);
    const poolLabels = deps.labels ?? DEFAULT_POOL_LABELS;
    const summary: ReconcileSummary = { openJobs: 0, closedJobs: [], startedJobs: [], addedJobs: [], removedRegistrations: [], terminatedUnregistered: [] };

    const open = await listOpenJobs(doc, tableName, pool);
    summary.openJobs = open.length;
    // Lost webhooks redelivered, then GitHub's queued list (bounded, possibly partial): a ledger job GitHub
    // still lists as queued needs no call of its own, so during a big queue the reconcile costs a few list
    // calls, not one call per waiting job; only a job GitHub answered for is closed (recheckPlan).
    const redelivery = await redeliverLostWebhooks(deps);
    const scan = await searchQueuedJobs(deps, open, poolLabels);
    const queuedAtGitHub = scan.jobs;
    const plan = recheckPlan(open, scan);
    summary.discovery = discoverySummary(scan, plan.deferred.length, redelivery);
    await forEachWithConcurrency(plan.recheck, RECHECK_CONCURRENCY, async (job) => {
      const repair = repairFromRemote(job, await github.getJob(job.repository, job.jobId), clock.now());
      if (!repair) return;
      await recordJobEvent(doc, tableName, repair);
      (repair.action === 'completed' ? summary.closedJobs : summary.startedJobs).push(job.jobId);
    });
    // Concurrent re-checks finish in any order; the summary lists job ids in order.
    summary.closedJobs.sort((a, b) => a - b);
    summary.startedJobs.sort((a, b) => a - b);

    for (const remote of missedQueuedJobs(queuedAtGitHub, new Set(open.map((job) => job.jobId)), poolLabels)) {
      // A job the ledger already closed stays closed: applyJobEvent never moves back.
      if ((await readJob(doc, tableName, remote.id))?.status === 'completed') continue;
      const transition = await recordJobEvent(doc, tableName, missedQueuedEvent(remote, pool, clock.now()));
      if (transition.changed) summary.addedJobs.push(remote.id);
    }

    const [group, runners] = await Promise.all([scalingGroup.describe(), github.listRunners()]);
    for (const runner of staleRegistrations(runners, group, poolLabels)) {
      if ((await github.deleteRunner(runner.id)) === 'deleted') summary.removedRegistrations.push(runner.name);
    }
    for (const { instanceId, decrement } of unregisteredToTerminate(group, runners, clock.now(), settings.bootTimeoutSeconds)) {
      await scalingGroup.terminateInstance(instanceId, decrement);
      summary.terminatedUnregistered.push(instanceId);
    }

    // Before recordReconcile: the check covers the time since the previous reconcile.
    await checkBootHealth(deps, open);
    await recordReconcile(doc, tableName, pool, clock.now());
    const bounded = boundSummary(summary);
    metrics?.addMetric('ReconcileClosedJobs', 'Count', bounded.counts.closedJobs);
    metrics?.addMetric('ReconcileAddedJobs', 'Count', bounded.counts.addedJobs);
    metrics?.addMetric('ReconcileTerminated', 'Count', bounded.counts.terminatedUnregistered);
    metrics?.addMetric('ReconcileSearchPartial', 'Count', summary.discovery.complete ? 0 : 1);
    metrics?.addMetric('ReconcileRepositoriesNotScanned', 'Count', summary.discovery.repositoriesNotScanned);
    metrics?.addMetric('ReconcileRedelivered', 'Count', summary.discovery.redelivered);
    logger.info('reconciled', { ...bounded });
    return bounded;
  });
}
