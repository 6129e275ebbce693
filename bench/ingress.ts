import '../lib/polyfills';
import '../local/esm-interop';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { createWebhookHandler } from '../Infrastructure/src/webhook';
import { loadTemplate, parameterDefaults, runnerLabelsImport } from '../lib/cfn-template';
import { DEFAULT_POOL_LABELS } from '../lib/labels';
import { LocalBus, rulesFromTemplate } from '../local/bus';
import { toApiGatewayEvent } from '../local/stack';
import { machineInfo, percentile, readBody, round, runStandalone, type MachineInfo } from './support';

/**
 * Signed webhooks per second through the real webhook handler behind the
 * local API Gateway stand-in (same request → APIGatewayProxyEventV2 mapping
 * as local/stack.ts), forwarding to a LocalBus with the AutoScaler
 * template's rules whose target only counts (no state machine: this measures
 * ingress). The load comes from a child process with C keep-alive clients.
 */
export interface IngressOptions {
  requests?: number;
  concurrency?: number;
}

export interface IngressResult {
  machine: MachineInfo;
  requests: number;
  concurrency: number;
  durationMs: number;
  requestsPerSecond: number;
  /** Time inside the webhook handler (server side). */
  handlerLatencyMs: { p50: number; p99: number; max: number };
  /** Request sent to response received (client side, includes queueing). */
  roundTripMs: { p50: number; p99: number };
  statusCounts: Record<string, number>;
  errors: number;
  eventsMatched: number;
  goal: { requestsPerSecond: number; met: boolean };
}

const ROOT = resolve(__dirname, '..');
const SECRET = 'bench-ingress-secret';

/**
 * The load generator, run by a separate `node` so that it does not share the
 * server's event loop: N distinct, correctly signed queued workflow_job
 * deliveries (signed before the clock starts), C keep-alive clients.
 */
const CLIENT = `
const http = require('node:http');
const { createHmac, randomUUID } = require('node:crypto');
const { url, secret, requests, concurrency, labels, root } = JSON.parse(process.argv[1]);
const examples = require(require.resolve('@octokit/webhooks-examples', { paths: [root] }));
const template = examples.find((d) => d.name === 'workflow_job').examples.find((e) => e.action === 'queued' && e.installation);
const deliveries = [];
for (let i = 0; i < requests; i++) {
  const payload = structuredClone(template);
  delete payload.deployment;
  payload.workflow_job = { ...payload.workflow_job, id: 5_000_000 + i, run_id: 9_000_000 + i, labels };
  const body = JSON.stringify(payload);
  deliveries.push({ body, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'GitHub-Hookshot/bench', 'x-github-event': 'workflow_job', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': 'sha256=' + createHmac('sha256', secret).update(body).digest('hex') } });
}
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const target = new URL(url);
const latencies = new Array(requests);
const status = {};
let errors = 0, next = 0;
function send(d) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: d.headers, agent }, (res) => {
      res.resume();
      res.on('end', () => { status[res.statusCode] = (status[res.statusCode] || 0) + 1; resolve(performance.now() - started); });
    });
    req.on('error', () => { errors++; resolve(performance.now() - started); });
    req.end(d.body);
  });
}
async function worker() { while (next < requests) { const i = next++; latencies[i] = await send(deliveries[i]); } }
(async () => {
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const durationMs = performance.now() - started;
  agent.destroy();
  process.stdout.write(JSON.stringify({ durationMs, latencies, status, errors }));
})();
`;

export async function benchIngress(options: IngressOptions = {}): Promise<IngressResult> {
  const requests = options.requests ?? 20_000;
  const concurrency = options.concurrency ?? 32;
  const template = loadTemplate(join(ROOT, 'AutoScaler', 'template.yaml'));
  const names = { ...parameterDefaults(template), ...runnerLabelsImport(template, DEFAULT_POOL_LABELS), EventBus: 'bench', EventBusName: 'bench', 'AWS::StackName': 'bench', 'AWS::Region': 'us-east-1', 'AWS::AccountId': '000000000000' };
  let matched = 0;
  const bus = new LocalBus({
    rules: rulesFromTemplate(template, 'StateMachine', names),
    busName: 'bench',
    startExecution: async () => {
      matched += 1;
      return {};
    },
    history: 0,
  });
  const handler = createWebhookHandler({ secrets: async () => [SECRET], bus, servedLabels: DEFAULT_POOL_LABELS });
  const handlerTimes: number[] = [];
  const server = createServer(async (request, response) => {
    const body = await readBody(request);
    const started = performance.now();
    const result = await handler(toApiGatewayEvent(request, body, Date.now()));
    handlerTimes.push(performance.now() - started);
    response.writeHead(result.statusCode, result.headers).end(result.body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
  try {
    const child = spawn(process.execPath, ['-e', CLIENT, JSON.stringify({ url, secret: SECRET, requests, concurrency, labels: DEFAULT_POOL_LABELS, root: ROOT })], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    const report = await new Promise<{ durationMs: number; latencies: number[]; status: Record<string, number>; errors: number }>((resolveReport, reject) => {
      child.once('error', reject);
      child.once('close', (code) => (code ? reject(new Error(`load client exited with ${code}`)) : resolveReport(JSON.parse(output))));
    });
    await bus.stop();
    const rps = (requests / report.durationMs) * 1000;
    return {
      machine: machineInfo(),
      requests,
      concurrency,
      durationMs: round(report.durationMs),
      requestsPerSecond: round(rps, 0),
      handlerLatencyMs: { p50: round(percentile(handlerTimes, 50), 3), p99: round(percentile(handlerTimes, 99), 3), max: round(Math.max(...handlerTimes), 3) },
      roundTripMs: { p50: round(percentile(report.latencies, 50), 3), p99: round(percentile(report.latencies, 99), 3) },
      statusCounts: report.status,
      errors: report.errors + Object.entries(report.status).filter(([s]) => !s.startsWith('2')).reduce((n, [, c]) => n + c, 0),
      eventsMatched: matched,
      goal: { requestsPerSecond: 2000, met: rps >= 2000 },
    };
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

runStandalone(typeof module === 'undefined' ? undefined : module, () =>
  benchIngress({ requests: Number(process.env.BENCH_REQUESTS) || undefined, concurrency: Number(process.env.BENCH_CONCURRENCY) || undefined }),
);
