import { createJitConfigHandler } from '../../src/jit-config';
import { realJitConfigDeps } from '../../src/real-deps';

export const handler = createJitConfigHandler(realJitConfigDeps);
