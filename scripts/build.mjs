#!/usr/bin/env node
// Bundles every Lambda (<Stack>/functions/<name>/handler.ts) with esbuild into
// dist/<Stack>/<name>/index.js, minified, for nodejs22.x on arm64. The
// templates' CodeUri points at these folders, so `sam deploy` needs no `sam build`.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/** Lambda-only credentials: see scripts/lambda-credentials.mjs for why. */
const lambdaCredentials = {
  name: 'lambda-credentials',
  setup(build) {
    build.onResolve({ filter: /^@aws-sdk\/credential-provider-node$/ }, () => ({
      path: join(root, 'scripts', 'lambda-credentials.mjs'),
    }));
  },
};
const stacks = ['Infrastructure', 'AutoScaler', 'Runners'];

export function lambdaEntries() {
  const entries = [];
  for (const stack of stacks) {
    const dir = join(root, stack, 'functions');
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const entry = join(dir, name, 'handler.ts');
      if (existsSync(entry)) entries.push({ stack, name, entry, outdir: join(root, 'dist', stack, name) });
    }
  }
  return entries;
}

async function main() {
  const sizes = {};
  const only = process.argv.slice(2);
  for (const { stack, name, entry, outdir } of lambdaEntries()) {
    if (only.length && !only.includes(name)) continue;
    mkdirSync(outdir, { recursive: true });
    await build({
      entryPoints: [entry],
      outfile: join(outdir, 'index.js'),
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node22',
      format: 'cjs',
      sourcemap: false,
      legalComments: 'none',
      // Keep the bundle self-contained: the runtime's SDK version is not ours to choose.
      external: [],
      mainFields: ['module', 'main'],
      plugins: [lambdaCredentials],
      logLevel: 'warning',
    });
    const bytes = statSync(join(outdir, 'index.js')).size;
    sizes[`${stack}/${name}`] = bytes;
    console.log(`${relative(root, join(outdir, 'index.js'))}  ${(bytes / 1024).toFixed(1)} KB`);
  }
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, 'dist', 'sizes.json'), JSON.stringify(sizes, null, 2) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
