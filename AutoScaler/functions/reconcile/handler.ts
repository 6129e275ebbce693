import { reconcile } from '../../src/reconcile';
import { realAutoScalerDeps } from '../../src/real-deps/github';
import { createTaskHandler } from '../../src/task-handler';

/** Task state "Reconcile" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler(reconcile, realAutoScalerDeps);
