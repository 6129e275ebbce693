// zod/mini: the same validation as classic zod at a fraction of the bundle size (the webhook's size budget is tight).
import * as z from 'zod/mini';
import { englishMessages } from '../../lib/config';
import { SCALING_ACTIONS } from '../../lib/event-names';
import type { WorkflowJobEvent } from '../../lib/events';
import { normalizeLabels } from '../../lib/labels';

/**
 * The part of GitHub's `workflow_job` payload that scaling needs, validated.
 * Everything else in the (large) payload is ignored and never travels further.
 * Bounds keep a hostile but correctly signed body from producing an event the
 * bus would refuse (256 KB entry limit) or a label set nobody can serve.
 * Only scaling actions get here: the handler answers the others before.
 */
const MAX_LABELS = 100;
const MAX_TEXT = 1000;

const text = z.string().check(z.maxLength(MAX_TEXT));
const nullableText = z.pipe(z.nullish(text), z.transform((value) => value ?? null));
const id = z.int().check(z.nonnegative(), z.maximum(Number.MAX_SAFE_INTEGER));

const workflowJobPayloadSchema = z.object({
  action: z.enum(SCALING_ACTIONS),
  workflow_job: z.object({
    id,
    run_id: id,
    // Older deliveries (before re-runs existed) have no run_attempt: that is attempt 1.
    run_attempt: z.nullish(z.int().check(z.positive(), z.maximum(Number.MAX_SAFE_INTEGER))),
    labels: z.array(z.string().check(z.maxLength(255))).check(z.maxLength(MAX_LABELS)),
    status: text,
    conclusion: nullableText,
    runner_name: nullableText,
    runner_id: z.pipe(z.nullish(id), z.transform((value) => value ?? null)),
    created_at: nullableText,
    started_at: nullableText,
    completed_at: nullableText,
  }),
  repository: z.object({
    full_name: z.string().check(z.minLength(3), z.maxLength(200), z.regex(/^[^/\s]+\/[^/\s]+$/, 'must be owner/name')),
    owner: z.object({ login: z.string().check(z.minLength(1), z.maxLength(100)) }),
  }),
  installation: z.nullish(z.object({ id })),
});

export type SlimEventResult = { ok: true; event: WorkflowJobEvent } | { ok: false; reason: string };

/** One line saying what is wrong, e.g. `workflow_job.run_id: expected number, received string`. */
function firstProblem(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  const issue = error.issues[0];
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : 'payload';
  return `${path}: ${issue.message}`.replace(/\s+/g, ' ').slice(0, 300);
}

export function buildSlimEvent(payload: unknown, deliveryId: string, receivedAt: Date): SlimEventResult {
  // zod's English messages whether or not the process has loaded them (zod/mini has only "Invalid input").
  const parsed = workflowJobPayloadSchema.safeParse(payload, { error: englishMessages() });
  if (!parsed.success) return { ok: false, reason: `workflow_job payload is incomplete: ${firstProblem(parsed.error)}` };
  const { action, workflow_job: job, repository, installation } = parsed.data;
  return {
    ok: true,
    event: {
      deliveryId,
      event: 'workflow_job',
      action,
      jobId: job.id,
      runId: job.run_id,
      runAttempt: job.run_attempt ?? 1,
      labels: normalizeLabels(job.labels),
      repository: repository.full_name,
      owner: repository.owner.login,
      installationId: installation?.id ?? null,
      runnerName: job.runner_name,
      runnerId: job.runner_id,
      createdAt: job.created_at,
      startedAt: job.started_at,
      completedAt: job.completed_at,
      status: job.status,
      conclusion: job.conclusion,
      receivedAt: receivedAt.toISOString(),
    },
  };
}
