/**
 * The names of the event contract (lib/events.ts), without zod: a function
 * that only needs to stamp or match events (the webhook) imports these and
 * keeps the schema library out of its bundle. lib/events.ts re-exports them.
 */
export const EVENT_SOURCE = 'runner-autoscaler.github';
export const WORKFLOW_JOB_DETAIL_TYPE = 'workflow_job';
export const WORKFLOW_JOB_ACTIONS = ['queued', 'waiting', 'in_progress', 'completed'] as const;
export const SCALING_ACTIONS = ['queued', 'in_progress', 'completed'] as const;
