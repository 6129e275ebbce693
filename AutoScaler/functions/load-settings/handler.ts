import { realAutoScalerDeps } from '../../src/deps';
import { createTaskHandler } from '../../src/handlers';

/** Task state "LoadSettings" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler('LoadSettings', realAutoScalerDeps);
