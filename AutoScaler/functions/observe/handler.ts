import { observe } from '../../src/observe';
import { realAutoScalerDeps } from '../../src/real-deps/github';
import { createTaskHandler } from '../../src/task-handler';

/** Task state "Observe" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler(observe, realAutoScalerDeps);
