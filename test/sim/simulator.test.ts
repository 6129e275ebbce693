import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_MODEL, type SimModel } from '../../sim/model';
import { autoscalerPolicy, perJobPolicy, seedPolicy, staticPeakPolicy } from '../../sim/policies';
import { oracleResult, percentile, runPolicy, simulate } from '../../sim/simulate';
import { parseTrace, peakConcurrency, type TraceJob } from '../../sim/trace';
import { DEFAULT_SETTINGS, type Settings } from '../../lib/settings';
import { spikyLowVolume } from '../../bench/generate-traces';

const run = promisify(execFile);

/** Deterministic model: no jitter, webhooks arrive instantly, execution 0.5 s. */
const model = (overrides: Partial<SimModel> = {}): SimModel => ({ ...DEFAULT_MODEL, bootJitterSeconds: 0, webhookDelaySeconds: 0, ...overrides });
const settings = (overrides: Partial<Settings> = {}): Settings => ({ ...DEFAULT_SETTINGS, ...overrides });
const job = (id: string, queuedAt: number, durationSeconds: number, labels = ['self-hosted', 'linux', 'x64']): TraceJob => ({ id, queuedAt, durationSeconds, labels });
const SPOT = DEFAULT_MODEL.spotPricePerHour;
const ON_DEMAND = DEFAULT_MODEL.onDemandPricePerHour;

