/** Runs `run` on every item, at most `concurrency` at a time, in item order of starting; rejects with the first failure. */
export async function forEachWithConcurrency<T>(items: readonly T[], concurrency: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        await run(items[index], index);
      }
    }),
  );
}
