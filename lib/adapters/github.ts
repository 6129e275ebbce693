import { AsyncLocalStorage } from 'node:async_hooks';
import { createAppAuth } from '@octokit/auth-app';
import { Octokit as OctokitCore } from '@octokit/core';
import { paginateRest } from '@octokit/plugin-paginate-rest';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import type {
  DeleteRunnerOutcome,
  GitHubCredentials,
  GitHubJob,
  GitHubPort,
  GitHubScope,
  JitConfigRequest,
  QueuedJobHints,
  QueuedJobScan,
  RedeliveryReport,
  RunnerRegistration,
} from '../ports';
import { redeliverFailed, type RedeliveryOptions } from './github-deliveries';
import { scanQueuedJobs, toJob, type RawJob } from './github-queued-jobs';

/**
 * GitHubPort over Octokit (core + pagination): organization or repository scope, a PAT or a
 * GitHub App installation (token minted and cached by @octokit/auth-app).
 *
 * Every request goes through one wrapper that counts it and handles GitHub's
 * failure modes without ever spinning: 5xx and network errors are retried with
 * capped exponential backoff; an exhausted primary rate limit
 * (`x-ratelimit-remaining: 0`) waits until `x-ratelimit-reset` and a secondary
 * limit honours `retry-after`, but only within a wait budget: beyond it the
 * caller gets a RateLimitedError saying when the limit lifts, so a Lambda never
 * sleeps past its own timeout.
 */

