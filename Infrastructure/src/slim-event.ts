import * as z from 'zod';
import { normalizeLabels } from '../../lib/labels';
import { workflowJobActionSchema, type WorkflowJobEvent } from '../../lib/events';

/**
 * The part of GitHub's `workflow_job` payload that scaling needs, validated.
 * Everything else in the (large) payload is ignored and never travels further.
 * Bounds keep a hostile but correctly signed body from producing an event the
 * bus would refuse (256 KB entry limit) or a label set nobody can serve.
 */
const MAX_LABELS = 100;
const MAX_TEXT = 1000;

const text = z.string().max(MAX_TEXT);
const optionalText = text.nullish().transform((value) => value ?? null);
const id = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const workflowJobPayloadSchema = z.object({
  action: workflowJobActionSchema,
  workflow_job: z.object({
    id,
    run_id: id,
    // Older deliveries (before re-runs existed) have no run_attempt: that is attempt 1.
    run_attempt: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).nullish(),
    labels: z.array(z.string().max(255)).max(MAX_LABELS),
    status: text,
    conclusion: optionalText,
    runner_name: optionalText,
    runner_id: id.nullish().transform((value) => value ?? null),
    created_at: optionalText,
    started_at: optionalText,
    completed_at: optionalText,
  }),
  repository: z.object({
    full_name: z.string().min(3).max(200).regex(/^[^/\s]+\/[^/\s]+$/, 'must be owner/name'),
    owner: z.object({ login: z.string().min(1).max(100) }),
  }),
  installation: z.object({ id }).nullish(),
});

export type SlimEventResult = { ok: true; event: WorkflowJobEvent } | { ok: false; reason: string };

/** One line saying what is wrong, e.g. `workflow_job.run_id: expected number, received string`. */
function firstProblem(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.length > 0 ? issue.path.join('.') : 'payload';
  return `${path}: ${issue.message}`.replace(/\s+/g, ' ').slice(0, 300);
}

export function buildSlimEvent(payload: unknown, deliveryId: string, receivedAt: Date): SlimEventResult {
  const parsed = workflowJobPayloadSchema.safeParse(payload);
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
