import '../lib/polyfills';
import '../local/esm-interop';
import { createGitHubPort, type GitHubPortOptions } from '../lib/adapters/github';
import { recordJobEvent } from '../lib/ledger';
import { DEFAULT_SETTINGS } from '../lib/settings';
import { writeSettings } from '../lib/settings-store';
import type { AutoScalerDeps } from '../AutoScaler/src/deps';
import { reconcile } from '../AutoScaler/src/reconcile';
import type { ReconcileSummary } from '../AutoScaler/src/state';
import { SimGitHub } from '../local/sim-github';
import { SimulatedLatency } from '../local/sim-latency';
import { FakeFleet, RecordingLogger, RecordingMetrics } from '../test/autoscaler/support/fakes';
import { startDynalite } from '../test/support/dynalite';
import { machineInfo, round, type MachineInfo } from './support';

/**
 * The reconcile at organisation scale (issue 13, "GitHub at organisation scale"): the real
 * Reconcile step and the real GitHub adapter (Octokit over HTTP) against the simulated GitHub
 * with a per-request latency, dynalite as the table, an in-process fleet.
 *
 * Time is simulated (local/sim-latency.ts): every GitHub request takes latencyMs of it, concurrent
 * requests overlap, local work takes none, and the adapter's budgets, its backoff sleeps and the
 * reconcile's clock all read it. So a 45 s budget at 300 ms a request is tested in a few seconds of
 * wall time, and the figures do not depend on the machine's speed. DynamoDB time is not counted
 * (dynalite here; single-digit milliseconds a call in AWS). Figures are simulated time unless named wall.
 *
 * The organisation: `repositories` repositories; the first `activeRepositories` have one run each
 * with `jobsPerRepository` queued jobs; of those, `scheduledRepositories` were last pushed months ago
 * (scheduled workflows: only the ledger knows them) and the rest in the last hours; `quietRepositories`
 * more were pushed in the last hours without any run; all others months ago. The ledger holds the
 * first job of `ledgerRepositories` active repositories (their `queued` webhook arrived) and those
 * of the scheduled ones; every other job's webhook was lost.
 */
export interface OrgScaleOptions {
  repositories: number;
  activeRepositories: number;
  jobsPerRepository: number;
  scheduledRepositories: number;
  quietRepositories: number;
  ledgerRepositories: number;
  latencyMs: number;
  /** Passed to the adapter (budgets, concurrency); the adapter's defaults otherwise. */
  port?: Partial<GitHubPortOptions>;
  /** The retry settings of AutoScaler/src/real-deps/github.ts (the Reconcile Lambda's). */
  retry?: GitHubPortOptions['retry'];
}

export const ORG_SCALE_DEFAULTS: OrgScaleOptions = {
  repositories: 1000,
  activeRepositories: 100,
  jobsPerRepository: 2,
  scheduledRepositories: 20,
  quietRepositories: 70,
  ledgerRepositories: 40,
  latencyMs: 300,
};

export interface OrgScaleResult {
  repositories: number;
  activeRepositories: number;
  queuedJobs: number;
  latencyMs: number;
  /** The whole Reconcile step, simulated time. */
  reconcileMs: number;
  wallMs: number;
  /** REST requests the simulated GitHub served during the reconcile (retries included). */
  githubCalls: number;
  byRoute: Record<string, number>;
  queuedFound: number;
  addedJobs: number;
  outcome: 'succeeded' | 'failed';
  error: string | null;
  summary: ReconcileSummary | null;
  /** Repository names of the ledger's jobs and of every queued job, for assertions. */
  queuedJobIds: number[];
  machine: MachineInfo;
}

const LABELS = ['self-hosted', 'linux', 'x64'];
/** AutoScaler/template.yaml ReconcileFunction Timeout (test/autoscaler/reconcile-budget.test.ts reads it from there). */
export const RECONCILE_LAMBDA_TIMEOUT_SECONDS = 110;
const HOUR = 3600_000;

