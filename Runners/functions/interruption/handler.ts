import { createInterruptionHandler } from '../../src/interruption';
import { realInterruptionDeps } from '../../src/real-deps';

export const handler = createInterruptionHandler(realInterruptionDeps);