export interface GitHubLogger {
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  debug?(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface GitHubRetryOptions {
  /** Attempts for one request on 5xx/network errors (first try included). */
  maxAttempts?: number;
  /** First backoff delay; doubles each attempt, with jitter. */
  baseDelayMs?: number;
  /** Cap on one backoff delay. */
  maxDelayMs?: number;
  /** Longest single wait for a rate limit to lift; a later reset throws RateLimitedError. */
  maxRateLimitWaitMs?: number;
  /** How many rate-limit waits one request may make. */
  maxRateLimitWaits?: number;
  /** Per-attempt timeout. */
  requestTimeoutMs?: number;
  /**
   * Total time one port call (all its pages, retries and waits) may take; past it the call fails with
   * the last error instead of sleeping again. Lambdas set it inside their own timeout, so a slow GitHub
   * surfaces as an error the state machine handles, never as a killed function.
   */
  callBudgetMs?: number;
  /** Injected in tests so waits take no real time. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

export interface GitHubPortOptions {
  scope: GitHubScope;
  /** Called again (with forceRefresh) after GitHub refused the credentials, and when they are older than credentialsMaxAgeMs. */
  auth: GitHubCredentials | ((options?: { forceRefresh?: boolean }) => Promise<GitHubCredentials>);
  /** Rotated credentials are picked up within this long even if GitHub never refuses the old ones (default 15 min). */
  credentialsMaxAgeMs?: number;
  /** API root; GitHub Enterprise Server (`https://HOST/api/v3`) or the local simulated GitHub. */
  baseUrl?: string;
  logger?: GitHubLogger;
  retry?: GitHubRetryOptions;
  /** Organization scope: repositories (names or owner/name) to search for queued jobs instead of all accessible ones. */
  repositories?: string[];
  /** Organization scope: at most this many of the hinted and listed repositories searched first (the pushed ones follow). */
  maxRepositories?: number;
  /** Bounds of one search for queued jobs (DEFAULT_SCAN). */
  queuedJobScan?: Partial<typeof DEFAULT_SCAN>;
  /** Bounds of one pass over the webhook's deliveries (DEFAULT_REDELIVERY). */
  redelivery?: Partial<typeof DEFAULT_REDELIVERY>;
  /** Per repository: at most this many workflow runs inspected for queued jobs. */
  maxRunsPerRepository?: number;
  /** Runs older than this are ignored by listQueuedJobs (GitHub cancels self-hosted jobs queued for 24-48 h). */
  queuedJobLookbackHours?: number;
}

/** GitHub's rate limit is exhausted until `retryAt`, later than the caller is willing to wait. */
export class RateLimitedError extends Error {
  constructor(
    readonly retryAt: Date,
    readonly kind: 'primary' | 'secondary',
  ) {
    super(`GitHub ${kind} rate limit exhausted; retry after ${retryAt.toISOString()}`);
    this.name = 'RateLimitedError';
  }
}

/** GitHub answered with an error the adapter does not translate (401, 403 without rate limit, 422 on POST, ...). */
export class GitHubApiError extends Error {
  constructor(
    readonly status: number,
    readonly route: string,
    detail: string,
  ) {
    super(`GitHub ${route} failed with ${status}: ${detail}`);
    this.name = 'GitHubApiError';
  }
}

const DEFAULT_RETRY = {
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRateLimitWaitMs: 20_000,
  maxRateLimitWaits: 2,
  requestTimeoutMs: 10_000,
} as const;

/**
 * One search for queued jobs, sized for the Reconcile Lambda (AutoScaler/template.yaml: Timeout 110 s;
 * test/autoscaler/reconcile-budget.test.ts checks the sum): 45 s of search, then up to 10 s of
 * redelivery, leaves 55 s for the ledger re-checks, the runner list and the clean-ups. 300 calls
 * (1,200 an hour at the 15-minute default period: under a tenth of the 12,500 an hour an installation
 * in a 1,000-repository organization gets, a quarter of the 5,000 a small one gets), 10 at a time
 * (GitHub's secondary limit is 100 concurrent requests).
 */
export const DEFAULT_SCAN = { timeBudgetMs: 45_000, callBudget: 300, concurrency: 10, maxRepositoryPages: 3 };
/** One pass over the webhook's deliveries: 10 pages of 100 and 25 redeliveries (POSTs cost 5 secondary-limit points each). */
export const DEFAULT_REDELIVERY = { timeBudgetMs: 10_000, maxPages: 10, maxRedeliveries: 25 };
/** Requests in flight when a budget ends are given this long to finish before they are aborted. */
const BUDGET_GRACE_MS = 2_000;

/**
 * @octokit/rest minus the generated `octokit.rest.*` methods (80 KB in every
 * Lambda bundle) and its request log: the port calls routes by name through
 * `request` and `paginate` only.
 */
const Octokit = OctokitCore.plugin(paginateRest);
type Octokit = InstanceType<typeof Octokit>;

/** Octokit's RequestError, structurally (the class lives in an ESM-only package). */
interface HttpError {
  status: number;
  message: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

function asHttpError(error: unknown): HttpError | undefined {
  if (error && typeof error === 'object' && typeof (error as { status?: unknown }).status === 'number') {
    return error as HttpError;
  }
  return undefined;
}

function header(error: HttpError, name: string): string | undefined {
  const value = error.response?.headers?.[name];
  return value === undefined ? undefined : String(value);
}

/** GitHub's one-line reason, without anything from our request (which may carry a JIT config or token). */
function reasonOf(error: HttpError): string {
  const data = error.response?.data as { message?: unknown } | undefined;
  return typeof data?.message === 'string' ? data.message.slice(0, 300) : `HTTP ${error.status}`;
}

/**
 * How long to wait before retrying a rate-limited request, or undefined when
 * the 403/429 is not a rate limit (a permission problem must not be retried).
 */
export function rateLimitWaitMs(error: HttpError, now: number): { waitMs: number; kind: 'primary' | 'secondary' } | undefined {
  if (error.status !== 403 && error.status !== 429) return undefined;
  const retryAfter = header(error, 'retry-after');
  if (retryAfter !== undefined && /^\d+$/.test(retryAfter)) {
    return { waitMs: Number(retryAfter) * 1000, kind: 'secondary' };
  }
  if (header(error, 'x-ratelimit-remaining') === '0') {
    const reset = Number(header(error, 'x-ratelimit-reset'));
    // One extra second: GitHub's reset is in whole seconds and clocks drift.
    const waitMs = Number.isFinite(reset) ? Math.max(1000, reset * 1000 - now + 1000) : 60_000;
    return { waitMs, kind: 'primary' };
  }
  // GitHub's guidance for a secondary limit without retry-after: wait at least a minute.
  if (error.status === 429 || /secondary rate limit/i.test(reasonOf(error))) {
    return { waitMs: 60_000, kind: 'secondary' };
  }
  return undefined;
}

/** Exponential backoff with full jitter on the upper half, capped. */
export function backoffMs(attempt: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const silentOctokitLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function splitRepository(repository: string): { owner: string; repo: string } {
  const match = /^([^/\s]+)\/([^/\s]+)$/.exec(repository);
  if (!match) throw new Error(`repository must be "owner/name", got "${repository}"`);
  return { owner: match[1], repo: match[2] };
}

type RawRunner = { id: number; name: string; status: string; busy: boolean; labels: Array<{ name: string }> };

function toRunner(raw: RawRunner): RunnerRegistration {
  return {
    id: raw.id,
    name: raw.name,
    status: raw.status === 'online' ? 'online' : 'offline',
    busy: Boolean(raw.busy),
    labels: (raw.labels ?? []).map((label) => label.name),
  };
}

export function createGitHubPort(options: GitHubPortOptions): GitHubPort & Required<Pick<GitHubPort, 'scanQueuedJobs' | 'redeliverFailedDeliveries'>> & { readonly requestCount: number } {
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const sleep = options.retry?.sleep ?? realSleep;
  const now = options.retry?.now ?? Date.now;
  const random = options.retry?.random ?? Math.random;
  const logger = options.logger;
  const scope = options.scope;
  let requestCount = 0;
  let lastCredentials: GitHubCredentials | undefined;

  /**
   * Once GitHub said the budget is exhausted until a time beyond what we wait
   * for, every request (any route: the limits are per installation or token)
   * fails fast until then instead of asking again: no request during the outage.
   */
  let heldUntil: { at: number; kind: 'primary' | 'secondary' } | undefined;

  const callDeadline = new AsyncLocalStorage<number>();
  /** Runs one port call with its deadline, so every request it makes (pages, the App token) shares one budget. */
  function budgeted<A extends unknown[], T>(call: (...args: A) => Promise<T>, budgetMs: () => number | undefined = () => retry.callBudgetMs): (...args: A) => Promise<T> {
    return (...args) => {
      const ms = budgetMs();
      return ms === undefined || callDeadline.getStore() !== undefined ? call(...args) : callDeadline.run(now() + ms, () => call(...args));
    };
  }
  const remainingMs = () => (callDeadline.getStore() ?? Infinity) - now();

  async function withRetries<T>(route: string, attemptOnce: (timeoutMs: number) => Promise<T>): Promise<T> {
    let attempt = 0;
    let rateLimitWaits = 0;
    for (;;) {
      if (heldUntil && now() < heldUntil.at) throw new RateLimitedError(new Date(heldUntil.at), heldUntil.kind);
      attempt += 1;
      requestCount += 1;
      try {
        return await attemptOnce(Math.max(1, Math.min(retry.requestTimeoutMs, remainingMs())));
      } catch (error) {
        const http = asHttpError(error);
        if (!http) throw error;
        const limited = rateLimitWaitMs(http, now());
        if (limited) {
          const retryAt = new Date(now() + limited.waitMs);
          if (limited.waitMs > remainingMs()) throw new RateLimitedError(retryAt, limited.kind);
          if (limited.waitMs > retry.maxRateLimitWaitMs || rateLimitWaits >= retry.maxRateLimitWaits) {
            logger?.warn('GitHub rate limit exhausted beyond the wait budget', { route, kind: limited.kind, retryAt: retryAt.toISOString() });
            heldUntil = { at: retryAt.getTime(), kind: limited.kind };
            throw new RateLimitedError(retryAt, limited.kind);
          }
          rateLimitWaits += 1;
          attempt -= 1; // a rate-limit wait is not a failed attempt
          logger?.warn('GitHub rate limited; waiting', { route, kind: limited.kind, waitMs: limited.waitMs });
          await sleep(limited.waitMs);
          continue;
        }
        if (http.status === 401) {
          // Revoked or rotated credentials: the next call builds a client from a fresh read of the parameter.
          refreshCredentials = true;
          octokitPromise = undefined;
          logger?.warn('GitHub refused the credentials; they are read again on the next call', { route });
          throw error;
        }
        if (http.status >= 500 && attempt < retry.maxAttempts) {
          const delay = backoffMs(attempt, retry.baseDelayMs, retry.maxDelayMs, random);
          if (delay < remainingMs()) {
            logger?.warn('GitHub server error; retrying', { route, status: http.status, attempt, delayMs: delay });
            await sleep(delay);
            continue;
          }
        }
        throw error;
      }
    }
  }

  let octokitPromise: Promise<Octokit> | undefined;
  let clientBuiltAt = 0;
  let refreshCredentials = false;
  const credentialsMaxAgeMs = options.credentialsMaxAgeMs ?? 15 * 60_000;
  function client(): Promise<Octokit> {
    if (octokitPromise && typeof options.auth === 'function' && now() - clientBuiltAt > credentialsMaxAgeMs) octokitPromise = undefined;
    octokitPromise ??= (async () => {
      clientBuiltAt = now();
      const forceRefresh = refreshCredentials;
      refreshCredentials = false;
      const credentials = typeof options.auth === 'function' ? await options.auth({ forceRefresh }) : options.auth;
      lastCredentials = credentials;
      const common = { baseUrl: options.baseUrl, log: silentOctokitLog, userAgent: 'runner-autoscaler' };
      const octokit =
        credentials.type === 'app'
          ? new Octokit({
              ...common,
              authStrategy: createAppAuth,
              auth: { appId: credentials.appId, privateKey: credentials.privateKey, installationId: credentials.installationId },
            })
          : new Octokit({ ...common, auth: credentials.token });
      // Registered after the auth hook, so this wrapper is the outermost: every
      // HTTP request (the installation-token request included) is counted and retried here.
      octokit.hook.wrap('request', (request, requestOptions) =>
        withRetries(`${requestOptions.method} ${requestOptions.url}`, async (timeoutMs) => {
          // Mutated in place: inner hooks (auth) hold this same options object and
          // would never see a copy. A fresh timeout for every attempt.
          requestOptions.request = { ...requestOptions.request, signal: AbortSignal.timeout(timeoutMs) };
          return request(requestOptions);
        }),
      );
      return octokit;
    })().catch((error) => {
      octokitPromise = undefined; // credentials may load on the next call
      throw error;
    });
    return octokitPromise;
  }

  const scopePath = scope.kind === 'org' ? `/orgs/${scope.org}` : `/repos/${scope.owner}/${scope.repo}`;

  function statusOf(error: unknown): number | undefined {
    return asHttpError(error)?.status;
  }

  function translate(error: unknown, route: string): never {
    const http = asHttpError(error);
    if (http) throw new GitHubApiError(http.status, route, reasonOf(http));
    throw error;
  }

  async function listRunners(name?: string): Promise<RunnerRegistration[]> {
    const octokit = await client();
    const route = `GET ${scopePath}/actions/runners`;
    try {
      const runners = await octokit.paginate<RawRunner>(route, { per_page: 100, ...(name ? { name } : {}) });
      return runners.map(toRunner);
    } catch (error) {
      return translate(error, route);
    }
  }

  async function deleteRunner(runnerId: number): Promise<DeleteRunnerOutcome> {
    const octokit = await client();
    const route = `DELETE ${scopePath}/actions/runners/{runner_id}`;
    try {
      await octokit.request(route, { runner_id: runnerId });
      return 'deleted';
    } catch (error) {
      // GitHub refuses to remove a runner that is running a job with 422.
      if (statusOf(error) === 422) return 'busy';
      if (statusOf(error) === 404) return 'not_found';
      return translate(error, route);
    }
  }

  async function getJob(repository: string, jobId: number): Promise<GitHubJob | null> {
    const { owner, repo } = splitRepository(repository);
    const octokit = await client();
    const route = 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}';
    try {
      const { data } = await octokit.request(route, { owner, repo, job_id: jobId });
      return toJob(data as RawJob, repository);
    } catch (error) {
      if (statusOf(error) === 404 || statusOf(error) === 410) return null;
      return translate(error, route);
    }
  }

  /** The bounded search for queued jobs (github-queued-jobs.ts), under its own time budget. */
  async function scanQueued(hints: QueuedJobHints = {}): Promise<QueuedJobScan> {
    const octokit = await client();
    const scan = { ...DEFAULT_SCAN, ...options.queuedJobScan };
    const explicit = (options.repositories ?? []).map((name) => (name.includes('/') || scope.kind !== 'org' ? name : `${scope.org}/${name}`));
    const repositories =
      scope.kind === 'repo'
        ? [`${scope.owner}/${scope.repo}`]
        : [...(hints.repositories ?? []).filter((name) => name.toLowerCase().startsWith(`${scope.org.toLowerCase()}/`)), ...explicit];
    const searching = scanQueuedJobs((route, parameters) => octokit.request(route, parameters), {
      org: scope.kind === 'org' ? scope.org : undefined,
      repositories: options.maxRepositories === undefined ? repositories : repositories.slice(0, options.maxRepositories),
      includePushed: scope.kind === 'org' && !options.repositories?.length,
      timeBudgetMs: scan.timeBudgetMs,
      callBudget: scan.callBudget,
      concurrency: scan.concurrency,
      maxRepositoryPages: scan.maxRepositoryPages,
      lookbackHours: options.queuedJobLookbackHours ?? 48,
      maxRunsPerRepository: options.maxRunsPerRepository ?? 50,
      now,
      requestsSoFar: () => requestCount,
      statusOf,
      isRateLimited: (error) => error instanceof RateLimitedError,
    });
    // Only a refusal of the credentials is thrown (a partial result is not an error).
    return searching.catch((error: unknown) => translate(error, 'search for queued jobs'));
  }

  async function listQueuedJobs(): Promise<GitHubJob[]> {
    return (await scanQueued()).jobs;
  }

  async function redeliverFailedDeliveries(sinceMs: number): Promise<RedeliveryReport> {
    const octokit = await client();
    const credentials = lastCredentials;
    const hook: RedeliveryOptions['hook'] | undefined =
      credentials?.hookId !== undefined
        ? scope.kind === 'org'
          ? { kind: 'org', org: scope.org, hookId: credentials.hookId }
          : { kind: 'repo', owner: scope.owner, repo: scope.repo, hookId: credentials.hookId }
        : credentials?.type === 'app'
          ? { kind: 'app', installationId: credentials.installationId }
          : undefined;
    if (!hook) return { hook: 'none', examined: 0, failed: 0, redelivered: 0, deferred: 0, complete: true, requests: 0 };
    const limits = { ...DEFAULT_REDELIVERY, ...options.redelivery };
    return redeliverFailed((route, parameters) => octokit.request(route, parameters), {
      hook,
      // GitHub keeps deliveries for 3 days; an hour's margin for clocks and the listing itself.
      sinceMs: Math.max(sinceMs, now() - 71 * 3600_000),
      ...limits,
      now,
      requestsSoFar: () => requestCount,
      statusOf,
    });
  }

  async function requestJitConfig(request: JitConfigRequest): Promise<{ runnerId: number; encodedJitConfig: string }> {
    const octokit = await client();
    const { data } = await octokit.request(`POST ${scopePath}/actions/runners/generate-jitconfig`, {
      name: request.name,
      runner_group_id: request.runnerGroupId,
      labels: request.labels,
      work_folder: request.workFolder ?? '_work',
    });
    const body = data as { runner?: { id?: number }; encoded_jit_config?: string };
    if (typeof body.encoded_jit_config !== 'string' || typeof body.runner?.id !== 'number') {
      throw new Error('GitHub generate-jitconfig answered without runner.id or encoded_jit_config');
    }
    return { runnerId: body.runner.id, encodedJitConfig: body.encoded_jit_config };
  }

  async function generateJitConfig(request: JitConfigRequest): Promise<{ runnerId: number; encodedJitConfig: string }> {
    const route = `POST ${scopePath}/actions/runners/generate-jitconfig`;
    if (!request.name || request.labels.length === 0) throw new Error('a JIT runner needs a name and at least one label');
    try {
      return await requestJitConfig(request);
    } catch (error) {
      // 409: a runner with this name exists, typically because a retried POST
      // succeeded the first time and its answer was lost. Such a registration
      // was never handed to a machine, so replace it once if it is idle.
      if (statusOf(error) === 409) {
        const stale = (await listRunners(request.name)).find((runner) => runner.name === request.name);
        if (stale && !stale.busy && (await deleteRunner(stale.id)) !== 'busy') {
          logger?.warn('replaced a stale runner registration with the same name', { name: request.name, runnerId: stale.id });
          try {
            return await requestJitConfig(request);
          } catch (retryError) {
            return translate(retryError, route);
          }
        }
      }
      return translate(error, route);
    }
  }

  return {
    listRunners: budgeted(() => listRunners()),
    deleteRunner: budgeted(deleteRunner),
    getJob: budgeted(getJob),
    listQueuedJobs: budgeted(listQueuedJobs, () => (options.queuedJobScan?.timeBudgetMs ?? DEFAULT_SCAN.timeBudgetMs) + BUDGET_GRACE_MS),
    scanQueuedJobs: budgeted(scanQueued, () => (options.queuedJobScan?.timeBudgetMs ?? DEFAULT_SCAN.timeBudgetMs) + BUDGET_GRACE_MS),
    redeliverFailedDeliveries: budgeted(redeliverFailedDeliveries, () => (options.redelivery?.timeBudgetMs ?? DEFAULT_REDELIVERY.timeBudgetMs) + BUDGET_GRACE_MS),
    generateJitConfig: budgeted(generateJitConfig),
    get requestCount() {
      return requestCount;
    },
  };
}

const positiveInt = () => z.pipe(z.coerce.number(), z.int().check(z.positive()));

const credentialsSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('pat'), token: z.string().check(z.minLength(1)), hookId: z.optional(positiveInt()) }),
  z.object({
    type: z.literal('app'),
    appId: positiveInt(),
    // Keys pasted into the console often arrive with literal "\n".
    privateKey: z
      .pipe(
        z.string().check(z.minLength(1)),
        z.transform((key: string) => key.replace(/\\n/g, '\n')),
      )
      .check(z.refine((key) => key.includes('PRIVATE KEY'), 'must be a PEM private key')),
    installationId: positiveInt(),
    hookId: z.optional(positiveInt()),
  }),
]);

