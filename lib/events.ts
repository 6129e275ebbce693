import * as z from 'zod';
import { WORKFLOW_JOB_ACTIONS } from './event-names';

/**
 * The contract between the Infrastructure stack (producer) and the AutoScaler
 * stack (consumer): one slim EventBridge event per accepted `workflow_job`
 * delivery. Only what scaling needs travels: never the full payload.
 */
export { EVENT_SOURCE, SCALING_ACTIONS, WORKFLOW_JOB_ACTIONS, WORKFLOW_JOB_DETAIL_TYPE } from './event-names';

export const workflowJobActionSchema = z.enum(WORKFLOW_JOB_ACTIONS);

export const workflowJobEventSchema = z.object({
  deliveryId: z.string().min(1).max(100),
  event: z.literal('workflow_job'),
  action: workflowJobActionSchema,
  jobId: z.number().int().nonnegative(),
  runId: z.number().int().nonnegative(),
  runAttempt: z.number().int().positive(),
  /** Lower-cased, de-duplicated `runs-on` labels of the job. */
  labels: z.array(z.string()),
  /** `owner/name` */
  repository: z.string().min(1),
  owner: z.string().min(1),
  installationId: z.number().int().nullable(),
  runnerName: z.string().nullable(),
  runnerId: z.number().int().nullable(),
  createdAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  status: z.string(),
  conclusion: z.string().nullable(),
  /** When the webhook function accepted the delivery (ISO 8601). */
  receivedAt: z.string(),
});

export type WorkflowJobEvent = z.infer<typeof workflowJobEventSchema>;
export type WorkflowJobAction = z.infer<typeof workflowJobActionSchema>;

/** The EventBridge envelope as a rule target (Step Functions) receives it. */
export interface BusEnvelope<TDetail> {
  version?: string;
  id: string;
  'detail-type': string;
  source: string;
  account?: string;
  time: string;
  region?: string;
  resources?: string[];
  detail: TDetail;
}
