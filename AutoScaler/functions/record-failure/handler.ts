import { realAutoScalerDeps } from '../../src/deps';
import { createTaskHandler } from '../../src/handlers';

/** Task state "RecordFailure" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler('RecordFailure', realAutoScalerDeps);