/**
 * Parses the credentials JSON. Error messages name the offending fields only,
 * never a value: the input is a secret.
 */
export function parseGitHubCredentials(text: string, source = 'GitHub credentials'): GitHubCredentials {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${source} is not valid JSON (expected {"type":"pat","token":...} or {"type":"app","appId":...,"privateKey":...,"installationId":...})`);
  }
  const parsed = credentialsSchema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || 'type'}: ${issue.code === 'invalid_union' ? 'must be "pat" or "app"' : 'invalid'}`);
    throw new Error(`${source} is invalid (${[...new Set(fields)].join('; ')})`);
  }
  return parsed.data;
}

export interface LoadCredentialsOptions {
  /** An SSM client for another endpoint (moto, LocalStack); the default client uses the Lambda's region. */
  ssmClient?: SSMClient;
  /** How long the decrypted value is kept in this container (a rotation is picked up after this). */
  maxAgeSeconds?: number;
  /** Skip the cache (after GitHub rejected the cached credentials, say). */
  forceRefresh?: boolean;
}

/** An SSM read failed (the SDK's error is the `cause`); the name and wrapping Powertools' parameters utility used. */
class GetParameterError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'GetParameterError';
  }
}

/** Decrypted values by parameter name, per SSM client; each expires after its `maxAgeSeconds`. */
const caches = new WeakMap<SSMClient, Map<string, { value: string; expiresAt: number }>>();
let defaultClient: SSMClient | undefined;

