import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { SSMClient, PutParameterCommand } from '@aws-sdk/client-ssm';
import {
  createGitHubPort,
  GitHubApiError,
  loadGitHubCredentials,
  parseGitHubCredentials,
  RateLimitedError,
  type GitHubRetryOptions,
} from '../../lib/adapters/github';
import type { GitHubScope } from '../../lib/ports';
import { describeWithTool, FAKE_AWS, startMoto, type MotoServer } from '../support/tools';

const API = 'https://api.github.com';
const ORG: GitHubScope = { kind: 'org', org: 'acme' };
const REPO: GitHubScope = { kind: 'repo', owner: 'acme', repo: 'widgets' };
const NOW = Date.parse('2026-11-23T03:00:00Z');

function fakeTime(): { sleeps: number[]; retry: GitHubRetryOptions } {
  const sleeps: number[] = [];
  let clock = NOW;
  return {
    sleeps,
    retry: {
      sleep: async (ms) => {
        sleeps.push(ms);
        clock += ms;
      },
      now: () => clock,
      random: () => 0.5,
    },
  };
}

function patPort(scope: GitHubScope = ORG, extra: Partial<Parameters<typeof createGitHubPort>[0]> = {}) {
  const time = fakeTime();
  const port = createGitHubPort({ scope, auth: { type: 'pat', token: 'ghp_sentinel' }, retry: time.retry, ...extra });
  return { port, sleeps: time.sleeps };
}

const runner = (id: number, name: string, busy = false, status = 'online') => ({
  id,
  name,
  os: 'linux',
  status,
  busy,
  labels: [{ id: 1, name: 'self-hosted', type: 'read-only' }, { id: 2, name: 'linux', type: 'custom' }],
});

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  expect(pending).toEqual([]);
});
afterAll(() => nock.enableNetConnect());

describe('listRunners', () => {
  it('follows every page and maps registrations', async () => {
    nock(API)
      .get('/orgs/acme/actions/runners')
      .query({ per_page: 100 })
      .matchHeader('authorization', 'token ghp_sentinel')
      .reply(200, { total_count: 3, runners: [runner(1, 'i-1'), runner(2, 'i-2', true)] }, {
        link: `<${API}/orgs/acme/actions/runners?per_page=100&page=2>; rel="next", <${API}/orgs/acme/actions/runners?per_page=100&page=2>; rel="last"`,
      })
      .get('/orgs/acme/actions/runners')
      .query({ per_page: 100, page: 2 })
      .reply(200, { total_count: 3, runners: [runner(3, 'i-3', false, 'offline')] });
    const { port } = patPort();
    const runners = await port.listRunners();
    expect(runners).toEqual([
      { id: 1, name: 'i-1', status: 'online', busy: false, labels: ['self-hosted', 'linux'] },
      { id: 2, name: 'i-2', status: 'online', busy: true, labels: ['self-hosted', 'linux'] },
      { id: 3, name: 'i-3', status: 'offline', busy: false, labels: ['self-hosted', 'linux'] },
    ]);
    expect(port.requestCount).toBe(2);
  });

  it('uses the repository path in repository scope', async () => {
    nock(API).get('/repos/acme/widgets/actions/runners').query(true).reply(200, { total_count: 0, runners: [] });
    const { port } = patPort(REPO);
    expect(await port.listRunners()).toEqual([]);
  });
});

describe('deleteRunner', () => {
  it.each([
    [204, 'deleted'],
    [422, 'busy'],
    [404, 'not_found'],
  ] as const)('maps %i to %s', async (status, outcome) => {
    nock(API).delete('/orgs/acme/actions/runners/7').reply(status, status === 204 ? undefined : { message: 'x' });
    const { port } = patPort();
    expect(await port.deleteRunner(7)).toBe(outcome);
    expect(port.requestCount).toBe(1);
  });

  it('reports a permission error instead of guessing, without retrying it', async () => {
    nock(API).delete('/orgs/acme/actions/runners/7').reply(403, { message: 'Resource not accessible by integration' }, { 'x-ratelimit-remaining': '4000' });
    const { port, sleeps } = patPort();
    await expect(port.deleteRunner(7)).rejects.toThrow(GitHubApiError);
    expect(sleeps).toEqual([]);
    expect(port.requestCount).toBe(1);
  });
});

