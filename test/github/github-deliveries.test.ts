import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { createGitHubPort } from '../../lib/adapters/github';
import { deliveriesToRedeliver, isRetryableFailure } from '../../lib/adapters/github-deliveries';
import { SimGitHub } from '../../local/sim-github';

/** Redelivery of failed webhook deliveries (issue 13): which ones, through which hook, how many. */
const delivery = (id: number, guid: string, statusCode: number, extra: Partial<{ redelivery: boolean; event: string; installation_id: number }> = {}) => ({
  id,
  guid,
  delivered_at: new Date(Date.now() - 60_000).toISOString(),
  redelivery: false,
  status_code: statusCode,
  event: 'workflow_job',
  installation_id: 42,
  ...extra,
});

describe('deliveriesToRedeliver (newest first in, one per guid out)', () => {
  it('takes failures our endpoint may get past, skips what succeeded later, other events, other installations and 4xx', () => {
    const picked = deliveriesToRedeliver(
      [
        delivery(9, 'a', 200, { redelivery: true }), // a: redelivered successfully already
        delivery(8, 'b', 502),
        delivery(7, 'a', 0),
        delivery(6, 'c', 401), // our webhook refused it: a retry changes nothing
        delivery(5, 'd', 504, { event: 'push' }),
        delivery(4, 'e', 500, { installation_id: 7 }), // another installation of the App
        delivery(3, 'f', 429),
        delivery(2, 'g', 500, { redelivery: true }), // a failed redelivery whose original failure left the window
      ],
      42,
    );
    expect(picked.map((d) => d.guid)).toEqual(['b', 'f']);
    expect([0, 429, 500, 503].every(isRetryableFailure)).toBe(true);
    expect([200, 202, 400, 401, 404, 413].some(isRetryableFailure)).toBe(false);
  });

  it('retries a failed redelivery while the original failure is in the window, once per pass', () => {
    const picked = deliveriesToRedeliver([delivery(3, 'a', 502, { redelivery: true }), delivery(1, 'a', 502)], 42);
    expect(picked.map((d) => d.id)).toEqual([3]);
  });
});

describe('redeliverFailedDeliveries against the simulated GitHub (organization webhook)', () => {
  let endpoint: Server;
  const seen = new Map<string, number>();
  beforeAll(async () => {
    // Our webhook endpoint, down for the first attempt of each delivery (a 502 from the API gateway, say).
    endpoint = createServer((request, response) => {
      request.resume();
      request.on('end', () => {
        const guid = String(request.headers['x-github-delivery']);
        const attempts = (seen.get(guid) ?? 0) + 1;
        seen.set(guid, attempts);
        response.writeHead(attempts === 1 ? 502 : 200).end();
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => endpoint.close(() => resolve()));
  });

  it('redelivers each failed workflow_job delivery once, within its cap, then finds nothing left', async () => {
    const github = new SimGitHub({ org: 'acme', repos: ['app'], hookId: 77, webhookSecret: 'sim-secret', webhookUrl: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/webhook` });
    const baseUrl = await github.start();
    try {
      github.queueJobs({ labels: ['self-hosted'], durationSeconds: 1, count: 5 });
      await github.settled();
      expect(github.listDeliveries().map((d) => d.statusCode)).toEqual([502, 502, 502, 502, 502]);
      const port = createGitHubPort({ scope: { kind: 'org', org: 'acme' }, auth: { type: 'pat', token: 'ghp_x', hookId: 77 }, baseUrl, redelivery: { maxRedeliveries: 3 } });

      const first = await port.redeliverFailedDeliveries(Date.now() - 3600_000);
      await github.settled();
      expect(first).toMatchObject({ hook: 'org', examined: 5, failed: 5, redelivered: 3, deferred: 2, complete: true });
      // The oldest three first.
      expect(github.listDeliveries().filter((d) => d.redelivery).map((d) => d.jobId)).toEqual(github.listJobs().slice(0, 3).map((j) => j.id));

      const second = await port.redeliverFailedDeliveries(Date.now() - 3600_000);
      await github.settled();
      expect(second).toMatchObject({ failed: 2, redelivered: 2, deferred: 0 });
      const third = await port.redeliverFailedDeliveries(Date.now() - 3600_000);
      expect(third).toMatchObject({ failed: 0, redelivered: 0 });
      expect(github.requestCounts.get('POST /hooks/deliveries/{id}/attempts')).toBe(5);
      expect(github.listDeliveries().filter((d) => d.redelivery).every((d) => d.statusCode === 200)).toBe(true);
    } finally {
      await github.stop();
    }
  });

  it('a PAT without hookId has no hook to read and costs no call', async () => {
    const port = createGitHubPort({ scope: { kind: 'org', org: 'acme' }, auth: { type: 'pat', token: 'ghp_x' }, baseUrl: 'http://127.0.0.1:9' });
    expect(await port.redeliverFailedDeliveries(0)).toMatchObject({ hook: 'none', requests: 0 });
    expect(port.requestCount).toBe(0);
  });
});

describe('redeliverFailedDeliveries with App credentials', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs1', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  afterEach(() => nock.cleanAll());

  it("reads the App's own webhook with the App's JWT (no installation token, no extra permission)", async () => {
    nock.disableNetConnect();
    const jwt = /^bearer [\w-]+\.[\w-]+\.[\w-]+$/;
    const scope = nock('https://api.github.com')
      .get('/app/hook/deliveries')
      .query({ per_page: 100 })
      .matchHeader('authorization', jwt)
      .reply(200, [delivery(12, 'x', 503, { installation_id: 42 }), delivery(11, 'y', 503, { installation_id: 99 })])
      .post('/app/hook/deliveries/12/attempts')
      .matchHeader('authorization', jwt)
      .reply(202, {});
    const port = createGitHubPort({ scope: { kind: 'org', org: 'acme' }, auth: { type: 'app', appId: 1, privateKey, installationId: 42 } });
    const report = await port.redeliverFailedDeliveries(Date.now() - 3600_000);
    expect(report).toMatchObject({ hook: 'app', examined: 2, failed: 1, redelivered: 1, complete: true });
    expect(scope.isDone()).toBe(true);
    nock.enableNetConnect();
  });
});
