import { recordActivity } from '../../src/record-activity';
import { realStoreDeps } from '../../src/real-deps/store';
import { createTaskHandler } from '../../src/task-handler';

/** Task state "RecordActivity" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler(recordActivity, realStoreDeps);
