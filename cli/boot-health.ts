import { readBootHealth, type BootHealthRecord } from '../lib/boot-health-store';
import type { CheckResult, Fact } from './checks';
import type { CliContext } from './context';
import { formatDuration, type Output } from './output';

/**
 * The reconcile's boot-failure check (lib/boot-health.ts), as `status` shows
 * it and `doctor` judges it. The log group where each instance reports how
 * its boot ended belongs to the Runners stack: its output BootLogGroupName,
 * else the name that stack gives it.
 */
export interface BootHealthFact {
  record: BootHealthRecord | null;
  logGroup: string;
}

export const BOOT_HEALTH_CHECK = 'runner boot';

/** Pure: the boot log group, from the Runners stack's outputs when known. */
export function bootLogGroupName(runnersStackName: string, runnersOutputs?: Record<string, string>): string {
  return runnersOutputs?.BootLogGroupName || `/runner-autoscaler/${runnersStackName}/boot`;
}

export async function gatherBootHealth(ctx: CliContext, runnersOutputs?: Record<string, string>): Promise<BootHealthFact> {
  const record = await readBootHealth(await ctx.doc(), await ctx.tableName(), ctx.pool);
  return { record, logGroup: bootLogGroupName(ctx.stacks.runners, runnersOutputs) };
}

function describe(record: BootHealthRecord): string {
  const ids = record.instanceIds.length ? ` (${record.instanceIds.slice(0, 5).join(', ')}${record.leftWhileJobsWaited > 5 ? ', ...' : ''})` : '';
  return `${record.leftWhileJobsWaited} of ${record.departures} instances that left the group since ${record.since} left without running a job while jobs waited${ids}`;
}

/** Pure: FAIL for a crash loop, naming the log group; no result when the fact was not gathered. */
export function checkBootHealth(facts: { bootHealth?: Fact<BootHealthFact> }): CheckResult[] {
  const fact = facts.bootHealth;
  if (!fact) return [];
  if ('skipped' in fact) return [{ check: BOOT_HEALTH_CHECK, status: 'WARN', message: `skipped: ${fact.skipped}` }];
  if (!fact.ok) return [{ check: BOOT_HEALTH_CHECK, status: 'WARN', message: `could not read the reconcile's boot check: ${fact.error}` }];
  const { record, logGroup } = fact.value;
  if (!record) return [{ check: BOOT_HEALTH_CHECK, status: 'WARN', message: 'no reconcile has checked the runners\' boots yet', fix: 'wait one reconcile period (ReconcileMinutes), then run doctor again' }];
  if (record.crashLoop) {
    return [
      {
        check: BOOT_HEALTH_CHECK,
        status: 'FAIL',
        message: `the runners fail to start: ${describe(record)} (checked ${record.at})`,
        fix: `read how their boot ended in the CloudWatch Logs group ${logGroup} (aws logs tail ${logGroup} --since 1h), fix the image or bootstrap, and watch the next reconcile`,
      },
    ];
  }
  return [{ check: BOOT_HEALTH_CHECK, status: 'PASS', message: `no crash loop at the last reconcile (${record.at}): ${describe(record)}` }];
}

/** Pure: the `status` line. */
export function bootHealthLine(fact: { ok: true; value: BootHealthFact } | { ok: false; error: string }, out: Pick<Output, 'colors'>, now: number): string {
  const c = out.colors;
  const label = 'Boots'.padEnd(11);
  if (!fact.ok) return `${label} ${c.yellow(`unavailable: ${fact.error}`)}`;
  const { record, logGroup } = fact.value;
  if (!record) return `${label} ${c.dim('not checked yet (the reconcile checks every period)')}`;
  const ago = `${formatDuration((now - Date.parse(record.at)) / 1000)} ago`;
  if (record.crashLoop) return `${label} ${c.red(`CRASH LOOP: ${describe(record)}; see ${logGroup}`)}  ${c.dim(`(reconcile ${ago})`)}`;
  return `${label} ${record.leftWhileJobsWaited} left without a job while jobs waited, ${record.leftWithoutJob} without a job in all, of ${record.departures} that left  ${c.dim(`(reconcile ${ago})`)}`;
}
