import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sign } from '@octokit/webhooks-methods';
import { normalizeLabels, runnerCanTakeJob } from '../lib/labels';
import type { Clock } from '../lib/ports';

/**
 * A small stand-in for github.com: the REST subset the autoscaler uses
 * (runners, JIT configs, jobs, queued runs, hook deliveries), reached by the
 * real Octokit client through `baseUrl`, plus the behaviour that matters for
 * scaling: GitHub hands each queued job to an idle online runner whose labels
 * cover the job's, ephemeral runners take one job and are removed, and every
 * job transition is sent as a signed `workflow_job` webhook, as github.com does.
 */
export interface SimJob {
  id: number;
  runId: number;
  repository: string;
  labels: string[];
  durationMs: number;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion: string | null;
  runnerId: number | null;
  runnerName: string | null;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  name: string;
}

export interface SimRunner {
  id: number;
  name: string;
  labels: string[];
  /** Registered through a JIT config but the runner process has not connected yet. */
  status: 'online' | 'offline';
  busy: boolean;
  jobId: number | null;
  ephemeral: boolean;
}

export interface SimDelivery {
  id: number;
  guid: string;
  deliveredAt: string;
  redelivery: boolean;
  durationSeconds: number;
  status: string;
  statusCode: number;
  event: 'workflow_job';
  action: string;
  installationId: number;
  repositoryId: number;
  jobId: number;
  body: string;
}

export interface SimGitHubEvents {
  /** A runner finished its one job and its process exited (its instance should leave the group). */
  runnerExited?(runnerName: string): void;
  /** Every state change, for dashboards. */
  changed?(): void;
}

export interface SimGitHubOptions {
  /** The organization the simulated scope lives in. */
  org?: string;
  /** Repositories of that organization (names without the owner). */
  repos?: string[];
  /** Where webhooks go (settable later through setWebhook). */
  webhookUrl?: string;
  webhookSecret?: string;
  clock?: Clock;
  installationId?: number;
  hookId?: number;
  events?: SimGitHubEvents;
  /** Milliseconds every REST request waits before it is answered (github.com answers in 100-500 ms at organisation scale). */
  latencyMs?: number;
  /** Instead: latency in simulated time (local/sim-latency.ts), which then is also the clock to give the code under test. */
  latency?: { wait(): Promise<void> };
}

export interface QueueJobsRequest {
  labels: string[];
  durationSeconds: number;
  count?: number;
  repository?: string;
}

export interface RunnerTermination {
  runnerName: string;
  wasBusy: boolean;
  jobId: number | null;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const examples = require('@octokit/webhooks-examples') as Array<{ name: string; examples: Array<Record<string, any>> }>;
const workflowJobTemplate: Record<string, any> = (() => {
  const definition = examples.find((d) => d.name === 'workflow_job');
  const queued = definition?.examples.find((e) => e.action === 'queued' && e.installation);
  if (!queued) throw new Error('@octokit/webhooks-examples has no queued workflow_job example with an installation');
  return queued;
})();

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly extra: Record<string, unknown> = {}) {
    super(message);
  }
}

const MAX_BODY = 1024 * 1024;

export class SimGitHub {
  readonly org: string;
  readonly repos: string[];
  readonly installationId: number;
  readonly hookId: number;
  private server: Server | undefined;
  private baseUrl = '';
  private webhookUrl: string | undefined;
  private webhookSecret: string;
  private readonly clock: Clock;
  private readonly events: SimGitHubEvents;
  private readonly jobs = new Map<number, SimJob>();
  private readonly runners = new Map<number, SimRunner>();
  /** Runner names are unique in a scope (GitHub answers 409 otherwise): an index, so the dashboard's per-instance lookups stay O(1) at a thousand runners. */
  private readonly runnerIdsByName = new Map<string, number>();
  private readonly jitConfigs = new Map<string, number>();
  private readonly deliveries: SimDelivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pendingWebhooks = new Set<Promise<void>>();
  private nextJobId = 1000;
  private nextRunId = 500;
  private nextRunnerId = 1;
  private nextDeliveryId = 1;
  private readonly terminations: RunnerTermination[] = [];
  /** REST requests served, by "METHOD /path-template". */
  readonly requestCounts = new Map<string, number>();
  private stopped = false;
  /** Per-request latency in real milliseconds (settable while running). */
  latencyMs: number;
  /** Per-request latency in simulated time (settable while running; wins over latencyMs). */
  latency: { wait(): Promise<void> } | undefined;
  /** When each repository was last pushed (ISO); unset: now. `GET /orgs/{org}/repos?sort=pushed` sorts by it. */
  private readonly pushedAt = new Map<string, string>();

