import { realAutoScalerDeps } from '../../src/deps';
import { createTaskHandler } from '../../src/handlers';

/** Task state "Observe" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler('Observe', realAutoScalerDeps);
