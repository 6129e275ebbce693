import { loadSettings } from '../../src/load-settings';
import { realStoreDeps } from '../../src/real-deps/store';
import { createTaskHandler } from '../../src/task-handler';

/** Task state "LoadSettings" of statemachine/autoscaler.asl.json. */
export const handler = createTaskHandler(loadSettings, realStoreDeps);
