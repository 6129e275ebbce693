import { decideStep, type DecideInput } from '../../src/decide';
import { createTaskHandler } from '../../src/task-handler';

/** Task state "Decide" of statemachine/autoscaler.asl.json: the pure policy, no clients at all. */
export const handler = createTaskHandler(async (_deps: object, input: DecideInput) => decideStep(input), () => ({}));
