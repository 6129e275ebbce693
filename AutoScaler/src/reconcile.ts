import { recordReconcile } from '../../lib/activity';
import { runnerCanTakeJob } from '../../lib/labels';
import { closeJob, listOpenJobs, readJob, recordJobEvent } from '../../lib/ledger';
import { classifyFleet } from '../../lib/policy';
import { readSettings } from '../../lib/settings-store';
import type { AutoScalerDeps } from './deps';
import { classifyErrors } from './errors';
import type { ReconcileSummary } from './state';

const INSTANCE_NAME = /^i-[0-9a-f]{8,17}$/;
/** GitHub allows 100 concurrent requests per installation; a handful keeps a big re-check inside the Lambda's timeout. */
const RECHECK_CONCURRENCY = 8;

async function forEachWithConcurrency<T>(items: readonly T[], concurrency: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await run(items[next++]);
    }),
  );
}

/**
 * The schedule's repair pass, so a lost webhook costs at most one period:
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
    const summary: ReconcileSummary = { openJobs: 0, closedJobs: [], startedJobs: [], addedJobs: [], removedRegistrations: [], terminatedUnregistered: [] };

    const open = await listOpenJobs(doc, tableName, pool);
    summary.openJobs = open.length;
    // GitHub's queued list first: a ledger job GitHub still lists as queued needs no call of its own, so
    // during a big queue the reconcile costs a few list calls, not one call per waiting job.
    const queuedAtGitHub = await github.listQueuedJobs();
    const stillQueued = new Set(queuedAtGitHub.map((remote) => remote.id));
    const toRecheck = open.filter((job) => !(job.status === 'queued' && stillQueued.has(job.jobId)));
    await forEachWithConcurrency(toRecheck, RECHECK_CONCURRENCY, async (job) => {
      const now = clock.now();
      const remote = await github.getJob(job.repository, job.jobId);
      if (!remote) {
        await closeJob(doc, tableName, job, 'vanished', now);
        summary.closedJobs.push(job.jobId);
      } else if (remote.status === 'completed') {
        await closeJob(doc, tableName, job, remote.conclusion ?? 'completed', now);
        summary.closedJobs.push(job.jobId);
      } else if (remote.status === 'in_progress' && job.status === 'queued') {
        await recordJobEvent(doc, tableName, {
          pool,
          jobId: job.jobId,
          action: 'in_progress',
          repository: job.repository,
          labels: job.labels,
          runId: job.runId,
          runnerName: remote.runnerName,
          at: now,
          source: 'reconcile',
        });
        summary.startedJobs.push(job.jobId);
      }
    });
    // Concurrent re-checks finish in any order; the summary lists job ids in order.
    summary.closedJobs.sort((a, b) => a - b);
    summary.startedJobs.sort((a, b) => a - b);

    const known = new Set(open.map((job) => job.jobId));
    for (const remote of queuedAtGitHub) {
      if (known.has(remote.id) || !runnerCanTakeJob(settings.labels, remote.labels)) continue;
      // A job the ledger already closed stays closed: applyJobEvent never moves back.
      if ((await readJob(doc, tableName, remote.id))?.status === 'completed') continue;
      const transition = await recordJobEvent(doc, tableName, {
        pool,
        jobId: remote.id,
        action: 'queued',
        repository: remote.repository,
        labels: remote.labels,
        runId: remote.runId,
        createdAt: remote.createdAt,
        at: clock.now(),
        source: 'reconcile',
      });
      if (transition.changed) summary.addedJobs.push(remote.id);
    }

    const [group, runners] = await Promise.all([scalingGroup.describe(), github.listRunners()]);
    const instanceIds = new Set(group.instances.map((i) => i.instanceId));
    for (const runner of runners) {
      const ours = INSTANCE_NAME.test(runner.name) && settings.labels.every((label) => runner.labels.some((l) => l.toLowerCase() === label));
      if (!ours || runner.status !== 'offline' || instanceIds.has(runner.name)) continue;
      if ((await github.deleteRunner(runner.id)) === 'deleted') summary.removedRegistrations.push(runner.name);
    }

    const fleet = classifyFleet(group.instances, runners, clock.now(), settings.bootTimeoutSeconds);
    let size = group.desired;
    for (const member of fleet) {
      if (member.state !== 'unregistered') continue;
      // With decrement, Auto Scaling refuses to go below MinSize: replace instead, which a broken instance needs anyway.
      const decrement = size > group.min;
      await scalingGroup.terminateInstance(member.instanceId, decrement);
      if (decrement) size -= 1;
      summary.terminatedUnregistered.push(member.instanceId);
    }

    await recordReconcile(doc, tableName, pool, clock.now());
    metrics?.addMetric('ReconcileClosedJobs', 'Count', summary.closedJobs.length);
    metrics?.addMetric('ReconcileAddedJobs', 'Count', summary.addedJobs.length);
    metrics?.addMetric('ReconcileTerminated', 'Count', summary.terminatedUnregistered.length);
    logger.info('reconciled', { ...summary, closedJobs: summary.closedJobs.length, addedJobs: summary.addedJobs.length });
    return summary;
  });
}
