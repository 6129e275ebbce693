/**
 * Secrets are never logged (issue 6, item 5; DESIGN invariant 5).
 *
 * Every handler runs with the Powertools logger the Lambdas use
 * (lib/logger.ts, at DEBUG) and sentinel secret values: the webhook secret,
 * a PAT, a GitHub App private key (a real RSA key, so octokit really signs
 * with it), the installation token GitHub mints from it, and a JIT runner
 * config. Good paths and error paths (wrong signature, GitHub 401/5xx, an
 * unparsable credentials parameter, a failing Task ending in RecordFailure)
 * are exercised. ALL output is captured (process.stdout/stderr and console)
 * and searched for each sentinel and its base64 / JSON-escaped forms.
 */
import { generateKeyPairSync } from 'node:crypto';
import nock from 'nock';
import { sign } from '@octokit/webhooks-methods';
import { readActivity } from '../../lib/activity';
import { createGitHubPort, loadGitHubCredentials } from '../../lib/adapters/github';
import { createLogger } from '../../lib/logger';
import { DEFAULT_SETTINGS } from '../../lib/settings';
import { writeSettings } from '../../lib/settings-store';
import { createWebhookHandler } from '../../Infrastructure/src/webhook';
import { createJitConfigHandler } from '../../Runners/src/jit-config';
import { createInterruptionHandler, SPOT_INTERRUPTION } from '../../Runners/src/interruption';
import { createMemoryCounter } from '../../Runners/src/metrics';
import type { AutoScalerDeps } from '../../AutoScaler/src/deps';
import { createMachine, FakeFleet, jobEvent, ManualClock, RECONCILE_INPUT, RecordingMetrics } from '../autoscaler/support/fakes';
import { fakeLifecycle, GROUP, launchEvent } from '../runners/support';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { emulateSsm, FaultPlan, GitHubModel } from '../hardening/support';

const WEBHOOK_SECRET = 'whsec-SENTINEL-7c41d09b2e';
const PAT = 'ghp_SENTINELpat0123456789abcdefABCDEF';
const INSTALLATION_TOKEN = 'ghs_SENTINELinstallation9876543210zyx';
const JIT_CONFIG = Buffer.from(JSON.stringify({ '.runner': 'SENTINEL-jit-runner-config', '.credentials': 'SENTINEL-jit-credentials' })).toString('base64');
const { privateKey: APP_KEY } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
const APP_KEY_BODY = APP_KEY.split('\n').filter((line) => line && !line.startsWith('-----'));

/** Each secret in the forms it could leak in. */
function forms(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), Buffer.from(secret).toString('base64'), encodeURIComponent(secret)];
}
const SENTINELS: Array<[string, string[]]> = [
  ['webhook secret', forms(WEBHOOK_SECRET)],
  ['PAT', forms(PAT)],
  ['installation token', forms(INSTALLATION_TOKEN)],
  ['JIT config', [...forms(JIT_CONFIG), 'SENTINEL-jit-runner-config', 'SENTINEL-jit-credentials']],
  ['App private key', [...forms(APP_KEY), ...APP_KEY_BODY.filter((line) => line.length >= 40)]],
];

let captured: string[] = [];
const restores: Array<() => void> = [];
let dynamo: LocalDynamo;
const previousLevel = process.env.POWERTOOLS_LOG_LEVEL;

beforeAll(async () => {
  process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
  dynamo = await startDynalite();
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
beforeEach(() => {
  captured = [];
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown) => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8'));
      return true;
    }) as typeof stream.write;
    restores.push(() => (stream.write = original as typeof stream.write));
  }
  for (const level of ['log', 'info', 'warn', 'error', 'debug'] as const) {
    const spy = jest.spyOn(console, level).mockImplementation((...args: unknown[]) => void captured.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')));
    restores.push(() => spy.mockRestore());
  }
});
afterEach(() => {
  for (const restore of restores.splice(0).reverse()) restore();
  nock.cleanAll();
});
afterAll(async () => {
  await dynamo.stop();
  nock.enableNetConnect();
  if (previousLevel === undefined) delete process.env.POWERTOOLS_LOG_LEVEL;
  else process.env.POWERTOOLS_LOG_LEVEL = previousLevel;
});

function expectNoSentinel(): string {
  const text = captured.join('\n');
  for (const [name, variants] of SENTINELS) {
    for (const variant of variants) {
      if (text.includes(variant)) throw new Error(`${name} found in the log output:\n${text.slice(Math.max(0, text.indexOf(variant) - 300), text.indexOf(variant) + 100)}`);
    }
  }
  expect(text).not.toMatch(/SENTINEL/);
  return text;
}

