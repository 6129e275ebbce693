import { realAutoScalerDeps } from '../../src/deps';
import { createTaskHandler } from '../../src/handlers';

/** Task state "RecordEvent" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler('RecordEvent', realAutoScalerDeps);