/**
 * Reads the GitHub credentials from an SSM SecureString, decrypted, cached per
 * container for `maxAgeSeconds` (a direct GetParameter: Powertools' parameters
 * utility did the same with 10 KB more in every GitHub function). The value is
 * never logged, and parsed here, where the error names the parameter only.
 */
export async function loadGitHubCredentials(parameterName: string, options: LoadCredentialsOptions = {}): Promise<GitHubCredentials> {
  const client = options.ssmClient ?? (defaultClient ??= new SSMClient({ maxAttempts: 5 }));
  let cache = caches.get(client);
  if (!cache) caches.set(client, (cache = new Map()));
  const maxAgeSeconds = options.maxAgeSeconds ?? 900;
  let cached = options.forceRefresh ? undefined : cache.get(parameterName);
  if (cached && cached.expiresAt < Date.now()) cached = undefined;
  let value = cached?.value;
  if (value === undefined) {
    try {
      value = (await client.send(new GetParameterCommand({ Name: parameterName, WithDecryption: true }))).Parameter?.Value;
    } catch (error) {
      throw new GetParameterError((error as Error).message, { cause: error });
    }
    if (value !== undefined && maxAgeSeconds > 0) cache.set(parameterName, { value, expiresAt: Date.now() + maxAgeSeconds * 1000 });
  }
  if (typeof value !== 'string' || value.length === 0) throw new Error(`SSM parameter ${parameterName} has no value`);
  return parseGitHubCredentials(value, `SSM parameter ${parameterName}`);
}
