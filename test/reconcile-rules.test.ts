import { jobsToRecheck, MAX_UNSCANNED_RECHECKS, missedQueuedJobs, recheckPlan, repairFromRemote, staleRegistrations, unregisteredToTerminate } from '../lib/reconcile-rules';
import type { GitHubJob, GroupInstance, GroupState, RunnerRegistration } from '../lib/ports';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const LABELS = ['self-hosted', 'linux', 'x64'];
const remote = (id: number, status: string, extra: Partial<GitHubJob> = {}): GitHubJob => ({ id, runId: id, repository: 'acme/app', status, conclusion: null, labels: LABELS, runnerName: null, createdAt: null, ...extra });
const open = (jobId: number, status: 'queued' | 'in_progress') => ({ jobId, pool: 'default', status, repository: 'acme/app', labels: LABELS, runId: jobId });
const instance = (id: string, ageSeconds: number): GroupInstance => ({ instanceId: id, lifecycleState: 'InService', market: 'spot', launchTime: new Date(NOW - ageSeconds * 1000).toISOString(), protectedFromScaleIn: true });
const runner = (id: number, name: string, status: 'online' | 'offline', labels = LABELS): RunnerRegistration => ({ id, name, status, busy: false, labels });

describe('reconcile rules', () => {
  it('re-checks only the open jobs GitHub no longer lists as queued', () => {
    const jobs = [open(1, 'queued'), open(2, 'queued'), open(3, 'in_progress')];
    expect(jobsToRecheck(jobs, [remote(1, 'queued'), remote(3, 'queued')]).map((j) => j.jobId)).toEqual([2, 3]);
  });

  it('after a partial search: a job of an unread repository is re-read (GitHub answers for it), never taken as gone; beyond the cap it waits', () => {
    const inRepo = (jobId: number, repository: string, status: 'queued' | 'in_progress' = 'queued') => ({ ...open(jobId, status), repository });
    const jobs = [inRepo(1, 'acme/read'), inRepo(2, 'acme/read'), inRepo(3, 'acme/unread'), inRepo(4, 'acme/unread', 'in_progress')];
    const view = { jobs: [remote(1, 'queued')], complete: false, scannedRepositories: ['acme/read'] };
    expect(recheckPlan(jobs, view)).toEqual({ recheck: [jobs[1], jobs[2], jobs[3]], deferred: [] });
    // A search that read nothing, and a big queue: a bounded number of single-job reads, oldest first; none closed unread.
    const many = Array.from({ length: MAX_UNSCANNED_RECHECKS + 50 }, (_, i) => inRepo(i + 1, `acme/r${i}`));
    const plan = recheckPlan(many, { jobs: [], complete: false, scannedRepositories: [] });
    expect(plan.recheck.map((j) => j.jobId)).toEqual(many.slice(0, MAX_UNSCANNED_RECHECKS).map((j) => j.jobId));
    expect(plan.deferred).toHaveLength(50);
    // A complete search: the rule as before.
    expect(recheckPlan(jobs, { ...view, complete: true }).recheck).toEqual(jobsToRecheck(jobs, view.jobs));
  });

  it('turns GitHub\'s view of a job into the event to record, or none', () => {
    expect(repairFromRemote(open(1, 'queued'), null, NOW)).toMatchObject({ action: 'completed', conclusion: 'vanished', source: 'reconcile' });
    expect(repairFromRemote(open(1, 'in_progress'), remote(1, 'completed', { conclusion: 'cancelled' }), NOW)).toMatchObject({ action: 'completed', conclusion: 'cancelled' });
    expect(repairFromRemote(open(1, 'queued'), remote(1, 'in_progress', { runnerName: 'i-0abc' }), NOW)).toMatchObject({ action: 'in_progress', runnerName: 'i-0abc' });
    // A job that ran and finished while both its webhooks were lost: the runner that took it is kept (the boot-failure check).
    expect(repairFromRemote(open(1, 'queued'), remote(1, 'completed', { conclusion: 'success', runnerName: 'i-0def' }), NOW)).toMatchObject({ action: 'completed', runnerName: 'i-0def' });
    expect(repairFromRemote(open(1, 'in_progress'), remote(1, 'in_progress'), NOW)).toBeNull();
    expect(repairFromRemote(open(1, 'queued'), remote(1, 'queued'), NOW)).toBeNull();
  });

  it('adds only queued jobs the ledger does not hold open and the pool can serve', () => {
    const queued = [remote(1, 'queued'), remote(2, 'queued'), remote(3, 'queued', { labels: ['self-hosted', 'gpu'] })];
    expect(missedQueuedJobs(queued, new Set([1]), LABELS).map((j) => j.id)).toEqual([2]);
  });

  it('removes only offline registrations of this pool whose instance is gone', () => {
    const group = { instances: [instance('i-00000000000000aaa', 60)] };
    const runners = [
      runner(1, 'i-00000000000000aaa', 'offline'), // instance still there (booting or between jobs)
      runner(2, 'i-00000000000000bbb', 'offline'), // gone: remove
      runner(3, 'i-00000000000000ccc', 'online'), // online: GitHub knows better
      runner(4, 'build-box', 'offline'), // not one of ours
      runner(5, 'i-00000000000000ddd', 'offline', ['self-hosted', 'linux', 'arm64']), // another pool
    ];
    expect(staleRegistrations(runners, group, LABELS).map((r) => r.id)).toEqual([2]);
  });

  it('terminates instances unregistered past the boot timeout, without decrement once at the floor', () => {
    const group: GroupState = { name: 'g', desired: 3, min: 2, max: 10, instances: [instance('i-00000000000000001', 900), instance('i-00000000000000002', 900), instance('i-00000000000000003', 30)] };
    expect(unregisteredToTerminate(group, [], NOW, 600)).toEqual([
      { instanceId: 'i-00000000000000001', decrement: true },
      { instanceId: 'i-00000000000000002', decrement: false },
    ]);
  });
});
