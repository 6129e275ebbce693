import { readActivity } from '../../lib/activity';
import { assessBootHealth, bootHealthWindowStart } from '../../lib/boot-health';
import { bootHealthRecord, writeBootHealth, type BootHealthRecord } from '../../lib/boot-health-store';
import type { JobRecord } from '../../lib/ledger';
import { runnersThatTookJobs } from '../../lib/runner-jobs';
import type { AutoScalerDeps } from './deps';

/** The metric (and alarm, AutoScaler/template.yaml) of instances that left without running a job while jobs waited. */
export const BOOT_FAILURE_METRIC = 'InstancesLeftWithoutJob';

/**
 * The reconcile's boot-failure check (the decision is lib/boot-health.ts):
 * the group's departures since the previous reconcile, which of them ever
 * took a job, and whether jobs waited when they left. One
 * DescribeScalingActivities page (or a few), one BatchGetItem per 100
 * departures, one UpdateItem. It only observes: when it cannot read what it
 * needs it says so and the reconcile goes on.
 */
export async function checkBootHealth(deps: AutoScalerDeps, open: readonly JobRecord[]): Promise<BootHealthRecord | null> {
  const { doc, tableName, pool, clock, logger, metrics, scalingActivities } = deps;
  if (!scalingActivities) return null;
  const now = clock.now();
  try {
    const activity = await readActivity(doc, tableName, pool);
    const since = bootHealthWindowStart(activity.lastReconcileAt, now);
    const departures = await scalingActivities.departuresSince(since);
    const tookJob = await runnersThatTookJobs(doc, tableName, departures.map((d) => d.instanceId));
    const scaleInVictims = new Set(activity.decisions.flatMap((d) => d.victims ?? []));
    const waits = open.map((job) => ({ queuedAt: Date.parse(job.queuedAt), startedAt: job.startedAt ? Date.parse(job.startedAt) : null }));
    const health = assessBootHealth({ departures, tookJob, scaleInVictims, waits });
    const record = bootHealthRecord(health, departures.length, since, now);
    await writeBootHealth(doc, tableName, pool, record);
    metrics?.addMetric(BOOT_FAILURE_METRIC, 'Count', health.leftWhileJobsWaited.length);
    if (health.crashLoop) {
      logger.error('instances leave without running a job while jobs wait: the runners fail to start (see the boot log group of the Runners stack)', { ...record });
    }
    return record;
  } catch (error) {
    logger.warn('boot-health check skipped', { error: (error as Error).message ?? String(error) });
    return null;
  }
}
