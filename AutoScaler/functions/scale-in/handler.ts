import { scaleIn } from '../../src/scale-in';
import { realAutoScalerDeps } from '../../src/real-deps/github';
import { createTaskHandler } from '../../src/task-handler';

/** Task state "ScaleIn" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler(scaleIn, realAutoScalerDeps);
