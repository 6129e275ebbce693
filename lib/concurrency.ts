/**
 * Runs `run` on every item, at most `concurrency` at a time, starting them in
 * item order. After a failure no further item starts; the ones already
 * running finish (a Lambda that returned would freeze them half done), and
 * then the first failure is thrown.
 */
export async function forEachWithConcurrency<T>(items: readonly T[], concurrency: number, run: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length && !failure) {
        const index = next++;
        try {
          await run(items[index], index);
        } catch (error) {
          failure ??= { error };
        }
      }
    }),
  );
  if (failure) throw failure.error;
}
