import { realAutoScalerDeps } from '../../src/deps';
import { createTaskHandler } from '../../src/handlers';

/** Task state "ScaleOut" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler('ScaleOut', realAutoScalerDeps);
