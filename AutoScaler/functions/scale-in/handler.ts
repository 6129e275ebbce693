import { realAutoScalerDeps } from '../../src/deps';
import { createTaskHandler } from '../../src/handlers';

/** Task state "ScaleIn" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler('ScaleIn', realAutoScalerDeps);
