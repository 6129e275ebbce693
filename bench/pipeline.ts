import '../lib/polyfills';
import '../local/esm-interop';
import { Agent, request } from 'node:http';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { readActivity } from '../lib/activity';
import { startLocalStack } from '../local/stack';
import { machineInfo, percentile, round, runStandalone, signedDelivery, workflowJobPayload, type MachineInfo } from './support';

/**
 * The whole local pipeline under a burst: startLocalStack (real webhook
 * handler, LocalBus with the template's rules, the real ASL file in
 * aws-local-stepfunctions with the real Task handlers, dynalite, the
 * simulated fleet), then `jobs` queued workflow_job deliveries posted at once.
 *
 * Measured: from the first delivery until the fleet's desired capacity has
 * not changed for `settleMs` (and its final value); for each job, from
 * "webhook accepted (2xx)" to the first SetDesiredCapacity call whose target
 * covers the job's rank (the k-th accepted job is covered by a target >= k);
 * and every DynamoDB call the stack made. The calls are observed by wrapping
 * the stack's ScalingGroupPort (what the ScaleOut step calls) and by a
 * middleware on its DynamoDB client; nothing in local/ changes for this.
 */
export interface PipelineOptions {
  jobs?: number;
  concurrency?: number;
  /** Send one delivery every paceMs instead of a burst: the path's own latency, without queueing behind other executions. */
  paceMs?: number;
  settleMs?: number;
  timeoutMs?: number;
}

export interface PipelineResult {
  machine: MachineInfo;
  jobs: number;
  /** 0 for a burst. */
  paceMs: number;
  accepted: number;
  rejected: number;
  settings: { floor: number; max: number; headroom: number };
  /** First delivery sent → desired capacity last changed (then stable for settleMs). */
  settleMs: number;
  settled: boolean;
  finalDesired: number;
  setDesiredCalls: number;
  executions: { succeeded: number; failed: number; running: number };
  /** Webhook accepted → SetDesiredCapacity covering the job. */
  acceptedToScalingMs: { p50: number; p99: number; max: number; covered: number };
  /**
   * Every DynamoDB call the stack made while the run lasted (the executions',
   * the dashboard sampler's): how many per accepted delivery, and how long they
   * took end to end. In one process these calls run one after another on
   * dynalite, so their total is a floor under the burst's settle time.
   */
  dynamodb: {
    calls: number;
    callsPerDelivery: number;
    byOperation: Record<string, number>;
    /** One GetItem at a time on the same dynalite after the run: its cost with nothing queued in front of it. */
    serialCallMs: number;
    recordCallsPerJob: number;
    /**
     * A floor under the burst's p99: a job is covered only after it is in the
     * ledger, and recording one takes RECORD_CALLS_PER_JOB calls; in one
     * process the first 99 % of the jobs' recording calls alone take this long.
     */
    recordFloorP99Ms: number;
  };
  goal: { p99Ms: number; met: boolean };
}

/** RecordEvent's calls for a new queued job: the delivery id (PutItem), the job (PutItem); the labels come from its configuration. */
const RECORD_CALLS_PER_JOB = 2;

async function serialGetItemMs(doc: DynamoDBDocumentClient, tableName: string, pool: string, calls = 300): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < calls; i += 1) await readActivity(doc, tableName, pool);
  return (performance.now() - started) / calls;
}

