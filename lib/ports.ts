/**
 * Small interfaces for every outside system. Lambdas get the AWS/GitHub
 * implementations (lib/adapters); local mode and the simulator swap in their
 * own, and nothing else changes.
 */
export type Market = 'spot' | 'on-demand';

export interface GroupInstance {
  instanceId: string;
  /** Auto Scaling lifecycle state: Pending, Pending:Wait, InService, Terminating, ... */
  lifecycleState: string;
  market: Market;
  /** ISO 8601 launch time. */
  launchTime: string;
  protectedFromScaleIn: boolean;
  instanceType?: string;
}

export interface GroupState {
  name: string;
  desired: number;
  min: number;
  max: number;
  instances: GroupInstance[];
}

export interface DescribeOptions {
  /**
   * false: skip what Auto Scaling does not say itself (market and launch time
   * come from EC2 in AWS); every instance then reads as on-demand, launched
   * now. Only for an observation that lists no
   * runners: every instance is booting there and neither field is looked at.
   * Default true.
   */
  instanceDetails?: boolean;
}

export interface ScalingGroupPort {
  describe(options?: DescribeOptions): Promise<GroupState>;
  /** The group with every instance's market and launch time filled in (a group described with details is returned as it is). */
  withInstanceDetails(group: GroupState): Promise<GroupState>;
  setDesiredCapacity(desired: number): Promise<void>;
  /** Terminates one chosen instance; with `decrement` the desired capacity drops by one. */
  terminateInstance(instanceId: string, decrement: boolean): Promise<void>;
}

export interface RunnerRegistration {
  id: number;
  /** Runners are named after their instance id. */
  name: string;
  status: 'online' | 'offline';
  busy: boolean;
  labels: string[];
}

export interface GitHubJob {
  id: number;
  runId: number;
  repository: string;
  status: 'queued' | 'waiting' | 'in_progress' | 'completed' | string;
  conclusion: string | null;
  labels: string[];
  runnerName: string | null;
  createdAt: string | null;
}

/** deleted: GitHub removed the registration; busy: GitHub refused (runner is running a job); not_found: already gone. */
export type DeleteRunnerOutcome = 'deleted' | 'busy' | 'not_found';

export interface JitConfigRequest {
  name: string;
  labels: string[];
  runnerGroupId: number;
  workFolder?: string;
}

/** What the reconcile knows that narrows the search for queued jobs. */
export interface QueuedJobHints {
  /** Repositories (owner/name) to scan first: those the ledger holds open jobs of. */
  repositories?: readonly string[];
}

/**
 * One bounded search for queued jobs (lib/adapters/github-queued-jobs.ts). Only
 * `scannedRepositories` were read completely: a job of any other repository
 * that is not listed may still be queued.
 */
export interface QueuedJobScan {
  jobs: GitHubJob[];
  /** Every candidate repository was read completely and none is left in the look-back. */
  complete: boolean;
  scannedRepositories: string[];
  candidateRepositories: number;
  unscannedRepositories: number;
  /** GitHub errors after retries (the first few), reported, never swallowed. */
  failures: Array<{ repository: string; status: number | null; message: string }>;
  failureCount: number;
  /** Why the scan stopped early: its time budget, its call budget, or a rate limit; null when it did not. */
  stoppedBy: 'time' | 'calls' | 'rate_limit' | null;
  requests: number;
  elapsedMs: number;
}

/** What one pass over the webhook's recent deliveries did (lib/adapters/github-deliveries.ts). */
export interface RedeliveryReport {
  /** app: the GitHub App's webhook; org/repo: an organization or repository webhook; none: no hook to read. */
  hook: 'app' | 'org' | 'repo' | 'none';
  examined: number;
  /** Distinct failed workflow_job deliveries (by guid) with no later success. */
  failed: number;
  redelivered: number;
  /** Failed deliveries left for the next period (the cap was reached). */
  deferred: number;
  /** The listing ended before the window's start (page cap, time budget). */
  complete: boolean;
  requests: number;
  error?: string;
}

export interface GitHubPort {
  listRunners(): Promise<RunnerRegistration[]>;
  deleteRunner(runnerId: number): Promise<DeleteRunnerOutcome>;
  /** null when the job no longer exists (deleted run, inaccessible repository). */
  getJob(repository: string, jobId: number): Promise<GitHubJob | null>;
  /** Queued jobs GitHub knows of in the scope (used by the reconcile to find lost `queued` webhooks). */
  listQueuedJobs(): Promise<GitHubJob[]>;
  /** The bounded search behind listQueuedJobs, with what it covered; ports without it are taken as complete. */
  scanQueuedJobs?(hints?: QueuedJobHints): Promise<QueuedJobScan>;
  /** Redelivers failed `workflow_job` deliveries of the webhook since `sinceMs` (bounded); absent: nothing to do. */
  redeliverFailedDeliveries?(sinceMs: number): Promise<RedeliveryReport>;
  generateJitConfig(request: JitConfigRequest): Promise<{ runnerId: number; encodedJitConfig: string }>;
  /** Requests made so far (for metrics and the simulator's accounting). */
  readonly requestCount?: number;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Where runners register: an organization or one repository. Env form: `org:NAME` or `repo:OWNER/NAME`. */
export type GitHubScope = { kind: 'org'; org: string } | { kind: 'repo'; owner: string; repo: string };

export function parseGitHubScope(text: string): GitHubScope {
  const org = /^org:([A-Za-z0-9][A-Za-z0-9-]{0,38})$/.exec(text);
  if (org) return { kind: 'org', org: org[1] };
  const repo = /^repo:([A-Za-z0-9][A-Za-z0-9-]{0,38})\/([A-Za-z0-9._-]{1,100})$/.exec(text);
  if (repo) return { kind: 'repo', owner: repo[1], repo: repo[2] };
  throw new Error(`GitHub scope must be "org:NAME" or "repo:OWNER/NAME", got "${text}"`);
}

/**
 * GitHub credentials, stored as one JSON SecureString in SSM (never in env):
 * {"type":"pat","token":"..."} or {"type":"app","appId":1,"privateKey":"-----BEGIN...","installationId":2}.
 * Optional `hookId`: the organization (or repository) webhook whose failed deliveries the reconcile
 * redelivers; without it, App credentials use the App's own webhook and a PAT redelivers nothing.
 */
export type GitHubCredentials =
  | { type: 'pat'; token: string; hookId?: number }
  | { type: 'app'; appId: number; privateKey: string; installationId: number; hookId?: number };

/** The custom event bus, as the webhook function sees it. */
export interface BusEntry {
  source: string;
  detailType: string;
  detail: unknown;
}

export interface EventBusPort {
  /** Resolves with the number of entries the bus did NOT accept (0 = all delivered). */
  putEvents(entries: BusEntry[]): Promise<{ failedCount: number }>;
}

/** An instance that left the Auto Scaling group (a termination activity of the group). */
export interface InstanceDeparture {
  instanceId: string;
  /** Epoch milliseconds the termination started. */
  at: number;
  /** Auto Scaling's stated cause (or the simulated group's reason). */
  cause: string;
}

/** The group's scaling activities, as far as the reconcile reads them (DescribeScalingActivities in AWS). */
export interface ScalingActivitiesPort {
  /** Instances that left the group at or after `since` (epoch ms), newest first; at most a few hundred. */
  departuresSince(since: number): Promise<InstanceDeparture[]>;
}
