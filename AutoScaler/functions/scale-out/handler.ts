import { scaleOut } from '../../src/scale-out';
import { realFleetDeps } from '../../src/real-deps/fleet';
import { createTaskHandler } from '../../src/task-handler';

/** Task state "ScaleOut" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler(scaleOut, realFleetDeps);