describe('simulator accounting on hand-checked traces', () => {
  it('a single job without a floor: one spot instance from the scaling call to the end of the job', async () => {
    const { result } = await runPolicy(autoscalerPolicy(), [job('a', 10, 100)], settings({ floor: 0 }), model());
    // Webhook at 10 s, execution 0.5 s later scales out, boot 45 s: the job starts at 55.5 s and ends at 155.5 s.
    expect(result.p50WaitSeconds).toBe(45.5);
    expect(result.maxWaitSeconds).toBe(45.5);
    expect(result.spotInstanceHours).toBeCloseTo(145 / 3600, 3);
    expect(result.onDemandInstanceHours).toBe(0);
    expect(result.costUsd).toBeCloseTo((145 / 3600) * SPOT, 4);
    expect(result.instancesLaunched).toBe(1);
    expect(result.busyTerminations).toBe(0);
    // The oracle starts the same instance 45 s before the job: the same 145 s.
    expect(oracleResult([job('a', 10, 100)], settings({ floor: 0 }), model()).costUsd).toBeCloseTo(result.costUsd, 4);
  });

  it('the one-minute minimum applies to a short job', async () => {
    const { result } = await runPolicy(autoscalerPolicy(), [job('a', 0, 5)], settings({ floor: 0 }), model({ bootSeconds: 10 }));
    expect(result.spotInstanceHours).toBeCloseTo(60 / 3600, 3);
    expect(result.costUsd).toBeCloseTo((60 / 3600) * SPOT, 5);
  });

  it('two overlapping jobs with a floor of one: the first runs on the floor, the second waits one boot', async () => {
    const { result } = await runPolicy(autoscalerPolicy(), [job('a', 10, 120), job('b', 20, 60)], settings({ floor: 1 }), model());
    expect(result.p50WaitSeconds).toBe(0);
    expect(result.maxWaitSeconds).toBe(45.5);
    // Floor: on-demand from 0 to 130 s, then its replacement (the floor runner is ephemeral too), billed the 60 s minimum.
    expect(result.onDemandInstanceHours).toBeCloseTo((130 + 60) / 3600, 3);
    // Job b's spot instance: scaling call at 20.5 s, job ends at 65.5 + 60 = 125.5 s.
    expect(result.spotInstanceHours).toBeCloseTo(105 / 3600, 3);
    expect(result.costUsd).toBeCloseTo((190 / 3600) * ON_DEMAND + (105 / 3600) * SPOT, 4);
    expect(result.simulatedSeconds).toBe(130);
  });

  it('a lost queued webhook is repaired by the reconcile, and only by it', async () => {
    const lost = model({ webhookLossRate: 1, reconcileSeconds: 900, queueTimeoutSeconds: 3600 });
    const ours = await runPolicy(autoscalerPolicy(), [job('a', 10, 60)], settings({ floor: 0 }), lost);
    // Reconcile at 900 s finds the queued job at GitHub, scales out; boot 45 s.
    expect(ours.result.maxWaitSeconds).toBe(935);
    expect(ours.result.cancelledJobs).toBe(0);
    expect(ours.result.webhooksLost).toBe(3);
    // The per-job anchor never hears of the job: GitHub cancels it at the queue timeout.
    const perJob = await runPolicy(perJobPolicy(), [job('a', 10, 60)], settings({ floor: 0 }), lost);
    expect(perJob.result.cancelledJobs).toBe(1);
    expect(perJob.result.maxWaitSeconds).toBe(3600);
  });

  it('jobs with labels the pool does not serve start nothing', async () => {
    const result = await simulate([job('a', 0, 60, ['self-hosted', 'gpu']), job('b', 0, 60)], { model: model(), settingsItem: { floor: 0 } });
    expect(result.unservedJobs).toBe(1);
    expect(result.policies.autoscaler.jobs).toBe(1);
    expect(result.policies.autoscaler.instancesLaunched).toBe(1);
  });

  it('static-peak is sized to peak concurrency and never makes a job wait', async () => {
    const trace = [job('a', 0, 100), job('b', 50, 100), job('c', 60, 10), job('d', 200, 10)];
    expect(peakConcurrency(trace)).toBe(3);
    const { result } = await runPolicy(staticPeakPolicy(), trace, settings(), model());
    expect(result.maxWaitSeconds).toBe(0);
    expect(result.peakInstances).toBe(3);
    expect(result.instancesLaunched).toBe(3);
  });

  it('the per-job anchor waits its queue delay plus a boot for every job', async () => {
    const { result } = await runPolicy(perJobPolicy(), [job('a', 0, 60)], settings(), model({ perJobDelaySeconds: 30 }));
    expect(result.maxWaitSeconds).toBe(75);
    expect(result.onDemandInstanceHours).toBe(0);
  });

  it('the seed rule lets Auto Scaling kill busy runners, and the accounting sees every one', async () => {
    const trace = spikyLowVolume(7).slice(0, 400);
    const { result } = await runPolicy(seedPolicy(), trace, settings({ max: 50, scaleInCooldownSeconds: 60 }), model());
    expect(result.busyTerminations).toBeGreaterThan(0);
    expect(result.failedJobs).toBe(result.busyTerminations);
  });

  it('percentiles are nearest-rank', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 95)).toBe(4);
    expect(percentile([], 95)).toBe(0);
  });
});

describe('invariants of our policy under faults', () => {
  const trace = spikyLowVolume(11).slice(0, 600);
  const floor = 2;
  const max = 25;

  it.each([
    ['no faults', {}],
    ['lost webhooks', { webhookLossRate: 0.2 }],
    ['spot interruptions', { spotInterruptionRatePerHour: 2 }],
    ['both, with jitter and late webhooks', { webhookLossRate: 0.1, spotInterruptionRatePerHour: 1, bootJitterSeconds: 15, webhookDelaySeconds: 20 }],
  ])('%s: no busy runner killed, fleet within [floor, max], every job ran', async (_name, faults) => {
    const { result, samples } = await runPolicy(autoscalerPolicy(), trace, settings({ floor, max }), model(faults));
    expect(result.busyTerminations).toBe(0);
    expect(result.cancelledJobs).toBe(0);
    expect(result.failedJobs).toBe(result.interruptedJobs);
    expect(result.peakInstances).toBeLessThanOrEqual(max);
    for (const sample of samples) {
      expect(sample.capacity).toBeGreaterThanOrEqual(floor);
      expect(sample.capacity).toBeLessThanOrEqual(max);
    }
  });

  it('is deterministic for a seed', async () => {
    const a = await runPolicy(autoscalerPolicy(), trace, settings(), model({ bootJitterSeconds: 10, webhookDelaySeconds: 2, seed: 5 }));
    const b = await runPolicy(autoscalerPolicy(), trace, settings(), model({ bootJitterSeconds: 10, webhookDelaySeconds: 2, seed: 5 }));
    expect(a.result).toEqual(b.result);
  });
});