export async function benchPipeline(options: PipelineOptions = {}): Promise<PipelineResult> {
  const jobs = options.jobs ?? 1000;
  const concurrency = options.concurrency ?? 32;
  const settleMs = options.settleMs ?? 2000;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const settings = { floor: 1, max: Math.max(1000, jobs + 10), headroom: 0, scaleOutCooldownSeconds: 0, scaleInCooldownSeconds: 3600 };
  const stack = await startLocalStack({
    port: 0,
    logLevel: 'SILENT',
    // Instances stay booting for the whole run: the fleet only grows, and nothing scales in.
    bootSeconds: 3600,
    reconcileSeconds: 3600,
    sampleMs: 60_000,
    settings,
  });
  try {
    const calls: Array<{ at: number; desired: number }> = [];
    const group = stack.scalingGroup;
    const original = group.setDesiredCapacity.bind(group);
    group.setDesiredCapacity = async (desired: number) => {
      await original(desired);
      calls.push({ at: performance.now(), desired });
    };
    const dynamoCalls: Record<string, number> = {};
    stack.doc.middlewareStack.add(
      (next, context) => async (args) => {
        const operation = String(context.commandName ?? 'unknown').replace(/Command$/, '');
        dynamoCalls[operation] = (dynamoCalls[operation] ?? 0) + 1;
        return next(args);
      },
      { step: 'initialize', name: 'benchDynamoCalls' },
    );
    let lastChange = performance.now();
    let lastDesired = (await group.describe()).desired;
    const labels = (await stack.state()).labels;
    const deliveries = Array.from({ length: jobs }, (_, i) => signedDelivery(stack.webhookSecret, workflowJobPayload(7_000_000 + i, labels)));
    const url = new URL(stack.urls.webhook);
    const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
    const acceptedAt: number[] = [];
    let rejected = 0;
    const post = (i: number) =>
      new Promise<void>((resolvePost) => {
        const d = deliveries[i];
        const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { ...d.headers, 'content-length': Buffer.byteLength(d.body) }, agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode && res.statusCode < 300) acceptedAt.push(performance.now());
            else rejected += 1;
            resolvePost();
          });
        });
        req.on('error', () => {
          rejected += 1;
          resolvePost();
        });
        req.end(d.body);
      });
    const started = performance.now();
    let next = 0;
    const paceMs = options.paceMs ?? 0;
    await Promise.all(
      Array.from({ length: paceMs > 0 ? 1 : concurrency }, async () => {
        while (next < jobs) {
          await post(next++);
          if (paceMs > 0) await new Promise((r) => setTimeout(r, paceMs));
        }
      }),
    );
    agent.destroy();
    let settled = false;
    while (performance.now() - started < timeoutMs) {
      await new Promise((r) => setTimeout(r, 50));
      const desired = (await group.describe()).desired;
      if (desired !== lastDesired) {
        lastDesired = desired;
        lastChange = performance.now();
      }
      const state = await stack.state();
      if (state.executions.running === 0 && performance.now() - lastChange >= settleMs && desired >= Math.min(settings.max, acceptedAt.length)) {
        settled = true;
        break;
      }
    }
    const lastCall = calls.at(-1);
    const settledAt = Math.max(lastChange, lastCall?.at ?? started);
    // The k-th accepted job (1-based, in acceptance order) is covered by the first call at or after its acceptance with a target >= k.
    acceptedAt.sort((a, b) => a - b);
    const latencies: number[] = [];
    for (let k = 0; k < acceptedAt.length; k += 1) {
      const rank = Math.min(k + 1, settings.max);
      const cover = calls.find((c) => c.at >= acceptedAt[k] && c.desired >= rank);
      if (cover) latencies.push(cover.at - acceptedAt[k]);
    }
    const state = await stack.state();
    const p99 = percentile(latencies, 99);
    const dynamoTotal = Object.values(dynamoCalls).reduce((a, b) => a + b, 0);
    const serialCallMs = await serialGetItemMs(stack.doc, stack.tableName, stack.pool);
    return {
      machine: machineInfo(),
      jobs,
      paceMs,
      accepted: acceptedAt.length,
      rejected,
      settings: { floor: settings.floor, max: settings.max, headroom: settings.headroom },
      settleMs: round(settledAt - started, 0),
      settled,
      finalDesired: lastDesired,
      setDesiredCalls: calls.length,
      executions: state.executions,
      acceptedToScalingMs: { p50: round(percentile(latencies, 50), 1), p99: round(p99, 1), max: round(Math.max(0, ...latencies), 1), covered: latencies.length },
      dynamodb: {
        calls: dynamoTotal,
        callsPerDelivery: round(dynamoTotal / Math.max(1, acceptedAt.length), 1),
        byOperation: Object.fromEntries(Object.entries(dynamoCalls).sort(([a], [b]) => a.localeCompare(b))),
        serialCallMs: round(serialCallMs, 2),
        recordCallsPerJob: RECORD_CALLS_PER_JOB,
        recordFloorP99Ms: round(Math.ceil(acceptedAt.length * 0.99) * RECORD_CALLS_PER_JOB * serialCallMs, 0),
      },
      goal: { p99Ms: 50, met: latencies.length === acceptedAt.length && p99 < 50 },
    };
  } finally {
    await stack.stop();
  }
}

runStandalone(typeof module === 'undefined' ? undefined : module, () => benchPipeline({ jobs: Number(process.env.BENCH_JOBS) || undefined }));
