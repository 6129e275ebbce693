import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exponential, logNormal, seededRandom, uniform, type Random } from '../sim/random';
import { formatTrace, peakConcurrency, type TraceJob } from '../sim/trace';

/**
 * The sample workloads in bench/traces/, from a fixed seed (npm run trace:generate).
 * Durations are log-normal (heavy right tail: most jobs take minutes, a few
 * take an hour), capped at 3 h. Labels are what `runs-on` asks for, always a
 * subset of the default pool's labels, sometimes shorter.
 *
 *  steady-workday    one day; Poisson arrivals at ~6/min from 08:00 to 18:00, ~0.5/min at night
 *  monorepo-bursts   one workday; every few minutes a push fans out into a matrix of 20-150 jobs within seconds
 *  nightly-batch     one day; 1,600 jobs released over 5 minutes at 02:00, 400 more at 03:30, a trickle by day
 *  spiky-low-volume  a week; one job every ~10 min, plus 4-8 spikes of 15-50 jobs each day
 */
const LABEL_SETS = [['self-hosted', 'linux', 'x64'], ['self-hosted', 'linux'], ['self-hosted']];
const HOUR = 3600;

function duration(random: Random, median: number, sigma: number): number {
  return Math.round(Math.min(3 * HOUR, Math.max(5, logNormal(random, median, sigma))));
}

function labels(random: Random): string[] {
  const r = random();
  return LABEL_SETS[r < 0.8 ? 0 : r < 0.95 ? 1 : 2];
}

class TraceBuilder {
  readonly jobs: TraceJob[] = [];
  constructor(
    private readonly prefix: string,
    readonly random: Random,
  ) {}

  add(queuedAt: number, durationSeconds: number): void {
    this.jobs.push({ id: `${this.prefix}-${this.jobs.length + 1}`, queuedAt: Number(queuedAt.toFixed(3)), durationSeconds, labels: labels(this.random) });
  }

  /** Poisson arrivals at `perMinute` between two times of day (seconds). */
  poisson(from: number, to: number, perMinute: number, median: number, sigma: number): void {
    for (let t = from + exponential(this.random, 60 / perMinute); t < to; t += exponential(this.random, 60 / perMinute)) this.add(t, duration(this.random, median, sigma));
  }

  build(): TraceJob[] {
    return this.jobs.sort((a, b) => a.queuedAt - b.queuedAt);
  }
}

export function steadyWorkday(seed = 101): TraceJob[] {
  const b = new TraceBuilder('steady', seededRandom(seed));
  b.poisson(0, 8 * HOUR, 0.5, 240, 0.9);
  b.poisson(8 * HOUR, 18 * HOUR, 6, 240, 0.9);
  b.poisson(18 * HOUR, 24 * HOUR, 0.5, 240, 0.9);
  return b.build();
}

export function monorepoBursts(seed = 202): TraceJob[] {
  const b = new TraceBuilder('monorepo', seededRandom(seed));
  for (let t = 8 * HOUR; t < 18 * HOUR; t += uniform(b.random, 240, 720)) {
    const matrix = Math.round(uniform(b.random, 20, 150));
    for (let i = 0; i < matrix; i++) b.add(t + uniform(b.random, 0, 10), duration(b.random, 360, 0.8));
  }
  b.poisson(0, 24 * HOUR, 0.2, 300, 0.9);
  return b.build();
}

export function nightlyBatch(seed = 303): TraceJob[] {
  const b = new TraceBuilder('nightly', seededRandom(seed));
  for (let i = 0; i < 1600; i++) b.add(2 * HOUR + uniform(b.random, 0, 300), duration(b.random, 600, 0.7));
  for (let i = 0; i < 400; i++) b.add(3.5 * HOUR + uniform(b.random, 0, 120), duration(b.random, 900, 0.6));
  b.poisson(8 * HOUR, 20 * HOUR, 1, 300, 0.9);
  return b.build();
}

export function spikyLowVolume(seed = 404): TraceJob[] {
  const b = new TraceBuilder('spiky', seededRandom(seed));
  const days = 7;
  b.poisson(0, days * 24 * HOUR, 1 / 10, 180, 1.0);
  for (let day = 0; day < days; day++) {
    const spikes = Math.round(uniform(b.random, 4, 8));
    for (let s = 0; s < spikes; s++) {
      const at = day * 24 * HOUR + uniform(b.random, 7 * HOUR, 21 * HOUR);
      const size = Math.round(uniform(b.random, 15, 50));
      for (let i = 0; i < size; i++) b.add(at + uniform(b.random, 0, 60), duration(b.random, 240, 1.0));
    }
  }
  return b.build();
}

export const SAMPLE_TRACES: Record<string, () => TraceJob[]> = {
  'steady-workday': steadyWorkday,
  'monorepo-bursts': monorepoBursts,
  'nightly-batch': nightlyBatch,
  'spiky-low-volume': spikyLowVolume,
};

export const TRACE_DIR = join(__dirname, 'traces');

if (require.main === module) {
  mkdirSync(TRACE_DIR, { recursive: true });
  for (const [name, generate] of Object.entries(SAMPLE_TRACES)) {
    const jobs = generate();
    writeFileSync(join(TRACE_DIR, `${name}.jsonl`), formatTrace(jobs));
    const hours = jobs.reduce((sum, job) => sum + job.durationSeconds, 0) / HOUR;
    console.log(`${name}.jsonl  ${jobs.length} jobs, ${hours.toFixed(0)} job-hours, peak concurrency ${peakConcurrency(jobs)}`);
  }
}
