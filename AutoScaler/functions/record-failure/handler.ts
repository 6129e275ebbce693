import { recordFailureStep } from '../../src/record-failure';
import { realStoreDeps } from '../../src/real-deps/store';
import { createTaskHandler } from '../../src/task-handler';

/** Task state "RecordFailure" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler(recordFailureStep, realStoreDeps);