describe('getJob', () => {
  const job = { id: 55, run_id: 9, status: 'queued', conclusion: null, labels: ['self-hosted'], runner_name: null, created_at: '2026-11-23T02:59:00Z' };

  it('returns the job, and null when GitHub no longer has it', async () => {
    nock(API).get('/repos/acme/widgets/actions/jobs/55').reply(200, job).get('/repos/acme/widgets/actions/jobs/56').reply(404, { message: 'Not Found' });
    const { port } = patPort();
    expect(await port.getJob('acme/widgets', 55)).toEqual({
      id: 55, runId: 9, repository: 'acme/widgets', status: 'queued', conclusion: null, labels: ['self-hosted'], runnerName: null, createdAt: '2026-11-23T02:59:00Z',
    });
    expect(await port.getJob('acme/widgets', 56)).toBeNull();
  });

  it('retries 5xx with growing backoff, then succeeds', async () => {
    nock(API)
      .get('/repos/acme/widgets/actions/jobs/55').reply(502, 'bad gateway')
      .get('/repos/acme/widgets/actions/jobs/55').reply(503, { message: 'unavailable' })
      .get('/repos/acme/widgets/actions/jobs/55').reply(200, job);
    const { port, sleeps } = patPort();
    expect((await port.getJob('acme/widgets', 55))?.id).toBe(55);
    expect(port.requestCount).toBe(3);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[1]).toBeGreaterThan(sleeps[0]);
  });

  it('gives up after the bounded number of attempts', async () => {
    nock(API).get('/repos/acme/widgets/actions/jobs/55').times(3).reply(500, { message: 'boom' });
    const { port, sleeps } = patPort(ORG, { retry: { ...fakeTime().retry, maxAttempts: 3 } });
    await expect(port.getJob('acme/widgets', 55)).rejects.toMatchObject({ status: 500 });
    expect(port.requestCount).toBe(3);
    expect(sleeps).toEqual([]); // the fake sleep of the overriding retry options recorded them instead
  });

  it('abandons a hung request after the per-attempt timeout and retries it (real loopback server)', async () => {
    let requests = 0;
    const server = createServer((request, response) => {
      requests += 1;
      if (requests === 1) return; // hang: never answer
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(job));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port: serverPort } = server.address() as AddressInfo;
      const time = fakeTime();
      const port = createGitHubPort({
        scope: ORG,
        auth: { type: 'pat', token: 'ghp_x' },
        baseUrl: `http://127.0.0.1:${serverPort}`,
        retry: { ...time.retry, requestTimeoutMs: 200 },
      });
      expect((await port.getJob('acme/widgets', 55))?.id).toBe(55);
      expect(requests).toBe(2);
      expect(port.requestCount).toBe(2);
      expect(time.sleeps).toHaveLength(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects a malformed repository name before any request', async () => {
    const { port } = patPort();
    await expect(port.getJob('not-a-repo', 1)).rejects.toThrow('owner/name');
    expect(port.requestCount).toBe(0);
  });
});

