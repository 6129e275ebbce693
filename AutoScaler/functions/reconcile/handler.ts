import { realAutoScalerDeps } from '../../src/deps';
import { createTaskHandler } from '../../src/handlers';

/** Task state "Reconcile" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler('Reconcile', realAutoScalerDeps);