  constructor(options: SimGitHubOptions = {}) {
    this.org = options.org ?? 'local-org';
    this.repos = options.repos ?? ['app'];
    this.webhookUrl = options.webhookUrl;
    this.webhookSecret = options.webhookSecret ?? '';
    this.clock = options.clock ?? { now: () => Date.now() };
    this.installationId = options.installationId ?? 4242;
    this.hookId = options.hookId ?? 1;
    this.events = options.events ?? {};
    this.latencyMs = options.latencyMs ?? 0;
    this.latency = options.latency;
  }

  /** REST requests served so far, all routes. */
  get totalRequests(): number {
    let total = 0;
    for (const count of this.requestCounts.values()) total += count;
    return total;
  }

  setPushedAt(repo: string, iso: string): void {
    this.pushedAt.set(repo, iso);
  }

  async start(port = 0, host = '127.0.0.1'): Promise<string> {
    const server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const { port: bound } = server.address() as AddressInfo;
    this.baseUrl = `http://${host}:${bound}`;
    return this.baseUrl;
  }

  get url(): string {
    return this.baseUrl;
  }

  setWebhook(url: string, secret: string): void {
    this.webhookUrl = url;
    this.webhookSecret = secret;
  }

  setEvents(events: SimGitHubEvents): void {
    Object.assign(this.events, events);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.pendingWebhooks]);
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  // ---- simulation API (what GitHub's users and runner processes do) ----

  /** Queues jobs as a workflow run would; GitHub sends `queued` for each. */
  queueJobs(request: QueueJobsRequest): SimJob[] {
    const labels = normalizeLabels(request.labels);
    if (labels.length === 0) throw new Error('labels must hold at least one label');
    if (!(request.durationSeconds >= 0) || request.durationSeconds > 24 * 3600) throw new Error('durationSeconds must be between 0 and 86400');
    const count = request.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 500) throw new Error('count must be an integer between 1 and 500');
    const repository = request.repository ?? `${this.org}/${this.repos[0]}`;
    const runId = this.nextRunId++;
    const created: SimJob[] = [];
    for (let i = 0; i < count; i += 1) {
      const job: SimJob = {
        id: this.nextJobId++,
        runId,
        repository,
        labels,
        durationMs: Math.round(request.durationSeconds * 1000),
        status: 'queued',
        conclusion: null,
        runnerId: null,
        runnerName: null,
        createdAt: this.isoNow(),
        startedAt: null,
        completedAt: null,
        name: `build (${i + 1}/${count})`,
      };
      this.jobs.set(job.id, job);
      created.push(job);
      this.sendWebhook('queued', job);
    }
    this.dispatch();
    this.events.changed?.();
    return created;
  }

  /** A runner process started with its JIT config: it connects and goes online. */
  connectRunner(encodedJitConfig: string): SimRunner {
    const runnerId = this.jitConfigs.get(encodedJitConfig);
    const runner = runnerId === undefined ? undefined : this.runners.get(runnerId);
    if (!runner) throw new Error('unknown or already used JIT config');
    this.jitConfigs.delete(encodedJitConfig); // single use, like GitHub's
    runner.status = 'online';
    this.dispatch();
    this.events.changed?.();
    return runner;
  }

  /**
   * The machine under a runner went away (terminated, spot interruption).
   * A busy runner's job fails; GitHub keeps the registration offline.
   */
  machineGone(runnerName: string): void {
    const runner = this.runnerByName(runnerName);
    if (!runner) return;
    this.terminations.push({ runnerName, wasBusy: runner.busy, jobId: runner.jobId });
    if (runner.busy && runner.jobId !== null) {
      const job = this.jobs.get(runner.jobId);
      if (job && job.status === 'in_progress') this.finishJob(job, 'failure');
    }
    runner.status = 'offline';
    runner.busy = false;
    this.events.changed?.();
  }

  /** Machines that went away, and whether their runner was running a job at that moment. */
  get machineTerminations(): readonly RunnerTermination[] {
    return this.terminations;
  }

  listJobs(): SimJob[] {
    return [...this.jobs.values()];
  }

  listRunners(): SimRunner[] {
    return [...this.runners.values()];
  }

  runnerByName(name: string): SimRunner | undefined {
    const id = this.runnerIdsByName.get(name);
    return id === undefined ? undefined : this.runners.get(id);
  }

  private removeRunner(runner: SimRunner): void {
    this.runners.delete(runner.id);
    this.runnerIdsByName.delete(runner.name);
  }

  listDeliveries(): SimDelivery[] {
    return [...this.deliveries];
  }

  jobCounts(): { queued: number; inProgress: number; completed: number } {
    const counts = { queued: 0, inProgress: 0, completed: 0 };
    for (const job of this.jobs.values()) {
      if (job.status === 'queued') counts.queued += 1;
      else if (job.status === 'in_progress') counts.inProgress += 1;
      else counts.completed += 1;
    }
    return counts;
  }

  /** Waits until every webhook sent so far got its response. */
  async settled(): Promise<void> {
    while (this.pendingWebhooks.size > 0) await Promise.allSettled([...this.pendingWebhooks]);
  }

  // ---- GitHub's behaviour ----

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /** GitHub's routing: oldest queued job first, to any idle online runner whose labels cover the job's. */
  private dispatch(): void {
    if (this.stopped) return;
    for (const job of [...this.jobs.values()].sort((a, b) => a.id - b.id)) {
      if (job.status !== 'queued') continue;
      const runner = [...this.runners.values()].find(
        (r) => r.status === 'online' && !r.busy && r.jobId === null && runnerCanTakeJob(r.labels, job.labels),
      );
      if (!runner) continue;
      runner.busy = true;
      runner.jobId = job.id;
      job.status = 'in_progress';
      job.runnerId = runner.id;
      job.runnerName = runner.name;
      job.startedAt = this.isoNow();
      this.sendWebhook('in_progress', job);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (job.status === 'in_progress') this.finishJob(job, 'success');
      }, job.durationMs);
      this.timers.add(timer);
    }
  }

  private finishJob(job: SimJob, conclusion: 'success' | 'failure' | 'cancelled'): void {
    job.status = 'completed';
    job.conclusion = conclusion;
    job.completedAt = this.isoNow();
    this.sendWebhook('completed', job);
    const runner = job.runnerId === null ? undefined : this.runners.get(job.runnerId);
    if (runner && runner.jobId === job.id) {
      runner.busy = false;
      runner.jobId = null;
      if (runner.ephemeral && conclusion !== 'failure') {
        // An ephemeral runner takes one job; GitHub removes its registration and the process exits.
        this.removeRunner(runner);
        if (!this.stopped) this.events.runnerExited?.(runner.name);
      }
    }
    this.dispatch();
    this.events.changed?.();
  }

  private webhookPayload(action: 'queued' | 'in_progress' | 'completed', job: SimJob): Record<string, unknown> {
    const payload = structuredClone(workflowJobTemplate);
    const [owner, name] = job.repository.split('/');
    const repoId = 100000 + Math.max(0, this.repos.indexOf(name));
    payload.action = action;
    payload.installation = { ...payload.installation, id: this.installationId };
    payload.repository = {
      ...payload.repository,
      id: repoId,
      name,
      full_name: job.repository,
      html_url: `https://github.com/${job.repository}`,
      url: `${this.baseUrl}/repos/${job.repository}`,
      owner: { ...payload.repository.owner, login: owner, type: 'Organization' },
    };
    payload.organization = { login: owner, id: 38302899 };
    payload.sender = { ...payload.sender, login: 'octocat' };
    delete payload.deployment;
    payload.workflow_job = {
      ...payload.workflow_job,
      id: job.id,
      run_id: job.runId,
      run_attempt: 1,
      run_url: `${this.baseUrl}/repos/${job.repository}/actions/runs/${job.runId}`,
      url: `${this.baseUrl}/repos/${job.repository}/actions/jobs/${job.id}`,
      html_url: `https://github.com/${job.repository}/actions/runs/${job.runId}/job/${job.id}`,
      status: job.status,
      conclusion: job.conclusion,
      created_at: job.createdAt,
      started_at: job.startedAt ?? job.createdAt,
      completed_at: job.completedAt,
      name: job.name,
      labels: job.labels,
      runner_id: job.runnerId,
      runner_name: job.runnerName,
      runner_group_id: job.runnerId === null ? null : 1,
      runner_group_name: job.runnerId === null ? null : 'Default',
      workflow_name: 'CI',
      steps: [],
    };
    return payload;
  }

  private sendWebhook(action: 'queued' | 'in_progress' | 'completed', job: SimJob): void {
    if (this.stopped) return;
    const body = JSON.stringify(this.webhookPayload(action, job));
    const delivery: SimDelivery = {
      id: this.nextDeliveryId++,
      guid: randomUUID(),
      deliveredAt: this.isoNow(),
      redelivery: false,
      durationSeconds: 0,
      status: 'pending',
      statusCode: 0,
      event: 'workflow_job',
      action,
      installationId: this.installationId,
      repositoryId: 100000,
      jobId: job.id,
      body,
    };
    this.deliveries.push(delivery);
    this.deliver(delivery);
  }

  private deliver(delivery: SimDelivery): void {
    const url = this.webhookUrl;
    if (!url) {
      delivery.status = 'no webhook configured';
      return;
    }
    const started = Date.now();
    const attempt = (async () => {
      try {
        const signature = await sign(this.webhookSecret, delivery.body);
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'GitHub-Hookshot/sim',
            'x-github-event': delivery.event,
            'x-github-delivery': delivery.guid,
            'x-github-hook-id': String(this.hookId),
            'x-github-hook-installation-target-type': 'organization',
            'x-hub-signature-256': signature,
          },
          body: delivery.body,
          signal: AbortSignal.timeout(10000), // GitHub's 10 s limit
        });
        await response.arrayBuffer();
        delivery.statusCode = response.status;
        delivery.status = response.ok ? 'OK' : `HTTP ${response.status}`;
      } catch (error) {
        delivery.statusCode = 0;
        delivery.status = `failed: ${(error as Error).message}`;
      } finally {
        delivery.durationSeconds = (Date.now() - started) / 1000;
      }
    })();
    this.pendingWebhooks.add(attempt);
    void attempt.finally(() => this.pendingWebhooks.delete(attempt));
  }

  // ---- REST ----

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const body = await readJsonBody(request);
      if (this.latency) await this.latency.wait();
      else if (this.latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      const result = this.route(request.method ?? 'GET', url, body);
      if (result.status === 204) {
        response.writeHead(204).end();
        return;
      }
      response.writeHead(result.status, { 'content-type': 'application/json; charset=utf-8', ...result.headers }).end(JSON.stringify(result.body));
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      const extra = error instanceof HttpError ? error.extra : {};
      response
        .writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
        .end(JSON.stringify({ message: (error as Error).message, documentation_url: 'https://docs.github.com/rest', ...extra }));
    }
  }

  private count(key: string): void {
    this.requestCounts.set(key, (this.requestCounts.get(key) ?? 0) + 1);
  }

  private checkScope(owner: string, repo?: string): void {
    if (owner.toLowerCase() !== this.org.toLowerCase()) throw new HttpError(404, 'Not Found');
    if (repo !== undefined && !this.repos.some((r) => r.toLowerCase() === repo.toLowerCase())) throw new HttpError(404, 'Not Found');
  }

  private route(method: string, url: URL, body: unknown): { status: number; body?: unknown; headers?: Record<string, string> } {
    const path = url.pathname.replace(/\/+$/, '');
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30) || 30));
    const paginate = <T>(items: T[]) => items.slice((page - 1) * perPage, page * perPage);
    let m: RegExpExecArray | null;

    // Runners: /orgs/{org}/actions/runners... and /repos/{owner}/{repo}/actions/runners...
    if ((m = /^\/(?:orgs\/([^/]+)|repos\/([^/]+)\/([^/]+))\/actions\/runners(?:\/(generate-jitconfig|\d+))?$/.exec(path))) {
      const owner = m[1] ?? m[2];
      this.checkScope(owner, m[1] ? undefined : m[3]);
      const scope = m[1] ? 'orgs' : 'repos';
      const tail = m[4];
      if (!tail && method === 'GET') {
        this.count(`GET /${scope}/actions/runners`);
        const name = url.searchParams.get('name');
        const all = [...this.runners.values()].filter((r) => !name || r.name === name).sort((a, b) => a.id - b.id);
        return { status: 200, body: { total_count: all.length, runners: paginate(all).map((r) => this.runnerJson(r)) } };
      }
      if (tail === 'generate-jitconfig' && method === 'POST') {
        this.count(`POST /${scope}/actions/runners/generate-jitconfig`);
        return this.generateJitConfig(body);
      }
      if (tail && /^\d+$/.test(tail)) {
        const runner = this.runners.get(Number(tail));
        if (method === 'GET') {
          this.count(`GET /${scope}/actions/runners/{id}`);
          if (!runner) throw new HttpError(404, 'Not Found');
          return { status: 200, body: this.runnerJson(runner) };
        }
        if (method === 'DELETE') {
          this.count(`DELETE /${scope}/actions/runners/{id}`);
          if (!runner) throw new HttpError(404, 'Not Found');
          if (runner.busy) throw new HttpError(422, `Bad request - Runner "${runner.name}" is still running a job"`);
          this.removeRunner(runner);
          for (const [config, id] of this.jitConfigs) if (id === runner.id) this.jitConfigs.delete(config);
          this.events.changed?.();
          return { status: 204 };
        }
      }
      throw new HttpError(404, 'Not Found');
    }

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/jobs\/(\d+)$/.exec(path)) && method === 'GET') {
      this.checkScope(m[1], m[2]);
      this.count('GET /repos/actions/jobs/{id}');
      const job = this.jobs.get(Number(m[3]));
      if (!job || job.repository.toLowerCase() !== `${m[1]}/${m[2]}`.toLowerCase()) throw new HttpError(404, 'Not Found');
      return { status: 200, body: this.jobJson(job) };
    }

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs$/.exec(path)) && method === 'GET') {
      this.checkScope(m[1], m[2]);
      this.count('GET /repos/actions/runs');
      const repository = `${m[1]}/${m[2]}`.toLowerCase();
      const wanted = url.searchParams.get('status');
      const runs = this.runs().filter((run) => run.repository.toLowerCase() === repository && (!wanted || run.status === wanted));
      return { status: 200, body: { total_count: runs.length, workflow_runs: paginate(runs).map((run) => this.runJson(run)) } };
    }

    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/(?:attempts\/\d+\/)?jobs$/.exec(path)) && method === 'GET') {
      this.checkScope(m[1], m[2]);
      this.count('GET /repos/actions/runs/{id}/jobs');
      const runId = Number(m[3]);
      const wanted = url.searchParams.get('filter');
      void wanted;
      const jobs = [...this.jobs.values()].filter((job) => job.runId === runId).sort((a, b) => a.id - b.id);
      if (jobs.length === 0) throw new HttpError(404, 'Not Found');
      return { status: 200, body: { total_count: jobs.length, jobs: paginate(jobs).map((job) => this.jobJson(job)) } };
    }

    if ((m = /^\/orgs\/([^/]+)\/repos$/.exec(path)) && method === 'GET') {
      this.checkScope(m[1]);
      this.count('GET /orgs/repos');
      const all = this.repos.map((name, i) => this.repoJson(name, i));
      if (url.searchParams.get('sort') === 'pushed') {
        const sign = url.searchParams.get('direction') === 'asc' ? 1 : -1;
        all.sort((a, b) => sign * String(a.pushed_at).localeCompare(String(b.pushed_at)));
      }
      return { status: 200, body: paginate(all) };
    }
    if (path === '/installation/repositories' && method === 'GET') {
      this.count('GET /installation/repositories');
      return { status: 200, body: { total_count: this.repos.length, repositories: paginate(this.repos.map((name, i) => this.repoJson(name, i))) } };
    }

    // Hook deliveries: /orgs/{org}/hooks/{id}/deliveries, /repos/{o}/{r}/hooks/{id}/deliveries, /app/hook/deliveries
    if ((m = /^\/(?:orgs\/([^/]+)\/hooks\/(\d+)|repos\/([^/]+)\/([^/]+)\/hooks\/(\d+)|app\/hook)\/deliveries(?:\/(\d+)(\/attempts)?)?$/.exec(path))) {
      if (m[1]) this.checkScope(m[1]);
      if (m[3]) this.checkScope(m[3], m[4]);
      const hookId = m[2] ?? m[5];
      if (hookId !== undefined && Number(hookId) !== this.hookId) throw new HttpError(404, 'Not Found');
      const deliveryId = m[6] ? Number(m[6]) : undefined;
      if (deliveryId === undefined && method === 'GET') {
        this.count('GET /hooks/deliveries');
        // Newest first, cursor pagination like GitHub's.
        const sorted = [...this.deliveries].reverse();
        const cursor = url.searchParams.get('cursor');
        const start = cursor ? Math.max(0, sorted.findIndex((d) => d.id === Number(cursor))) : 0;
        const next = sorted[start + perPage];
        // GitHub pages deliveries with a cursor in the Link header.
        const headers: Record<string, string> = next ? { link: `<${this.baseUrl}${path}?per_page=${perPage}&cursor=${next.id}>; rel="next"` } : {};
        return { status: 200, body: sorted.slice(start, start + perPage).map((d) => this.deliveryJson(d)), headers };
      }
      const delivery = this.deliveries.find((d) => d.id === deliveryId);
      if (!delivery) throw new HttpError(404, 'Not Found');
      if (!m[7] && method === 'GET') {
        this.count('GET /hooks/deliveries/{id}');
        return { status: 200, body: { ...this.deliveryJson(delivery), request: { headers: {}, payload: JSON.parse(delivery.body) } } };
      }
      if (m[7] && method === 'POST') {
        this.count('POST /hooks/deliveries/{id}/attempts');
        const again: SimDelivery = { ...delivery, id: this.nextDeliveryId++, redelivery: true, deliveredAt: this.isoNow(), status: 'pending', statusCode: 0 };
        this.deliveries.push(again);
        this.deliver(again);
        return { status: 202, body: {} };
      }
      throw new HttpError(404, 'Not Found');
    }

    throw new HttpError(404, `Not Found (the simulated GitHub does not serve ${method} ${path})`);
  }

  private generateJitConfig(body: unknown): { status: number; body: unknown } {
    const request = (body ?? {}) as { name?: unknown; runner_group_id?: unknown; labels?: unknown; work_folder?: unknown };
    if (typeof request.name !== 'string' || request.name.length === 0) throw new HttpError(422, 'Invalid request: name is required');
    if (typeof request.runner_group_id !== 'number') throw new HttpError(422, 'Invalid request: runner_group_id is required');
    if (!Array.isArray(request.labels) || request.labels.length === 0 || !request.labels.every((l) => typeof l === 'string')) {
      throw new HttpError(422, 'Invalid request: labels must be a non-empty array of strings');
    }
    if (this.runnerIdsByName.has(request.name)) {
      throw new HttpError(409, `Already exists - A runner with the name ${request.name} already exists.`);
    }
    const runner: SimRunner = {
      id: this.nextRunnerId++,
      name: request.name,
      labels: normalizeLabels(request.labels as string[]),
      status: 'offline',
      busy: false,
      jobId: null,
      ephemeral: true,
    };
    this.runners.set(runner.id, runner);
    this.runnerIdsByName.set(runner.name, runner.id);
    const encoded = Buffer.from(JSON.stringify({ '.runner': randomUUID(), '.credentials': randomUUID(), name: runner.name })).toString('base64');
    this.jitConfigs.set(encoded, runner.id);
    this.events.changed?.();
    return { status: 201, body: { runner: this.runnerJson(runner), encoded_jit_config: encoded } };
  }

  private runs(): Array<{ id: number; repository: string; status: string; createdAt: string }> {
    const byRun = new Map<number, SimJob[]>();
    for (const job of this.jobs.values()) byRun.set(job.runId, [...(byRun.get(job.runId) ?? []), job]);
    return [...byRun.entries()]
      .sort(([a], [b]) => b - a)
      .map(([id, jobs]) => ({
        id,
        repository: jobs[0].repository,
        createdAt: jobs[0].createdAt,
        // GitHub: a run is in_progress as soon as one of its jobs started, although others may still wait.
        status: jobs.every((j) => j.status === 'completed') ? 'completed' : jobs.every((j) => j.status === 'queued') ? 'queued' : 'in_progress',
      }));
  }

  private runnerJson(runner: SimRunner): Record<string, unknown> {
    return {
      id: runner.id,
      name: runner.name,
      os: 'Linux',
      status: runner.status,
      busy: runner.busy,
      ephemeral: runner.ephemeral,
      runner_group_id: 1,
      labels: runner.labels.map((name, i) => ({ id: i + 1, name, type: name === 'self-hosted' ? 'read-only' : 'custom' })),
    };
  }

  private jobJson(job: SimJob): Record<string, unknown> {
    return {
      id: job.id,
      run_id: job.runId,
      run_url: `${this.baseUrl}/repos/${job.repository}/actions/runs/${job.runId}`,
      run_attempt: 1,
      node_id: `SIMJOB${job.id}`,
      head_sha: '3484a3fb816e0859fd6e1cea078d76385ff50625',
      url: `${this.baseUrl}/repos/${job.repository}/actions/jobs/${job.id}`,
      html_url: `https://github.com/${job.repository}/actions/runs/${job.runId}/job/${job.id}`,
      status: job.status,
      conclusion: job.conclusion,
      created_at: job.createdAt,
      started_at: job.startedAt ?? job.createdAt,
      completed_at: job.completedAt,
      name: job.name,
      steps: [],
      labels: job.labels,
      runner_id: job.runnerId,
      runner_name: job.runnerName,
      runner_group_id: job.runnerId === null ? null : 1,
      runner_group_name: job.runnerId === null ? null : 'Default',
      workflow_name: 'CI',
      head_branch: 'main',
    };
  }

  private runJson(run: { id: number; repository: string; status: string; createdAt: string }): Record<string, unknown> {
    const [owner, name] = run.repository.split('/');
    return {
      id: run.id,
      name: 'CI',
      status: run.status,
      conclusion: null,
      run_attempt: 1,
      created_at: run.createdAt,
      updated_at: run.createdAt,
      jobs_url: `${this.baseUrl}/repos/${run.repository}/actions/runs/${run.id}/jobs`,
      repository: { name, full_name: run.repository, owner: { login: owner } },
    };
  }

  private repoJson(name: string, index: number): Record<string, unknown> {
    return { id: 100000 + index, name, full_name: `${this.org}/${name}`, owner: { login: this.org, type: 'Organization' }, private: true, archived: false, pushed_at: this.pushedAt.get(name) ?? this.isoNow() };
  }

  private deliveryJson(d: SimDelivery): Record<string, unknown> {
    return {
      id: d.id,
      guid: d.guid,
      delivered_at: d.deliveredAt,
      redelivery: d.redelivery,
      duration: d.durationSeconds,
      status: d.status,
      status_code: d.statusCode,
      event: d.event,
      action: d.action,
      installation_id: d.installationId,
      repository_id: d.repositoryId,
    };
  }
}

async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'Payload too large');
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'Problems parsing JSON');
  }
}