describe('rate limits', () => {
  const job = { id: 1, run_id: 2, status: 'completed', conclusion: 'success', labels: [], runner_name: 'i-1' };

  it('waits until x-ratelimit-reset when the primary limit is exhausted', async () => {
    const reset = Math.floor(NOW / 1000) + 5;
    nock(API)
      .get('/repos/acme/widgets/actions/jobs/1')
      .reply(403, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) })
      .get('/repos/acme/widgets/actions/jobs/1')
      .reply(200, job);
    const { port, sleeps } = patPort();
    expect((await port.getJob('acme/widgets', 1))?.runnerName).toBe('i-1');
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThanOrEqual(5000);
    expect(sleeps[0]).toBeLessThanOrEqual(6000);
  });

  it('throws RateLimitedError saying when, without waiting, when the reset is beyond the budget', async () => {
    const reset = Math.floor(NOW / 1000) + 1800;
    nock(API)
      .get('/repos/acme/widgets/actions/jobs/1')
      .reply(429, { message: 'API rate limit exceeded' }, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) });
    const { port, sleeps } = patPort();
    const error = await port.getJob('acme/widgets', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAt.getTime()).toBeGreaterThanOrEqual(reset * 1000);
    expect((error as Error).message).toContain(new Date((error as RateLimitedError).retryAt).toISOString());
    expect(sleeps).toEqual([]);
    expect(port.requestCount).toBe(1);
  });

  it('honours retry-after on a secondary limit', async () => {
    nock(API)
      .get('/repos/acme/widgets/actions/jobs/1')
      .reply(403, { message: 'You have exceeded a secondary rate limit' }, { 'retry-after': '3' })
      .get('/repos/acme/widgets/actions/jobs/1')
      .reply(200, job);
    const { port, sleeps } = patPort();
    await port.getJob('acme/widgets', 1);
    expect(sleeps).toEqual([3000]);
  });

  it('waits a minute on a secondary limit without retry-after, which exceeds the default budget', async () => {
    nock(API).get('/repos/acme/widgets/actions/jobs/1').reply(403, { message: 'You have exceeded a secondary rate limit' });
    const { port, sleeps } = patPort();
    await expect(port.getJob('acme/widgets', 1)).rejects.toMatchObject({ name: 'RateLimitedError', kind: 'secondary' });
    expect(sleeps).toEqual([]);
  });

  it('stops after a bounded number of rate-limit waits (never a hot loop)', async () => {
    nock(API)
      .get('/repos/acme/widgets/actions/jobs/1')
      .times(3)
      .reply(429, { message: 'slow down' }, { 'retry-after': '1' });
    const { port, sleeps } = patPort();
    await expect(port.getJob('acme/widgets', 1)).rejects.toThrow(RateLimitedError);
    expect(sleeps).toEqual([1000, 1000]);
    expect(port.requestCount).toBe(3);
  });
});

describe('listQueuedJobs', () => {
  it('repository scope: queued jobs of every run that is not completed, one run list for the repository', async () => {
    nock(API)
      .get('/repos/acme/widgets/actions/runs')
      .query((q) => q.status === undefined && String(q.created).startsWith('>=') && q.per_page === '100')
      .reply(200, { total_count: 3, workflow_runs: [{ id: 100, status: 'queued' }, { id: 101, status: 'in_progress' }, { id: 102, status: 'completed' }] })
      .get('/repos/acme/widgets/actions/runs/100/jobs')
      .query(true)
      .reply(200, { total_count: 1, jobs: [{ id: 1, run_id: 100, status: 'queued', conclusion: null, labels: ['self-hosted'], runner_name: null }] })
      .get('/repos/acme/widgets/actions/runs/101/jobs')
      .query(true)
      .reply(200, {
        total_count: 3,
        jobs: [
          { id: 2, run_id: 101, status: 'in_progress', conclusion: null, labels: ['self-hosted'], runner_name: 'i-9' },
          { id: 3, run_id: 101, status: 'queued', conclusion: null, labels: ['self-hosted', 'gpu'], runner_name: null },
          { id: 4, run_id: 101, status: 'waiting', conclusion: null, labels: ['self-hosted'], runner_name: null },
        ],
      });
    const { port } = patPort(REPO);
    const jobs = await port.listQueuedJobs();
    expect(jobs.map((job) => [job.id, job.repository, job.labels])).toEqual([
      [1, 'acme/widgets', ['self-hosted']],
      [3, 'acme/widgets', ['self-hosted', 'gpu']],
    ]);
    expect(port.requestCount).toBe(3);
  });

  it('organization scope with an explicit list searches only those repositories, bounded', async () => {
    nock(API)
      .get('/repos/acme/one/actions/runs').query(true).reply(200, { total_count: 0, workflow_runs: [] })
      .get('/repos/other/two/actions/runs').query(true).reply(200, { total_count: 0, workflow_runs: [] });
    const { port } = patPort(ORG, { repositories: ['one', 'other/two', 'three'], maxRepositories: 2 });
    expect(await port.listQueuedJobs()).toEqual([]);
    expect(port.requestCount).toBe(2);
  });
});

