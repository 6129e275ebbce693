import { realAutoScalerDeps } from '../../src/deps';
import { createTaskHandler } from '../../src/handlers';

/** Task state "Decide" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler('Decide', realAutoScalerDeps);
