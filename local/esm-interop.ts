import { existsSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';

/**
 * Some dependencies ship ESM only, without a `require` export condition
 * (@octokit/webhooks-methods). Jest maps them (moduleNameMapper) and tsc reads
 * their types through tsconfig `paths`, but at run time tsx would follow those
 * paths to a .d.ts file. Local mode's entry points load this right after the
 * polyfills so `require` reaches the package's ESM build, which tsx compiles.
 */
const ESM_ONLY: Record<string, string> = {
  '@octokit/webhooks-methods': join('@octokit', 'webhooks-methods', 'dist-node', 'index.js'),
};

type Resolve = (request: string, parent: unknown, isMain: boolean, options?: unknown) => string;
const moduleWithResolver = Module as unknown as { _resolveFilename: Resolve; _esmInteropInstalled?: boolean };

if (!moduleWithResolver._esmInteropInstalled) {
  moduleWithResolver._esmInteropInstalled = true;
  const original = moduleWithResolver._resolveFilename;
  const roots = [join(__dirname, '..', 'node_modules'), join(process.cwd(), 'node_modules')];
  moduleWithResolver._resolveFilename = function resolveEsmOnly(this: unknown, request, parent, isMain, options) {
    const target = ESM_ONLY[request];
    if (target) {
      for (const root of roots) {
        const candidate = join(root, target);
        if (existsSync(candidate)) return candidate;
      }
    }
    return original.call(this, request, parent, isMain, options);
  };
}

export {};
