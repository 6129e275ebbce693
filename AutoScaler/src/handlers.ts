import type { AutoScalerDeps } from './deps';
import { decideStep, type DecideInput } from './decide';
import { loadSettings } from './load-settings';
import { observe, type ObserveInput } from './observe';
import { reconcile } from './reconcile';
import { recordActivity } from './record-activity';
import { recordEvent, type RecordEventInput } from './record-event';
import { recordFailureStep, type RecordFailureInput } from './record-failure';
import { scaleIn } from './scale-in';
import { scaleOut, type ApplyInput } from './scale-out';
import type { RunState } from './state';

/**
 * The state machine's Task states (statemachine/autoscaler.asl.json), by
 * state name, each a thin call into the step it names. The Lambdas wrap one
 * each; tests and local mode hand the whole map to aws-local-stepfunctions
 * (`overrides.taskResourceLocalHandlers`).
 */
export const TASK_STATES = ['RecordEvent', 'Reconcile', 'LoadSettings', 'Observe', 'Decide', 'ScaleOut', 'ScaleIn', 'RecordActivity', 'RecordFailure'] as const;
export type TaskState = (typeof TASK_STATES)[number];

export type StateMachineHandlers = Record<TaskState, (input: any) => Promise<any>>;

export function createStateMachineHandlers(deps: AutoScalerDeps): StateMachineHandlers {
  return {
    RecordEvent: (input: RecordEventInput) => recordEvent(deps, input),
    Reconcile: () => reconcile(deps),
    LoadSettings: () => loadSettings(deps),
    Observe: (input: ObserveInput) => observe(deps, input),
    Decide: async (input: DecideInput) => decideStep(input),
    ScaleOut: (input: ApplyInput) => scaleOut(deps, input),
    ScaleIn: (input: ApplyInput) => scaleIn(deps, input),
    RecordActivity: (input: RunState) => recordActivity(deps, input),
    RecordFailure: (input: RecordFailureInput) => recordFailureStep(deps, input),
  };
}

/** The Lambdas' wrapper lives in its own module so that a function bundles only its own step. */
export { createTaskHandler } from './task-handler';