describe('generateJitConfig', () => {
  it('posts name, runner group, labels and work folder', async () => {
    let body: unknown;
    nock(API)
      .post('/orgs/acme/actions/runners/generate-jitconfig', (b) => {
        body = b;
        return true;
      })
      .reply(201, { runner: { id: 77, name: 'i-0abc' }, encoded_jit_config: 'SECRET-JIT' });
    const { port } = patPort();
    const result = await port.generateJitConfig({ name: 'i-0abc', labels: ['self-hosted', 'linux'], runnerGroupId: 3 });
    expect(result).toEqual({ runnerId: 77, encodedJitConfig: 'SECRET-JIT' });
    expect(body).toEqual({ name: 'i-0abc', runner_group_id: 3, labels: ['self-hosted', 'linux'], work_folder: '_work' });
  });

  it('reports a 422 (e.g. unknown runner group) with GitHub\'s reason', async () => {
    nock(API).post('/repos/acme/widgets/actions/runners/generate-jitconfig').reply(422, { message: 'Runner group not found' });
    const { port } = patPort(REPO);
    await expect(port.generateJitConfig({ name: 'i-1', labels: ['self-hosted'], runnerGroupId: 99 })).rejects.toThrow(
      /422: Runner group not found/,
    );
  });

  it('replaces an idle stale registration with the same name once (a retried POST whose answer was lost)', async () => {
    nock(API)
      .post('/orgs/acme/actions/runners/generate-jitconfig').reply(409, { message: 'Already exists' })
      .get('/orgs/acme/actions/runners').query({ per_page: 100, name: 'i-1' }).reply(200, { total_count: 1, runners: [runner(5, 'i-1')] })
      .delete('/orgs/acme/actions/runners/5').reply(204)
      .post('/orgs/acme/actions/runners/generate-jitconfig').reply(201, { runner: { id: 6 }, encoded_jit_config: 'NEW' });
    const { port } = patPort();
    expect(await port.generateJitConfig({ name: 'i-1', labels: ['self-hosted'], runnerGroupId: 1 })).toEqual({ runnerId: 6, encodedJitConfig: 'NEW' });
  });

  it('refuses an empty label set without calling GitHub', async () => {
    const { port } = patPort();
    await expect(port.generateJitConfig({ name: 'i-1', labels: [], runnerGroupId: 1 })).rejects.toThrow('label');
    expect(port.requestCount).toBe(0);
  });
});

