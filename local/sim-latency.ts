import type { Clock } from '../lib/ports';

/**
 * Simulated time for the simulated GitHub's latency: every request takes `latencyMs` of simulated
 * time, concurrent requests overlap as they would, and local work (the code under test, dynalite,
 * HTTP on the loopback) takes none. Requests waiting for their latency are released one at a time,
 * earliest first; simulated time jumps to the released request's end. A release waits until no new
 * request arrived for `quietMs` of real time, so the requests a released one leads to are queued
 * at the simulated time they were made (a slow machine can only make simulated time longer, never
 * shorter). Tests assert budgets in this time without depending on the machine's speed.
 */
export class SimulatedLatency implements Clock {
  private time: number;
  private sequence = 0;
  private readonly waiting: Array<{ at: number; sequence: number; release: () => void }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    start: number,
    public latencyMs: number,
    private readonly quietMs = 4,
  ) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  /** Moves simulated time on (a backoff sleep of the code under test). */
  advance(ms: number): void {
    this.time += Math.max(0, ms);
  }

  /** Resolves once this request's latency has passed in simulated time. */
  wait(): Promise<void> {
    if (this.latencyMs <= 0) return Promise.resolve();
    return new Promise((release) => {
      this.waiting.push({ at: this.time + this.latencyMs, sequence: this.sequence++, release });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.releaseNext(), this.quietMs);
  }

  private releaseNext(): void {
    this.timer = undefined;
    this.waiting.sort((a, b) => a.at - b.at || a.sequence - b.sequence);
    const next = this.waiting.shift();
    if (!next) return;
    this.time = Math.max(this.time, next.at);
    next.release();
    if (this.waiting.length > 0) this.schedule();
  }
}
