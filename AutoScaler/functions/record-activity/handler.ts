import { realAutoScalerDeps } from '../../src/deps';
import { createTaskHandler } from '../../src/handlers';

/** Task state "RecordActivity" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler('RecordActivity', realAutoScalerDeps);
