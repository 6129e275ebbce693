import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/** Counts events as CloudWatch metrics (embedded metric format: a log line, no API call). */
export interface Counter {
  count(name: string, dimensions?: Record<string, string>): void;
}

export function createMetricsCounter(namespace: string, serviceName: string): Counter {
  const metrics = new Metrics({ namespace, serviceName });
  return {
    count(name, dimensions = {}) {
      // A single metric is flushed at once, so nothing is lost when the handler throws.
      const single = metrics.singleMetric();
      for (const [key, value] of Object.entries(dimensions)) single.addDimension(key, value);
      single.addMetric(name, MetricUnit.Count, 1);
    },
  };
}

/** Keeps counts in memory: local mode and tests read them back. */
export function createMemoryCounter(): Counter & { counts: Record<string, number> } {
  const counts: Record<string, number> = {};
  return {
    counts,
    count(name, dimensions = {}) {
      const key = [name, ...Object.entries(dimensions).map(([k, v]) => `${k}=${v}`)].join('|');
      counts[key] = (counts[key] ?? 0) + 1;
    },
  };
}
