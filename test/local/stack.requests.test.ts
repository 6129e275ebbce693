import { createServer } from 'node:net';
import { PortInUseError, startLocalStack, type LocalStack } from '../../local/stack';
import { describeWithAutoScaler, getState, postWebhook, queueJobs, signed, until } from './support';

/** Bad requests through the local API Gateway stand-in: a clear 4xx, and nothing changes. */
describeWithAutoScaler('local stack, bad requests', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, bootSeconds: 0.2, reconcileSeconds: 3600, logLevel: 'SILENT', webhookSecret: 'the-local-secret', sampleMs: 100 });
    await until(async () => (await getState(stack.urls.state)).instances.some((i) => i.status === 'idle'), 'the floor runner');
  }, 30000);

  afterAll(async () => {
    await stack?.stop();
  });

  function snapshot(state: Awaited<ReturnType<typeof getState>>) {
    return {
      desired: state.desiredCapacity,
      instances: state.instances.map((i) => [i.id, i.status]),
      jobs: state.jobs,
      decisions: state.decisions.length,
      executions: state.executions,
      settings: state.settings,
    };
  }

  it('rejects wrong signatures, malformed JSON, oversized bodies and bad /sim/jobs requests without changing the state', async () => {
    const before = snapshot(await getState(stack.urls.state));
    const deliveredBefore = stack.bus.delivered.length;
    const payload = JSON.stringify({ action: 'queued', workflow_job: { id: 1, run_id: 2, run_attempt: 1, labels: ['self-hosted', 'linux', 'x64'] } });
    const headers = (signature: string, extra: Record<string, string> = {}) => ({
      'content-type': 'application/json',
      'x-github-event': 'workflow_job',
      'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
      'x-hub-signature-256': signature,
      ...extra,
    });

    const wrongSecret = await postWebhook(stack.urls.webhook, payload, headers(await signed('not-the-secret', payload)));
    expect(wrongSecret).toEqual({ status: 401, message: 'signature does not match' });

    const tampered = await postWebhook(stack.urls.webhook, payload.replace('"id":1', '"id":9'), headers(await signed('the-local-secret', payload)));
    expect(tampered.status).toBe(401);

    const unsigned = await postWebhook(stack.urls.webhook, payload, { 'content-type': 'application/json', 'x-github-event': 'workflow_job', 'x-github-delivery': 'abc' });
    expect(unsigned).toEqual({ status: 401, message: 'missing X-Hub-Signature-256 header' });

    const malformed = '{"action": "queued", "workflow_job": ';
    const malformedAnswer = await postWebhook(stack.urls.webhook, malformed, headers(await signed('the-local-secret', malformed)));
    expect(malformedAnswer).toEqual({ status: 400, message: 'body is not valid JSON' });

    const huge = JSON.stringify({ action: 'queued', padding: 'x'.repeat(2 * 1024 * 1024) });
    const oversized = await postWebhook(stack.urls.webhook, huge, headers(await signed('the-local-secret', huge)));
    expect(oversized.status).toBe(413);

    const beyondGateway = Buffer.alloc(11 * 1024 * 1024, 0x20);
    const gateway = await postWebhook(stack.urls.webhook, beyondGateway, headers('sha256=00'));
    expect(gateway.status).toBe(413);

    for (const bad of ['{"labels": [], "durationSeconds": 1}', '{"labels": ["a"], "durationSeconds": -1}', '{"labels": ["a"], "durationSeconds": 1, "count": 1.5}', 'not json', '[]']) {
      const response = await queueJobs(stack.urls.simJobs, bad);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { message: string }).message.length).toBeGreaterThan(5);
    }
    expect((await fetch(stack.urls.webhook.replace('/webhook', '/nope'))).status).toBe(404);

    await stack.bus.idle();
    expect(stack.bus.delivered.length).toBe(deliveredBefore);
    expect(stack.sim.listJobs()).toHaveLength(0);
    expect(snapshot(await getState(stack.urls.state))).toEqual(before);
  });

  it('answers a correctly signed ping, like API Gateway would pass it on', async () => {
    const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const answer = await postWebhook(stack.urls.webhook, body, {
      'content-type': 'application/json',
      'x-github-event': 'ping',
      'x-github-delivery': 'ping-1',
      'x-hub-signature-256': await signed('the-local-secret', body),
    });
    expect(answer).toEqual({ status: 200, message: 'pong' });
  });
});

describe('local stack, ports', () => {
  it('refuses a taken port with a clear error and leaves nothing running', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      await expect(startLocalStack({ port, logLevel: 'SILENT' })).rejects.toThrow(PortInUseError);
      await expect(startLocalStack({ port, logLevel: 'SILENT' })).rejects.toThrow(/already in use.*--port/);
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });

});

describeWithAutoScaler('local stack, shutdown', () => {
  it('frees every port on stop', async () => {
    const stack = await startLocalStack({ port: 0, bootSeconds: 0.1, logLevel: 'SILENT' });
    const urls = [stack.urls.state, `${stack.urls.dynamodb}/`, `${stack.urls.github}/orgs/x/actions/runners`];
    for (const url of urls) expect((await fetch(url)).status).toBeGreaterThan(0);
    await stack.stop();
    for (const url of urls) await expect(fetch(url)).rejects.toThrow();
  });

  // The dashboard's sampler reads the table every sampleMs; a read still in flight when dynalite closed
  // threw "Database is closed" out of dynalite's callback and took the process down (a loaded CI run).
  it('stops cleanly while its sampler is reading the table', async () => {
    for (let i = 0; i < 10; i++) {
      const stack = await startLocalStack({ port: 0, bootSeconds: 0.1, logLevel: 'SILENT', sampleMs: 1 });
      await new Promise((resolve) => setTimeout(resolve, 5 + (i % 5)));
      await stack.stop();
    }
  }, 60000);
});

describeWithAutoScaler('local stack, --data-dir', () => {
  it('keeps the stored settings across restarts', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dataDir = mkdtempSync(join(tmpdir(), 'local-data-'));
    try {
      const first = await startLocalStack({ port: 0, bootSeconds: 0.1, logLevel: 'SILENT', dataDir, settings: { headroom: 3, max: 7 } });
      const { readSettings, writeSettings } = await import('../../lib/settings-store');
      const stored = await readSettings(first.doc, first.tableName, first.pool);
      await writeSettings(first.doc, first.tableName, first.pool, { ...stored.settings, scaleInCooldownSeconds: 77 }, stored.version, 'test');
      await first.stop();

      // Different initial settings are ignored: the stored item wins.
      const second = await startLocalStack({ port: 0, bootSeconds: 0.1, logLevel: 'SILENT', dataDir, settings: { headroom: 0 } });
      try {
        const state = await getState(second.urls.state);
        expect(state.settings).toMatchObject({ headroom: 3, max: 7, scaleInCooldownSeconds: 77 });
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30000);
});