describe('trace parsing', () => {
  it('reports bad lines with their line numbers and keeps the good ones', () => {
    const text = [
      JSON.stringify(job('a', 5, 10)),
      '{not json',
      JSON.stringify({ id: 'b', queuedAt: -1, durationSeconds: 10, labels: ['x'] }),
      '',
      JSON.stringify({ id: 'c', queuedAt: 1, durationSeconds: 10, labels: [] }),
      JSON.stringify(job('a', 7, 10)),
      JSON.stringify({ ...job('d', 1, 10), extra: true }),
      JSON.stringify(job('e', 2, 10)),
    ].join('\n');
    const trace = parseTrace(text);
    expect(trace.jobs.map((j) => j.id)).toEqual(['e', 'a']);
    expect(trace.problems.map((p) => p.line)).toEqual([2, 3, 5, 6, 7]);
    expect(trace.problems[0].message).toMatch(/not JSON/);
    expect(trace.problems[1].message).toMatch(/queuedAt/);
    expect(trace.problems[3].message).toMatch(/duplicate job id "a"/);
  });
});

describe('npm run simulate', () => {
  const dir = mkdtempSync(join(tmpdir(), 'simulate-'));
  const tracePath = join(dir, 'trace.jsonl');
  writeFileSync(tracePath, [JSON.stringify(job('a', 10, 120)), 'garbage', JSON.stringify(job('b', 20, 60))].join('\n'));
  const cli = (args: string[]) => run(process.execPath, [require.resolve('tsx/cli'), 'sim/cli.ts', ...args], { cwd: join(__dirname, '../..') });

  it('--json prints every policy with the documented fields; bad lines go to stderr with their number', async () => {
    const settingsPath = join(dir, 'settings.json');
    writeFileSync(settingsPath, JSON.stringify({ floor: 1, max: 'ten' }));
    const { stdout, stderr } = await cli(['--trace', tracePath, '--settings', settingsPath, '--json', '--boot-jitter-seconds', '0']);
    const output = JSON.parse(stdout);
    expect(Object.keys(output.policies).sort()).toEqual(['autoscaler', 'oracle', 'per-job', 'seed', 'static-peak']);
    for (const result of Object.values<Record<string, number>>(output.policies)) {
      for (const field of ['jobs', 'p50WaitSeconds', 'p95WaitSeconds', 'maxWaitSeconds', 'instanceHours', 'costUsd', 'costRatioToOracle', 'busyTerminations', 'scaleApiCalls', 'githubApiCalls']) {
        expect(typeof result[field]).toBe('number');
      }
      expect(result.jobs).toBe(2);
    }
    expect(stderr).toMatch(/trace\.jsonl:2: skipped: not JSON/);
    // The invalid max falls back to the default, exactly as the Lambdas would, and says so.
    expect(stderr).toMatch(/settings: max: .*allowed 1\.\.10000/);
    expect(output.settings.max).toBe(DEFAULT_SETTINGS.max);
  }, 60000);

  it('--out writes report.md and one SVG chart per policy', async () => {
    const out = join(dir, 'out');
    await cli(['--trace', tracePath, '--out', out]);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/\| autoscaler \| 2 \|/);
    for (const policy of ['autoscaler', 'static-peak', 'seed', 'per-job']) {
      expect(report).toContain(`](${policy}.svg)`);
      expect(readFileSync(join(out, `${policy}.svg`), 'utf8')).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>$/);
    }
  }, 60000);

  it('a missing trace or a bad flag exits 2 and simulates nothing', async () => {
    await expect(cli(['--trace', join(dir, 'missing.jsonl')])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/ENOENT/) });
    await expect(cli(['--trace', tracePath, '--webhook-loss-rate', '2'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/webhookLossRate/) });
  }, 60000);
});
