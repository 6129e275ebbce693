import { runnerCanTakeJob } from './labels';
import type { JobEvent, JobRecord } from './ledger';
import { classifyFleet } from './policy';
import type { GitHubJob, GroupState, RunnerRegistration } from './ports';

/**
 * The reconcile's decisions, as pure functions of what it read; the Reconcile
 * Lambda (AutoScaler/src/reconcile.ts) and the simulator both apply them.
 */
const INSTANCE_NAME = /^i-[0-9a-f]{8,17}$/;

/** Open ledger jobs worth a GetJob: a job GitHub still lists as queued has nothing to repair. */
export function jobsToRecheck<T extends Pick<JobRecord, 'jobId' | 'status'>>(open: readonly T[], queuedAtGitHub: readonly Pick<GitHubJob, 'id'>[]): T[] {
  const stillQueued = new Set(queuedAtGitHub.map((remote) => remote.id));
  return open.filter((job) => !(job.status === 'queued' && stillQueued.has(job.jobId)));
}

/** Queued ledger jobs of repositories the search did not read that one period re-reads, at most (oldest first). */
export const MAX_UNSCANNED_RECHECKS = 100;

/** What a (possibly partial) search for queued jobs saw: its jobs, and the repositories it read completely. */
export interface QueuedView {
  jobs: readonly Pick<GitHubJob, 'id'>[];
  complete: boolean;
  scannedRepositories: readonly string[];
}

/**
 * The re-checks of one period, given a search that may have stopped early. Only
 * GitHub's own answer for a job (GetJob) closes or starts it: a job that is not
 * listed because its repository was not read is re-read, never taken as gone.
 * A job listed as queued needs nothing. Queued jobs of unread repositories are
 * re-read up to MAX_UNSCANNED_RECHECKS (oldest first: `open` is oldest first);
 * the rest wait for the next period (`deferred`), so a search cut short by a slow
 * GitHub does not turn into thousands of single-job calls.
 */
export function recheckPlan<T extends Pick<JobRecord, 'jobId' | 'status' | 'repository'>>(open: readonly T[], view: QueuedView): { recheck: T[]; deferred: T[] } {
  const candidates = jobsToRecheck(open, view.jobs);
  if (view.complete) return { recheck: candidates, deferred: [] };
  const scanned = new Set(view.scannedRepositories.map((name) => name.toLowerCase()));
  const recheck: T[] = [];
  const deferred: T[] = [];
  let unscanned = 0;
  for (const job of candidates) {
    if (job.status !== 'queued' || scanned.has(job.repository.toLowerCase())) recheck.push(job);
    else if (unscanned++ < MAX_UNSCANNED_RECHECKS) recheck.push(job);
    else deferred.push(job);
  }
  return { recheck, deferred };
}

type Recheckable = Pick<JobRecord, 'jobId' | 'pool' | 'status' | 'repository' | 'labels' | 'runId'>;

/** What GitHub's view of one open job says to record: closed (finished, cancelled, vanished), started, or nothing. */
export function repairFromRemote(job: Recheckable, remote: GitHubJob | null, at: number): JobEvent | null {
  const base = { pool: job.pool, jobId: job.jobId, repository: job.repository, labels: job.labels, runId: job.runId, at, source: 'reconcile' };
  if (!remote) return { ...base, action: 'completed', conclusion: 'vanished', completedAt: new Date(at).toISOString() };
  if (remote.status === 'completed') return { ...base, action: 'completed', conclusion: remote.conclusion ?? 'completed', completedAt: new Date(at).toISOString(), runnerName: remote.runnerName };
  if (remote.status === 'in_progress' && job.status === 'queued') return { ...base, action: 'in_progress', runnerName: remote.runnerName };
  return null;
}

/** Queued jobs GitHub has for this pool's labels that the ledger does not hold open (their queued webhook was lost). */
export function missedQueuedJobs(queuedAtGitHub: readonly GitHubJob[], openJobIds: ReadonlySet<number>, poolLabels: readonly string[]): GitHubJob[] {
  return queuedAtGitHub.filter((remote) => !openJobIds.has(remote.id) && runnerCanTakeJob(poolLabels, remote.labels));
}

export function missedQueuedEvent(remote: GitHubJob, pool: string, at: number): JobEvent {
  return { pool, jobId: remote.id, action: 'queued', repository: remote.repository, labels: remote.labels, runId: remote.runId, createdAt: remote.createdAt, at, source: 'reconcile' };
}

/** Offline registrations of this pool (named after an instance, carrying the pool's labels) whose instance is gone. */
export function staleRegistrations(runners: readonly RunnerRegistration[], group: Pick<GroupState, 'instances'>, poolLabels: readonly string[]): RunnerRegistration[] {
  const instanceIds = new Set(group.instances.map((i) => i.instanceId));
  return runners.filter((runner) => {
    const ours = INSTANCE_NAME.test(runner.name) && poolLabels.every((label) => runner.labels.some((l) => l.toLowerCase() === label));
    return ours && runner.status === 'offline' && !instanceIds.has(runner.name);
  });
}

/**
 * Instances that never registered within the boot timeout, each with whether
 * to decrement: Auto Scaling refuses a decrement below MinSize, so at the
 * floor the broken instance is replaced instead (which it needs anyway).
 */
export function unregisteredToTerminate(
  group: GroupState,
  runners: readonly RunnerRegistration[],
  now: number,
  bootTimeoutSeconds: number,
): Array<{ instanceId: string; decrement: boolean }> {
  let size = group.desired;
  return classifyFleet(group.instances, runners, now, bootTimeoutSeconds)
    .filter((member) => member.state === 'unregistered')
    .map((member) => {
      const decrement = size > group.min;
      if (decrement) size -= 1;
      return { instanceId: member.instanceId, decrement };
    });
}
