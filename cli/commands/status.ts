import type { RunnerRegistration } from '../../lib/ports';
import { bootHealthLine, gatherBootHealth, type BootHealthFact } from '../boot-health';
import { EXIT, type CliContext } from '../context';
import { formatDuration, table, type Output } from '../output';
import {
  describeGroup,
  githubAccess,
  groupName,
  listRunners,
  localGroup,
  readActivity,
  readOpenJobs,
  toMillis,
  type ActivityView,
  type DecisionRecord,
  type GroupView,
  type OpenJob,
} from '../sources';

/**
 * `status`: why is a job waiting? Everything an operator needs on one screen.
 * Each source is read independently; one that cannot be read is reported
 * with the reason and the rest is still shown.
 */
export type Sourced<T> = { ok: true; value: T; source: string } | { ok: false; error: string };

export interface RunnerCounts {
  idle: number;
  busy: number;
  offline: number;
  /** Local mode: instances whose runner has not registered yet. */
  booting?: number;
  total: number;
}

export interface StatusReport {
  time: string;
  pool: string;
  table?: string;
  group: Sourced<{ name: string; desired: number; min: number; max: number; byMarket: Record<string, number>; byLifecycle: Record<string, number>; instances: number }>;
  runners: Sourced<RunnerCounts>;
  openJobs: Sourced<OpenJob[]>;
  activity: Sourced<ActivityView | null>;
  decisions: DecisionRecord[];
  secondsSinceReconcile?: number;
  /** The reconcile's last boot-failure check. */
  bootHealth?: Sourced<BootHealthFact>;
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** Pure: runner counts from GitHub's registrations. */
export function countRunners(runners: RunnerRegistration[]): RunnerCounts {
  let idle = 0;
  let busy = 0;
  let offline = 0;
  for (const r of runners) {
    if (r.busy) busy += 1;
    else if (r.status === 'online') idle += 1;
    else offline += 1;
  }
  return { idle, busy, offline, total: runners.length };
}

async function sourced<T>(source: string, work: () => Promise<T>): Promise<Sourced<T>> {
  try {
    return { ok: true, value: await work(), source };
  } catch (error) {
    return { ok: false, error: (error as Error).message ?? String(error) };
  }
}

export async function gatherStatus(ctx: CliContext, options: { group?: string; githubScope?: string; decisions?: number }, now = Date.now()): Promise<StatusReport> {
  const useLocal = Boolean(ctx.options.local);
  let tableName: string | undefined;
  const table = await sourced('table', async () => (tableName = await ctx.tableName()));

  const groupView: Sourced<GroupView> = await sourced(useLocal && !options.group ? `local mode ${ctx.options.local}` : 'Auto Scaling', async () =>
    useLocal && !options.group ? localGroup(ctx) : describeGroup(ctx, await groupName(ctx, options.group)),
  );
  const group: StatusReport['group'] = groupView.ok
    ? {
        ok: true,
        source: groupView.source,
        value: {
          name: groupView.value.name,
          desired: groupView.value.desired,
          min: groupView.value.min,
          max: groupView.value.max,
          byMarket: countBy(groupView.value.instances, (i) => i.market),
          byLifecycle: countBy(groupView.value.instances, (i) => i.lifecycleState),
          instances: groupView.value.instances.length,
        },
      }
    : groupView;

  let runners: Sourced<RunnerCounts>;
  const access = await githubAccess(ctx, options.githubScope).catch((error: Error) => ({ skipped: error.message }));
  if (!('skipped' in access)) {
    runners = await sourced(`GitHub via ${access.from}`, async () => countRunners(await listRunners(access)));
  } else if (useLocal && groupView.ok) {
    const statuses = groupView.value.instances.map((i) => i.runnerStatus ?? 'unknown');
    const n = (s: string) => statuses.filter((x) => x === s).length;
    runners = { ok: true, source: `local mode ${ctx.options.local}`, value: { idle: n('idle'), busy: n('busy'), offline: n('offline'), booting: n('booting'), total: statuses.length } };
  } else {
    runners = { ok: false, error: `skipped: ${access.skipped}` };
  }

  const openJobs: Sourced<OpenJob[]> = table.ok
    ? await sourced('job ledger', async () => readOpenJobs(await ctx.doc(), tableName!, ctx.pool, now))
    : { ok: false, error: table.error };
  const activity: Sourced<ActivityView | null> = table.ok
    ? await sourced('activity item', async () => readActivity(await ctx.doc(), tableName!, ctx.pool))
    : { ok: false, error: table.error };

  const bootHealth: Sourced<BootHealthFact> = table.ok
    ? await sourced('activity item', async () => gatherBootHealth(ctx, useLocal ? undefined : ((await ctx.stackOutputs(ctx.stacks.runners).catch(() => null)) ?? undefined)))
    : { ok: false, error: table.error };
  const limit = options.decisions ?? 5;
  let decisions: DecisionRecord[] = activity.ok && activity.value ? activity.value.decisions : [];
  let reconcileAt = activity.ok && activity.value?.lastReconcileAt ? toMillis(activity.value.lastReconcileAt) : undefined;
  if (decisions.length === 0 && useLocal) {
    const state = await ctx.localState().catch(() => undefined);
    decisions = (state?.decisions ?? []).map((d) => ({ time: d.time, trigger: d.trigger, action: d.action, current: d.current, target: d.target, reason: d.reason, ...(d.error ? { error: d.error } : {}) }));
  }
  if (reconcileAt === undefined) {
    // Schedule-triggered executions are the reconcile.
    const scheduled = decisions.find((d) => /schedule|reconcile/i.test(d.trigger ?? ''));
    reconcileAt = scheduled?.time ? toMillis(scheduled.time) : undefined;
  }
  return {
    time: new Date(now).toISOString(),
    pool: ctx.pool,
    ...(tableName ? { table: tableName } : {}),
    group,
    runners,
    openJobs,
    activity,
    decisions: decisions.slice(0, limit),
    bootHealth,
    ...(reconcileAt !== undefined ? { secondsSinceReconcile: Math.max(0, (now - reconcileAt) / 1000) } : {}),
  };
}

function pairs(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return entries.length ? entries.map(([k, v]) => `${k} ${v}`).join(', ') : 'none';
}

/** Pure: the report as lines of text. */
export function renderStatus(report: StatusReport, out: Pick<Output, 'colors'>, now = Date.parse(report.time)): string[] {
  const c = out.colors;
  const lines: string[] = [];
  const unavailable = (what: string, error: string) => lines.push(`${what.padEnd(11)} ${c.yellow(`unavailable: ${error}`)}`);
  lines.push(c.bold(`Pool "${report.pool}"${report.table ? ` (table ${report.table})` : ''} at ${report.time}`));
  if (report.group.ok) {
    const g = report.group.value;
    lines.push(`${'Group'.padEnd(11)} ${g.name}: desired ${g.desired}, min ${g.min}, max ${g.max}  ${c.dim(`(${report.group.source})`)}`);
    lines.push(`${'Instances'.padEnd(11)} ${g.instances} — by market: ${pairs(g.byMarket)}; by lifecycle: ${pairs(g.byLifecycle)}`);
  } else unavailable('Group', report.group.error);
  if (report.runners.ok) {
    const r = report.runners.value;
    const booting = r.booting !== undefined ? `, booting ${r.booting}` : '';
    lines.push(`${'Runners'.padEnd(11)} idle ${r.idle}, busy ${r.busy}, offline ${r.offline}${booting}  ${c.dim(`(${report.runners.source})`)}`);
  } else unavailable('Runners', report.runners.error);
  if (report.openJobs.ok) {
    const jobs = [...report.openJobs.value].sort((a, b) => (b.ageSeconds ?? 0) - (a.ageSeconds ?? 0));
    const queued = jobs.filter((j) => j.status === 'queued').length;
    lines.push(`${'Open jobs'.padEnd(11)} ${jobs.length} (queued ${queued}, in progress ${jobs.length - queued})`);
    const shown = jobs.slice(0, 10);
    if (shown.length) {
      for (const line of table([
        ['  JOB', 'STATUS', 'AGE', 'REPOSITORY', 'LABELS'],
        ...shown.map((j) => [`  ${j.jobId}`, j.status, j.ageSeconds !== undefined ? formatDuration(j.ageSeconds) : '?', j.repository ?? '', j.labels.join(',')]),
      ]))
        lines.push(line);
      if (jobs.length > shown.length) lines.push(c.dim(`  ... ${jobs.length - shown.length} more`));
    }
  } else unavailable('Open jobs', report.openJobs.error);
  if (!report.activity.ok) unavailable('Activity', report.activity.error);
  else if (report.activity.value) {
    const a = report.activity.value;
    const ago = (iso?: string) => (iso ? `${formatDuration((now - Date.parse(iso)) / 1000)} ago` : 'never');
    lines.push(`${'Activity'.padEnd(11)} version ${a.version}; last scale-out ${ago(a.lastScaleOutAt)}, last scale-in ${ago(a.lastScaleInAt)}`);
    if (a.lastFailure) lines.push(`${'Failure'.padEnd(11)} ${c.red(`last failed execution ${ago(a.lastFailure.at)}: ${a.lastFailure.error}`)}`);
  }
  if (report.bootHealth) lines.push(bootHealthLine(report.bootHealth, out, now));
  lines.push(
    `${'Reconcile'.padEnd(11)} ${report.secondsSinceReconcile !== undefined ? `last ${formatDuration(report.secondsSinceReconcile)} ago` : c.yellow('no reconcile recorded yet')}`,
  );
  if (report.decisions.length) {
    lines.push('Last decisions:');
    for (const line of table(
      report.decisions.map((d) => [
        `  ${d.time ?? '?'}`,
        d.trigger ?? '',
        d.action,
        d.current !== undefined && d.current !== null && d.target !== undefined && d.target !== null ? `${d.current} -> ${d.target}` : '',
        d.error ? `error: ${d.error}` : (d.reason ?? ''),
      ]),
    ))
      lines.push(line);
  } else lines.push(`${'Decisions'.padEnd(11)} none recorded yet`);
  return lines;
}

export async function statusCommand(ctx: CliContext, out: Output, options: { group?: string; githubScope?: string; decisions?: number }): Promise<number> {
  const report = await out.spin('reading group, runners, ledger and activity', () => gatherStatus(ctx, options));
  if (ctx.options.json) out.line(JSON.stringify(report, null, 2));
  else for (const line of renderStatus(report, out)) out.line(line);
  // Status is informational; it fails only when nothing at all could be read.
  const anything = report.group.ok || report.runners.ok || report.openJobs.ok || report.activity.ok;
  return anything ? EXIT.ok : EXIT.unreachable;
}
