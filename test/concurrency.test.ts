import { forEachWithConcurrency } from '../lib/concurrency';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('forEachWithConcurrency', () => {
  it('runs every item, never more than the limit at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachWithConcurrency(Array.from({ length: 23 }, (_, i) => i), 4, async (item) => {
      running += 1;
      most = Math.max(most, running);
      await pause(item % 3);
      running -= 1;
      done.push(item);
    });
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(most).toBe(4);
  });

  it('after a failure starts nothing more, lets the running ones finish, then throws the first failure', async () => {
    const started: number[] = [];
    const finished: number[] = [];
    const run = forEachWithConcurrency(Array.from({ length: 20 }, (_, i) => i), 3, async (item) => {
      started.push(item);
      await pause(item === 0 ? 40 : item === 1 ? 5 : 1);
      if (item === 1) throw new Error('item 1 failed');
      finished.push(item);
    });
    await expect(run).rejects.toThrow('item 1 failed');
    // Item 0 was still running when 1 failed: it finished before the call rejected.
    expect(finished).toContain(0);
    expect(started.length).toBeLessThan(20);
    expect(started.every((item) => item === 1 || finished.includes(item))).toBe(true);
  });
});