describe('no secret in any log line', () => {
  it('webhook handler: valid, wrongly signed, signed with the previous secret, malformed', async () => {
    const put: unknown[] = [];
    const handler = createWebhookHandler({
      secrets: async () => [WEBHOOK_SECRET, `${WEBHOOK_SECRET}-previous`],
      bus: { putEvents: async (entries) => (put.push(...entries), { failedCount: 0 }) },
      servedLabels: ['self-hosted', 'linux', 'x64'],
      logger: createLogger('webhook'),
    });
    const body = JSON.stringify({ action: 'queued', workflow_job: { id: 1, run_id: 2, run_attempt: 1, labels: ['self-hosted'], status: 'queued', created_at: '2026-03-01T12:00:00Z' }, repository: { full_name: 'acme/app', owner: { login: 'acme' } } });
    const event = async (text: string, signature: string) =>
      ({
        version: '2.0',
        rawPath: '/webhook',
        headers: { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': 'd-1', 'x-hub-signature-256': signature },
        requestContext: { http: { method: 'POST', path: '/webhook', sourceIp: '192.0.2.1' } },
        body: text,
        isBase64Encoded: false,
      }) as never;
    const answers = [
      await handler(await event(body, await sign(WEBHOOK_SECRET, body))),
      await handler(await event(body, await sign(`${WEBHOOK_SECRET}-previous`, body))),
      await handler(await event(body, await sign('another-secret', body))),
      await handler(await event('{"action":', await sign(WEBHOOK_SECRET, '{"action":'))),
      await handler(await event(body, `sha1=${WEBHOOK_SECRET}`)),
    ];
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202, 401, 400, 401]);
    expect(put).toHaveLength(2);
    const text = expectNoSentinel();
    expect(text).toMatch(/signature/i); // the refusals were logged, without the secret
  });

  it('every AutoScaler Task (PAT and GitHub App from SSM), good and failing paths', async () => {
    for (const credentials of [{ type: 'pat', token: PAT }, { type: 'app', appId: 42, installationId: 7, privateKey: APP_KEY }]) {
      nock.cleanAll();
      const faults = new FaultPlan();
      const clock = new ManualClock();
      const github = new GitHubModel(faults, clock);
      github.install();
      nock(GitHubModel.API).persist().post('/app/installations/7/access_tokens').reply(201, { token: INSTALLATION_TOKEN, expires_at: new Date(clock.now() + 3600_000).toISOString() });
      const ssm = emulateSsm(faults, { '/ra/github': JSON.stringify(credentials), '/ra/broken': `{"type":"pat","token":"${PAT}"` });
      restores.push(() => ssm.restore());
      const tableName = await dynamo.createTable();
      await writeSettings(dynamo.doc, tableName, 'default', { ...DEFAULT_SETTINGS, headroom: 1, scaleInCooldownSeconds: 0 }, 0, 'test', clock.now());
      const fleet = new FakeFleet(clock, 1, 10);
      fleet.seed(1, { register: (name: string, labels: string[]) => github.register(name, labels) } as never, ['self-hosted', 'linux', 'x64']);
      const logger = createLogger('autoscaler');
      const port = (parameter: string) =>
        createGitHubPort({
          scope: { kind: 'org', org: 'acme' },
          auth: () => loadGitHubCredentials(parameter, { ssmClient: ssm.client }),
          repositories: ['app'],
          logger: { warn: (message, extra) => logger.warn(message, extra ?? {}) },
          retry: { maxAttempts: 2, sleep: async () => undefined },
        });
      const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github: port('/ra/github'), clock, logger, metrics: new RecordingMetrics() };
      const run = createMachine(deps);
      expect((await run(jobEvent('queued', 1))).output.outcome).toBe('scaled_out');
      github.addJob(1, 'in_progress');
      fleet.bootAll({ register: (name: string, labels: string[]) => github.register(name, labels) } as never, ['self-hosted', 'linux', 'x64']);
      const reconciled = await run(RECONCILE_INPUT);
      expect([credentials.type, reconciled.status, (await readActivity(dynamo.doc, tableName, 'default')).lastFailure?.cause]).toEqual([credentials.type, 'SUCCEEDED', undefined]);
      expect((await run(jobEvent('completed', 1))).output.outcome).toBe('scaled_in');
      // GitHub refuses the credentials, then fails: Observe reports it, Reconcile fails into RecordFailure.
      faults.add('github-401', 'github:listRunners', 2, () => ({ status: 401, body: { message: 'Bad credentials' } }));
      faults.add('github-5xx', 'github:getJob', Infinity, () => ({ status: 502, body: { message: 'Server Error' } }));
      // Job 2 started while its in_progress webhook was lost, so the reconcile re-reads it (and GitHub fails).
      github.addJob(2, 'in_progress');
      await run(jobEvent('queued', 2));
      expect((await run(RECONCILE_INPUT)).status).toBe('FAILED');
      // A credentials parameter that is not valid JSON: named, never quoted.
      const broken = createMachine({ ...deps, github: port('/ra/broken') });
      expect((await broken(RECONCILE_INPUT)).status).toBe('FAILED');
    }
    const text = expectNoSentinel();
    expect(text).toContain('job event recorded');
    expect(text).toContain('autoscaler execution failed');
    expect(text).toContain('/ra/broken');
  });

  it('jit-config: registers the runner and stores its config, or fails at GitHub or at the store', async () => {
    const stored = new Map<string, string>();
    let failStore = false;
    const logger = createLogger('jit-config');
    const github = createGitHubPort({ scope: { kind: 'org', org: 'acme' }, auth: { type: 'pat', token: PAT }, retry: { maxAttempts: 2, sleep: async () => undefined } });
    const handlerFor = (instanceId: string) =>
      createJitConfigHandler({
        groupName: GROUP,
        runnerGroupId: 1,
        github: () => github,
        labels: async () => ['self-hosted', 'linux', 'x64'],
        store: {
          async put(id, _arn, config) {
            if (failStore) throw Object.assign(new Error('ParameterLimitExceeded'), { name: 'ParameterLimitExceeded' });
            stored.set(id, config);
            return { name: `/runners/${id}`, tier: 'Standard' };
          },
          async remove(id) {
            stored.delete(id);
          },
        },
        lifecycle: fakeLifecycle({ [instanceId]: 'Pending:Wait' }).port,
        metrics: createMemoryCounter(),
        logger,
      });
    let runnerId = 500;
    nock(GitHubModel.API)
      .persist()
      .post('/orgs/acme/actions/runners/generate-jitconfig')
      .reply(() => [201, { runner: { id: ++runnerId, name: 'x' }, encoded_jit_config: JIT_CONFIG }])
      .delete(/\/orgs\/acme\/actions\/runners\/\d+/)
      .reply(204);
    const ok = await handlerFor('i-0aaaaaaaaaaaaaaa1')(launchEvent('i-0aaaaaaaaaaaaaaa1'));
    expect(stored.get('i-0aaaaaaaaaaaaaaa1')).toBe(JIT_CONFIG);
    failStore = true;
    const storeFailed = await handlerFor('i-0aaaaaaaaaaaaaaa2')(launchEvent('i-0aaaaaaaaaaaaaaa2'));
    nock.cleanAll();
    nock(GitHubModel.API).post('/orgs/acme/actions/runners/generate-jitconfig').times(2).reply(422, { message: 'Invalid runner group' });
    const refused = await handlerFor('i-0aaaaaaaaaaaaaaa3')(launchEvent('i-0aaaaaaaaaaaaaaa3'));
    expect([ok.outcome, storeFailed.outcome, refused.outcome]).not.toContain(undefined);
    const text = expectNoSentinel();
    expect(text.length).toBeGreaterThan(0);
  });

  it('interruption: deregisters an idle runner, keeps a busy one, reports GitHub failures', async () => {
    const logger = createLogger('interruption');
    const github = createGitHubPort({ scope: { kind: 'org', org: 'acme' }, auth: { type: 'pat', token: PAT }, retry: { maxAttempts: 2, sleep: async () => undefined } });
    const handler = createInterruptionHandler({
      groupName: GROUP,
      github: () => github,
      lifecycle: fakeLifecycle({ 'i-0123456789abcdef0': 'InService', 'i-0123456789abcdef1': 'InService' }).port,
      metrics: createMemoryCounter(),
      logger,
    });
    const warning = (instanceId: string) => ({ version: '0', 'detail-type': SPOT_INTERRUPTION, source: 'aws.ec2', account: '123456789012', region: 'eu-west-1', detail: { 'instance-id': instanceId, 'instance-action': 'terminate' } });
    const runners = [
      { id: 1, name: 'i-0123456789abcdef0', os: 'linux', status: 'online', busy: false, labels: [{ name: 'self-hosted' }] },
      { id: 2, name: 'i-0123456789abcdef1', os: 'linux', status: 'online', busy: true, labels: [{ name: 'self-hosted' }] },
    ];
    nock(GitHubModel.API).get(/\/orgs\/acme\/actions\/runners/).times(2).reply(200, { total_count: 2, runners }).delete('/orgs/acme/actions/runners/1').reply(204);
    await handler(warning('i-0123456789abcdef0'));
    await handler(warning('i-0123456789abcdef1'));
    nock(GitHubModel.API).get(/\/orgs\/acme\/actions\/runners/).times(2).reply(401, { message: 'Bad credentials' });
    await handler(warning('i-0123456789abcdef0')).catch(() => undefined);
    const text = expectNoSentinel();
    expect(text.length).toBeGreaterThan(0);
  });
});
