import * as z from 'zod';

/**
 * A workload trace: JSON Lines, one job a line,
 *   {"id": "...", "queuedAt": <seconds from trace start>, "durationSeconds": <n>, "labels": ["self-hosted", ...]}
 * A bad line is reported with its line number and skipped, never silently.
 */
export const traceJobSchema = z
  .object({
    id: z.union([z.string().min(1).max(200), z.number().int().nonnegative()]).transform(String),
    queuedAt: z.number().finite().nonnegative(),
    durationSeconds: z.number().finite().positive().max(7 * 24 * 3600),
    labels: z.array(z.string().min(1).max(100)).min(1).max(50),
  })
  .strict();

export type TraceJob = z.output<typeof traceJobSchema>;

export interface TraceProblem {
  line: number;
  message: string;
}

export interface Trace {
  jobs: TraceJob[];
  problems: TraceProblem[];
}

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || 'line'}: ${issue.message}`).join('; ');
}

export function parseTrace(text: string): Trace {
  const jobs: TraceJob[] = [];
  const problems: TraceProblem[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = index + 1;
    const content = raw.trim();
    if (content === '' || content.startsWith('#')) return;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      problems.push({ line, message: `not JSON: ${(error as Error).message}` });
      return;
    }
    const parsed = traceJobSchema.safeParse(value);
    if (!parsed.success) {
      problems.push({ line, message: describe(parsed.error) });
      return;
    }
    if (seen.has(parsed.data.id)) {
      problems.push({ line, message: `duplicate job id "${parsed.data.id}"` });
      return;
    }
    seen.add(parsed.data.id);
    jobs.push(parsed.data);
  });
  jobs.sort((a, b) => a.queuedAt - b.queuedAt);
  return { jobs, problems };
}

export function formatTrace(jobs: readonly TraceJob[]): string {
  return jobs.map((job) => JSON.stringify(job)).join('\n') + '\n';
}

/** Peak number of jobs running at once if every job started the moment it was queued. */
export function peakConcurrency(jobs: readonly Pick<TraceJob, 'queuedAt' | 'durationSeconds'>[]): number {
  const edges: Array<[number, number]> = [];
  for (const job of jobs) {
    edges.push([job.queuedAt, 1], [job.queuedAt + job.durationSeconds, -1]);
  }
  // Ends before starts at the same instant: a job ending at t frees its runner for one starting at t.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let running = 0;
  let peak = 0;
  for (const [, delta] of edges) {
    running += delta;
    peak = Math.max(peak, running);
  }
  return peak;
}