export async function runOrgScaleReconcile(overrides: Partial<OrgScaleOptions> = {}): Promise<OrgScaleResult & { stale: boolean; stuckTerminated: boolean }> {
  const o = { ...ORG_SCALE_DEFAULTS, ...overrides };
  const clock = new SimulatedLatency(Date.parse('2026-11-23T12:00:00Z'), 0);
  const names = Array.from({ length: o.repositories }, (_, i) => `repo-${String(i).padStart(4, '0')}`);
  const github = new SimGitHub({ org: 'big-org', repos: names, clock, latency: clock });
  const dynamo = await startDynalite();
  const baseUrl = await github.start();
  try {
    const tableName = await dynamo.createTable();
    await writeSettings(dynamo.doc, tableName, 'default', { ...DEFAULT_SETTINGS, bootTimeoutSeconds: 600 }, 0, 'bench', clock.now());

    // Pushed: active (not scheduled) and quiet repositories in the last hours, the rest months ago.
    const active = names.slice(0, o.activeRepositories);
    const scheduled = new Set(active.slice(active.length - o.scheduledRepositories));
    const quiet = names.slice(o.activeRepositories, o.activeRepositories + o.quietRepositories);
    names.forEach((name, i) => github.setPushedAt(name, new Date(clock.now() - 90 * 24 * HOUR - i * 60_000).toISOString()));
    [...active.filter((name) => !scheduled.has(name)), ...quiet].forEach((name, i) => github.setPushedAt(name, new Date(clock.now() - (i + 1) * 60_000).toISOString()));

    const known = new Set([...active.slice(0, o.ledgerRepositories), ...scheduled]);
    const queuedJobIds: number[] = [];
    for (const name of active) {
      const jobs = github.queueJobs({ labels: LABELS, durationSeconds: 60, count: o.jobsPerRepository, repository: `big-org/${name}` });
      queuedJobIds.push(...jobs.map((job) => job.id));
      if (known.has(name)) {
        const job = jobs[0];
        await recordJobEvent(dynamo.doc, tableName, { pool: 'default', jobId: job.id, action: 'queued', repository: job.repository, labels: LABELS, runId: job.runId, at: clock.now(), source: 'webhook' });
      }
    }

    const port = createGitHubPort({
      scope: { kind: 'org', org: 'big-org' },
      auth: { type: 'pat', token: 'ghp_bench' },
      baseUrl,
      retry: {
        ...(o.retry ?? { maxAttempts: 3, maxRateLimitWaitMs: 5_000, requestTimeoutMs: 8_000, callBudgetMs: 20_000 }),
        now: () => clock.now(),
        sleep: async (ms) => clock.advance(ms),
      },
      ...o.port,
    });

    // The fleet: one floor instance with its runner registered (not connected: it would take a job), one
    // instance that never registered, and a registration whose instance is gone.
    const fleet = new FakeFleet(clock, 1, 50);
    fleet.desired = 2;
    fleet.converge();
    const [floor, stuck] = [...fleet.instances.values()];
    floor.lifecycleState = 'InService';
    stuck.lifecycleState = 'InService';
    stuck.launchTime = new Date(clock.now() - HOUR).toISOString();
    await port.generateJitConfig({ name: floor.instanceId, labels: LABELS, runnerGroupId: 1 });
    await port.generateJitConfig({ name: 'i-0000000000000dead', labels: LABELS, runnerGroupId: 1 });

    const metrics = new RecordingMetrics();
    const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github: port, clock, logger: new RecordingLogger(), metrics };
    clock.latencyMs = o.latencyMs;
    const before = new Map(github.requestCounts);
    const callsBefore = github.totalRequests;
    const started = clock.now();
    const wallReconcile = Date.now();
    let summary: ReconcileSummary | null = null;
    let error: string | null = null;
    try {
      summary = await reconcile(deps);
    } catch (caught) {
      error = `${(caught as Error).name}: ${(caught as Error).message}`;
    }
    const reconcileMs = clock.now() - started;
    const wallMs = Date.now() - wallReconcile;
    clock.latencyMs = 0;
    const byRoute: Record<string, number> = {};
    for (const [route, count] of github.requestCounts) if (count - (before.get(route) ?? 0) > 0) byRoute[route] = count - (before.get(route) ?? 0);
    return {
      repositories: o.repositories,
      activeRepositories: o.activeRepositories,
      queuedJobs: queuedJobIds.length,
      latencyMs: o.latencyMs,
      reconcileMs: Math.round(reconcileMs),
      wallMs: Math.round(wallMs),
      githubCalls: github.totalRequests - callsBefore,
      byRoute,
      queuedFound: summary?.discovery?.queuedFound ?? 0,
      addedJobs: summary?.counts?.addedJobs ?? 0,
      outcome: error ? 'failed' : 'succeeded',
      error,
      summary,
      queuedJobIds,
      stale: !github.runnerByName('i-0000000000000dead'),
      stuckTerminated: fleet.terminations.some((t) => t.instanceId === stuck.instanceId),
      machine: machineInfo(),
    };
  } finally {
    await github.stop();
    await dynamo.stop();
  }
}

/** `npm run bench`'s figures: the 1,000-repository case, with the adapter's default budgets. */
export interface OrgScaleBench {
  measuredAt: string;
  case: string;
  latencyMs: number;
  reconcileSeconds: number;
  searchSeconds: number;
  wallSeconds: number;
  githubCalls: number;
  queuedJobs: number;
  queuedFound: number;
  addedJobs: number;
  complete: boolean;
  outcome: string;
  budget: { seconds: number; calls: number; concurrency: number };
  lambdaTimeoutSeconds: number;
}

export async function benchOrgScale(): Promise<OrgScaleBench> {
  const { DEFAULT_SCAN } = await import('../lib/adapters/github');
  const r = await runOrgScaleReconcile();
  return {
    measuredAt: new Date().toISOString(),
    case:
      `${r.repositories} repositories, ${r.queuedJobs} queued jobs in ${r.activeRepositories} of them; the ledger holds one job of ${ORG_SCALE_DEFAULTS.ledgerRepositories + ORG_SCALE_DEFAULTS.scheduledRepositories} of those, ` +
      `${ORG_SCALE_DEFAULTS.scheduledRepositories} were last pushed months ago (scheduled workflows); GitHub's latency in simulated time, local work (dynalite included) not counted`,
    latencyMs: r.latencyMs,
    reconcileSeconds: round(r.reconcileMs / 1000, 1),
    searchSeconds: round((r.summary?.discovery?.elapsedMs ?? 0) / 1000, 1),
    wallSeconds: round(r.wallMs / 1000, 1),
    githubCalls: r.githubCalls,
    queuedJobs: r.queuedJobs,
    queuedFound: r.queuedFound,
    addedJobs: r.addedJobs,
    complete: r.summary?.discovery?.complete ?? false,
    outcome: r.outcome,
    budget: { seconds: DEFAULT_SCAN.timeBudgetMs / 1000, calls: DEFAULT_SCAN.callBudget, concurrency: DEFAULT_SCAN.concurrency },
    lambdaTimeoutSeconds: RECONCILE_LAMBDA_TIMEOUT_SECONDS,
  };
}
