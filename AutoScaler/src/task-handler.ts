import type { AutoScalerMetrics } from './deps';

/**
 * One Lambda = one Task state of statemachine/autoscaler.asl.json: the step's
 * deps built once per container (by the factory given, which constructs only
 * the clients that step uses), metrics flushed (EMF) after every invocation.
 * Kept apart from handlers.ts so a function's bundle holds only its own step.
 */
export function createTaskHandler<D extends { metrics?: AutoScalerMetrics }, I, O>(
  step: (deps: D, input: I) => Promise<O>,
  deps: () => D,
): (event: I) => Promise<O> {
  return async (event: I): Promise<O> => {
    const resolved = deps();
    try {
      return await step(resolved, event);
    } finally {
      const metrics = resolved.metrics as (AutoScalerMetrics & { hasStoredMetrics?: () => boolean }) | undefined;
      // Powertools warns on an empty flush; Decide, for one, emits nothing.
      if (metrics?.hasStoredMetrics?.() !== false) metrics?.publishStoredMetrics?.();
    }
  };
}