describe('GitHub App authentication', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });

  it('mints one installation token (JWT-authenticated) and reuses it', async () => {
    let tokenAuth: string | undefined;
    nock(API)
      .post('/app/installations/42/access_tokens')
      .matchHeader('authorization', (value) => {
        tokenAuth = value ?? undefined;
        return true;
      })
      .reply(201, { token: 'ghs_installation', expires_at: new Date(Date.now() + 3600_000).toISOString(), permissions: {}, repository_selection: 'all' })
      .get('/orgs/acme/actions/runners').query(true).times(2).matchHeader('authorization', 'token ghs_installation').reply(200, { total_count: 0, runners: [] });
    const loads: number[] = [];
    const port = createGitHubPort({
      scope: ORG,
      auth: async () => {
        loads.push(1);
        return { type: 'app', appId: 1234, privateKey, installationId: 42 };
      },
      retry: fakeTime().retry,
    });
    await port.listRunners();
    await port.listRunners();
    expect(tokenAuth).toMatch(/^bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = JSON.parse(Buffer.from(tokenAuth!.split(' ')[1].split('.')[1], 'base64url').toString());
    expect(claims.iss).toBe(1234);
    expect(loads).toHaveLength(1);
    expect(port.requestCount).toBe(3);
  });

  it('organization scope searches the organization\'s recently pushed repositories (newest first, not archived, inside the look-back)', async () => {
    nock(API)
      .post('/app/installations/42/access_tokens')
      .reply(201, { token: 'ghs_installation', expires_at: new Date(Date.now() + 3600_000).toISOString() })
      .get('/orgs/acme/repos').query({ sort: 'pushed', direction: 'desc', per_page: 100, page: 1 })
      .reply(200, [
        { full_name: 'acme/archived', owner: { login: 'acme' }, archived: true, pushed_at: '2026-11-23T02:00:00Z' },
        { full_name: 'acme/new', owner: { login: 'acme' }, pushed_at: '2026-11-23T01:00:00Z' },
        { full_name: 'acme/old', owner: { login: 'acme' }, pushed_at: '2025-01-01T00:00:00Z' },
      ])
      .get('/repos/acme/new/actions/runs').query(true).reply(200, { total_count: 0, workflow_runs: [] });
    const port = createGitHubPort({ scope: ORG, auth: { type: 'app', appId: 1, privateKey, installationId: 42 }, retry: fakeTime().retry });
    const scan = await port.scanQueuedJobs();
    expect(scan).toMatchObject({ jobs: [], complete: true, scannedRepositories: ['acme/new'], stoppedBy: null });
  });
});

describe('credentials', () => {
  it('accepts a PAT and an App key with escaped newlines', () => {
    expect(parseGitHubCredentials('{"type":"pat","token":"ghp_x"}')).toEqual({ type: 'pat', token: 'ghp_x' });
    const app = parseGitHubCredentials(JSON.stringify({ type: 'app', appId: '12', installationId: 34, privateKey: '-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----' }));
    expect(app).toMatchObject({ type: 'app', appId: 12, installationId: 34 });
    expect(app.type === 'app' && app.privateKey.split('\n')).toHaveLength(3);
  });

  it.each([
    ['not json', 'ghp_SENTINEL_not_json'],
    ['wrong type', '{"type":"oauth","token":"ghp_SENTINEL"}'],
    ['missing key', '{"type":"app","appId":1,"installationId":2,"privateKey":"ghp_SENTINEL"}'],
  ])('rejects %s without quoting the secret', (_case, text) => {
    let message = '';
    try {
      parseGitHubCredentials(text);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/GitHub credentials/);
    expect(message).not.toContain('SENTINEL');
  });
});

describeWithTool('moto_server', 'loadGitHubCredentials against SSM (moto)', (motoPath) => {
  let moto: MotoServer;
  let ssm: SSMClient;
  beforeAll(async () => {
    moto = await startMoto(motoPath);
    ssm = new SSMClient({ ...FAKE_AWS, endpoint: moto.endpoint });
  });
  afterAll(async () => {
    ssm?.destroy();
    await moto?.stop();
  });

  it('reads and decrypts the SecureString once, then serves it from the container cache', async () => {
    await ssm.send(new PutParameterCommand({ Name: '/runners/github', Type: 'SecureString', Value: '{"type":"pat","token":"ghp_first"}' }));
    expect(await loadGitHubCredentials('/runners/github', { ssmClient: ssm })).toEqual({ type: 'pat', token: 'ghp_first' });
    await ssm.send(new PutParameterCommand({ Name: '/runners/github', Type: 'SecureString', Value: '{"type":"pat","token":"ghp_second"}', Overwrite: true }));
    expect(await loadGitHubCredentials('/runners/github', { ssmClient: ssm })).toEqual({ type: 'pat', token: 'ghp_first' });
    expect(await loadGitHubCredentials('/runners/github', { ssmClient: ssm, forceRefresh: true })).toEqual({ type: 'pat', token: 'ghp_second' });
  });

  it('names the parameter, not its content, when the value is invalid', async () => {
    await ssm.send(new PutParameterCommand({ Name: '/runners/bad', Type: 'SecureString', Value: 'ghp_SENTINEL' }));
    const error = await loadGitHubCredentials('/runners/bad', { ssmClient: ssm }).catch((e: Error) => e);
    expect((error as Error).message).toContain('/runners/bad');
    expect((error as Error).message).not.toContain('SENTINEL');
  });
});

