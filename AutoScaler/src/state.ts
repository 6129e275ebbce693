import type { Decision, Observation } from '../../lib/policy';
import type { Settings } from '../../lib/settings';

/**
 * The state machine's payload, as it grows from state to state
 * (statemachine/autoscaler.asl.json). Every field a later Parameters block
 * reads is always present (null when not applicable), because a JSONPath that
 * points at nothing fails the execution.
 */
export type Trigger = 'workflow_job' | 'reconcile';

export interface JobSummary {
  jobId: number;
  action: string;
  /** What the ledger did with the event (e.g. "queued -> in_progress", "completed after completed: no-op"). */
  ledger: string;
}

export interface RunState {
  executionId: string;
  trigger: Trigger;
  /** Duplicate delivery or labels this pool does not serve: the execution ends here. */
  skip: boolean;
  skipReason: string | null;
  job: JobSummary | null;
  reconcile: ReconcileSummary | null;
  /** How many times Observe ran again after a stale claim (at most once). */
  attempt: number;
  settings?: LoadedSettings;
  observation?: Observation;
  decision?: Decision;
  applied?: ApplyResult;
}

export interface LoadedSettings {
  values: Settings;
  problems: string[];
  version: number;
}

/** The summary's lists, by count (complete; the lists themselves may be cut, see boundSummary). */
export interface ReconcileCounts {
  closedJobs: number;
  startedJobs: number;
  addedJobs: number;
  removedRegistrations: number;
  terminatedUnregistered: number;
}

/** How far one reconcile's search for missed jobs got (AutoScaler/src/reconcile-discovery.ts). */
export interface DiscoverySummary {
  /** Every candidate repository was read; false: the search stopped early (stoppedBy) or repositories failed. */
  complete: boolean;
  stoppedBy: 'time' | 'calls' | 'rate_limit' | null;
  repositoriesScanned: number;
  repositoriesNotScanned: number;
  failures: number;
  firstFailure: string | null;
  queuedFound: number;
  /** Queued ledger jobs of unread repositories left for the next period (lib/reconcile-rules.ts recheckPlan). */
  deferredRechecks: number;
  githubCalls: number;
  elapsedMs: number;
  redelivered: number;
  redeliveryDeferred: number;
  redeliveryHook: 'app' | 'org' | 'repo' | 'none';
  /** GitHub's refusal of the deliveries listing or a redelivery (a missing permission, say), reported every period. */
  redeliveryError: string | null;
}

export interface ReconcileSummary {
  openJobs: number;
  discovery?: DiscoverySummary;
  counts?: ReconcileCounts;
  closedJobs: number[];
  startedJobs: number[];
  addedJobs: number[];
  removedRegistrations: string[];
  terminatedUnregistered: string[];
}

export interface ApplyResult {
  action: 'scale_out' | 'scale_in' | 'none';
  applied: boolean;
  /** The activity version moved since Observe: another execution acted on a newer view. */
  stale: boolean;
  /** Refused, but the claim that won asks for at least this target (coveredByNewerScaleOut): nothing left to apply. */
  covered?: boolean;
  desired?: number;
  terminated?: string[];
  skipped?: Array<{ instanceId: string; reason: string }>;
  version?: number;
}
