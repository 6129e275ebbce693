import { randomUUID } from 'node:crypto';
import { EVENT_SOURCE, WORKFLOW_JOB_DETAIL_TYPE, workflowJobEventSchema } from '../../lib/events';
import { DEFAULT_POOL_LABELS, runnerCanTakeJob } from '../../lib/labels';
import { jobEventFromWorkflowJob, recordDelivery, recordJobEvent } from '../../lib/ledger';
import type { StoreDeps } from './deps';
import { classifyErrors, InvalidInputError } from './errors';
import type { RunState } from './state';

export interface RecordEventInput {
  /** The execution input: an EventBridge envelope, or the schedule rule's constant input. */
  input: unknown;
  /** `$$.Execution` (Id in AWS; local runners may only have StartTime). */
  execution?: { Id?: string; Name?: string } | null;
}

export function isReconcileTrigger(input: unknown): boolean {
  if (!input || typeof input !== 'object') return false;
  const record = input as Record<string, unknown>;
  return record.trigger === 'reconcile' || (record.source === 'aws.events' && record['detail-type'] === 'Scheduled Event');
}

/**
 * First step: tells the reconcile schedule from a workflow_job event, and
 * records the event in the ledger exactly once per delivery. Jobs whose labels
 * the pool does not serve and redelivered webhooks end the execution here.
 */
export async function recordEvent(deps: StoreDeps, request: RecordEventInput): Promise<RunState> {
  const executionId = request.execution?.Id ?? request.execution?.Name ?? `local-${randomUUID()}`;
  const base: RunState = { executionId, trigger: 'workflow_job', skip: false, skipReason: null, job: null, reconcile: null, attempt: 0 };
  const input = request.input;
  if (isReconcileTrigger(input)) return { ...base, trigger: 'reconcile' };

  const envelope = (input ?? {}) as Record<string, unknown>;
  if (envelope.source !== EVENT_SOURCE || envelope['detail-type'] !== WORKFLOW_JOB_DETAIL_TYPE) {
    throw new InvalidInputError(
      `expected a ${EVENT_SOURCE} ${WORKFLOW_JOB_DETAIL_TYPE} event or {"trigger":"reconcile"}, got source=${String(envelope.source)} detail-type=${String(envelope['detail-type'])}`,
    );
  }
  const parsed = workflowJobEventSchema.safeParse(envelope.detail);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(detail)'}: ${issue.message}`);
    throw new InvalidInputError(`invalid workflow_job detail: ${fields.join('; ')}`);
  }
  const detail = parsed.data;
  const { doc, tableName, pool, clock, logger } = deps;

  return classifyErrors('RecordEvent', async () => {
    // The webhook forwarded only jobs these labels serve (it filters on the same RUNNER_LABELS): this check
    // costs no DynamoDB read and keeps a hand-put event on the bus from counting as demand.
    const poolLabels = deps.labels ?? DEFAULT_POOL_LABELS;
    if (!runnerCanTakeJob(poolLabels, detail.labels)) {
      logger.info('job labels not served by this pool', { jobId: detail.jobId, labels: detail.labels, poolLabels });
      return { ...base, skip: true, skipReason: `labels [${detail.labels.join(', ')}] are not served by pool ${pool} [${poolLabels.join(', ')}]` };
    }
    const now = clock.now();
    if ((await recordDelivery(doc, tableName, detail.deliveryId, executionId, now)) === 'duplicate') {
      logger.info('duplicate delivery', { deliveryId: detail.deliveryId, jobId: detail.jobId });
      deps.metrics?.addMetric('DuplicateDeliveries', 'Count', 1);
      return { ...base, skip: true, skipReason: `delivery ${detail.deliveryId} was already handled` };
    }
    const transition = await recordJobEvent(doc, tableName, jobEventFromWorkflowJob(detail, pool, now));
    logger.info('job event recorded', { jobId: detail.jobId, action: detail.action, ledger: transition.reason });
    return { ...base, job: { jobId: detail.jobId, action: detail.action, ledger: transition.reason } };
  });
}
