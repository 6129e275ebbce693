import * as z from 'zod/mini';
import { WORKFLOW_JOB_ACTIONS } from './event-names';

/**
 * The contract between the Infrastructure stack (producer) and the AutoScaler
 * stack (consumer): one slim EventBridge event per accepted `workflow_job`
 * delivery. Only what scaling needs travels: never the full payload.
 */
export { EVENT_SOURCE, SCALING_ACTIONS, WORKFLOW_JOB_ACTIONS, WORKFLOW_JOB_DETAIL_TYPE } from './event-names';

// zod/mini, built in pure-annotated functions (only RecordEvent's bundle carries
// them); the messages are zod's English ones once lib/config has loaded them.
export const workflowJobActionSchema = /* @__PURE__ */ (() => z.enum(WORKFLOW_JOB_ACTIONS))();

export const workflowJobEventSchema = /* @__PURE__ */ (() =>
  z.object({
    deliveryId: z.string().check(z.minLength(1), z.maxLength(100)),
    event: z.literal('workflow_job'),
    action: workflowJobActionSchema,
    jobId: z.int().check(z.nonnegative()),
    runId: z.int().check(z.nonnegative()),
    runAttempt: z.int().check(z.positive()),
    /** Lower-cased, de-duplicated `runs-on` labels of the job. */
    labels: z.array(z.string()),
    /** `owner/name` */
    repository: z.string().check(z.minLength(1)),
    owner: z.string().check(z.minLength(1)),
    installationId: z.nullable(z.int()),
    runnerName: z.nullable(z.string()),
    runnerId: z.nullable(z.int()),
    createdAt: z.nullable(z.string()),
    startedAt: z.nullable(z.string()),
    completedAt: z.nullable(z.string()),
    status: z.string(),
    conclusion: z.nullable(z.string()),
    /** When the webhook function accepted the delivery (ISO 8601). */
    receivedAt: z.string(),
  }))();

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
