import { recordEvent } from '../../src/record-event';
import { realStoreDeps } from '../../src/real-deps/store';
import { createTaskHandler } from '../../src/task-handler';

/** Task state "RecordEvent" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler(recordEvent, realStoreDeps);