describe('credential rotation and time budget', () => {
  const job55 = { id: 55, run_id: 5, status: 'queued', conclusion: null, labels: ['self-hosted'], runner_name: null };

  it('after GitHub refuses the credentials (401), the next call reads them again, fresh, and uses the new ones', async () => {
    const reads: Array<boolean | undefined> = [];
    let token = 'ghp_old';
    const time = fakeTime();
    const port = createGitHubPort({
      scope: ORG,
      auth: async (refresh) => {
        reads.push(refresh?.forceRefresh);
        return { type: 'pat', token };
      },
      retry: time.retry,
    });
    nock(API, { reqheaders: { authorization: 'token ghp_old' } }).get('/repos/acme/widgets/actions/jobs/55').reply(401, { message: 'Bad credentials' });
    await expect(port.getJob('acme/widgets', 55)).rejects.toMatchObject({ status: 401 });
    token = 'ghp_new'; // the operator rotated the parameter
    nock(API, { reqheaders: { authorization: 'token ghp_new' } }).get('/repos/acme/widgets/actions/jobs/55').reply(200, job55);
    expect((await port.getJob('acme/widgets', 55))?.id).toBe(55);
    expect(reads).toEqual([false, true]);
  });

  it('picks up rotated credentials after their maximum age even if the old ones still work', async () => {
    const tokens = ['ghp_first', 'ghp_second'];
    let clock = NOW;
    const port = createGitHubPort({ scope: ORG, auth: async () => ({ type: 'pat', token: tokens.shift()! }), credentialsMaxAgeMs: 60_000, retry: { now: () => clock } });
    nock(API, { reqheaders: { authorization: 'token ghp_first' } }).get('/repos/acme/widgets/actions/jobs/55').twice().reply(200, job55);
    await port.getJob('acme/widgets', 55);
    clock += 30_000;
    await port.getJob('acme/widgets', 55);
    clock += 31_000;
    nock(API, { reqheaders: { authorization: 'token ghp_second' } }).get('/repos/acme/widgets/actions/jobs/55').reply(200, job55);
    expect((await port.getJob('acme/widgets', 55))?.id).toBe(55);
  });

  it('a call gives up when its budget would be spent sleeping, instead of outliving its Lambda', async () => {
    nock(API).get('/repos/acme/widgets/actions/jobs/55').times(2).reply(502, 'bad gateway');
    const time = fakeTime();
    // Backoff 375 ms, then 750 ms: the second wait does not fit in what is left of 1 s.
    const port = createGitHubPort({ scope: ORG, auth: { type: 'pat', token: 'ghp_x' }, retry: { ...time.retry, maxAttempts: 5, callBudgetMs: 1_000 } });
    await expect(port.getJob('acme/widgets', 55)).rejects.toMatchObject({ status: 502 });
    expect(port.requestCount).toBe(2);
    expect(time.sleeps).toEqual([375]);
  });

  it('a rate limit that lifts after the budget fails the call at once', async () => {
    nock(API).get('/repos/acme/widgets/actions/jobs/55').reply(429, { message: 'secondary rate limit' }, { 'retry-after': '3' });
    const time = fakeTime();
    const port = createGitHubPort({ scope: ORG, auth: { type: 'pat', token: 'ghp_x' }, retry: { ...time.retry, callBudgetMs: 2_000 } });
    await expect(port.getJob('acme/widgets', 55)).rejects.toBeInstanceOf(RateLimitedError);
    expect(time.sleeps).toEqual([]);
  });
});
