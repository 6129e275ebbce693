#!/usr/bin/env node
// Bundles every Lambda (<Stack>/functions/<name>/handler.ts) with esbuild into
// dist/<Stack>/<name>/index.js, minified, for nodejs22.x on arm64. The
// templates' CodeUri points at these folders, so `sam deploy` needs no `sam build`.
// `node scripts/build.mjs [name...] [--analyze]`: only the named functions; --analyze prints what is big.
// Every plugin below is claimed by a case of test/bundles/invoke.test.ts that runs the code it changes in the
// built bundle; that test fails for a plugin no case claims, so a new plugin comes with its case or goes.
import { analyzeMetafile, build } from 'esbuild';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

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
/** Lambda-only LRU for the SDK's endpoint cache: see scripts/lru-cache.mjs for why. */
const smallLruCache = {
  name: 'small-lru-cache',
  setup(build) {
    build.onResolve({ filter: /^mnemonist\/lru-cache(\.js)?$/ }, () => ({ path: join(root, 'scripts', 'lru-cache.mjs') }));
  },
};
/**
 * Two SDK fallbacks that cannot run inside Lambda, replaced there (4.4 KB in
 * every AWS function):
 * - a pure-JS SHA-256 (Sha256Js), used only when node:crypto has no sha256;
 *   Lambda's Node always has it;
 * - the region from EC2 instance metadata, asked only when AWS_REGION is not
 *   set; Lambda always sets it and has no instance metadata service (the SDK's
 *   own answer there is undefined after a failed request, as here).
 */
const lambdaRuntimeOnly = {
  name: 'lambda-runtime-only',
  setup(build) {
    build.onLoad({ filter: /[\\/]@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]checksum[\\/]sha256[\\/]Sha256Node\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const line = 'import { Sha256Js } from "./Sha256Js";';
      if (!source.includes(line)) throw new Error(`${args.path}: expected ${line} (scripts/build.mjs lambda-runtime-only)`);
      const stub = 'const Sha256Js = class { constructor() { throw new Error("no native sha256 in node:crypto (the JS fallback is not bundled, scripts/build.mjs)"); } };';
      return { contents: source.replace(line, stub), loader: 'js' };
    });
    build.onLoad({ filter: /[\\/]@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]config[\\/]config-resolver[\\/]regionConfig[\\/]getInstanceMetadataRegion\.js$/ }, () => ({
      contents: 'export const getInstanceMetadataRegion = async () => undefined;\n',
      loader: 'js',
    }));
  },
};
/**
 * @octokit/auth-app builds an OAuth-app authenticator for the routes that take
 * the app's client id and secret (`/applications/{client_id}/...`) and for
 * `auth({ type: 'oauth-app' | 'oauth-user' })`. The product authenticates as
 * an installation only and configures no client secret, so that authenticator
 * (with the OAuth user and device flows it brings) is replaced in the Lambdas
 * by one that says so if it is ever asked.
 */
const noOAuthApp = {
  name: 'no-oauth-app',
  setup(build) {
    build.onResolve({ filter: /^@octokit\/auth-oauth-(app|user)$/ }, (args) => ({ path: args.path, namespace: 'no-oauth-app' }));
    build.onLoad({ filter: /.*/, namespace: 'no-oauth-app' }, () => {
      // The installation hook still asks which routes need the app's basic auth: keep that test, verbatim.
      const userAuth = readFileSync(join(root, 'node_modules', '@octokit', 'auth-oauth-user', 'dist-bundle', 'index.js'), 'utf8');
      const routes = /^var ROUTES_REQUIRING_BASIC_AUTH = (\/.+\/[a-z]*);$/m.exec(userAuth)?.[1];
      if (!routes) throw new Error('@octokit/auth-oauth-user: ROUTES_REQUIRING_BASIC_AUTH not found (scripts/build.mjs no-oauth-app)');
      return {
        contents:
          'const no = () => async () => { throw new Error("GitHub OAuth app authentication is not bundled in this Lambda: it authenticates as an installation (scripts/build.mjs)"); };\n' +
          `export const createOAuthAppAuth = no, createOAuthUserAuth = no;\nexport function requiresBasicAuth(url) { return url && ${routes}.test(url); }\n`,
        loader: 'js',
      };
    });
  },
};
/** The product's own sources: the error classes they name are kept typed (see sdkSchemaShaking). */
const sourceDirs = ['lib', 'Infrastructure', 'AutoScaler', 'Runners'];

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith('.ts')) yield path;
  }
}

/** Every name the product imports from an `@aws-sdk/client-*` package (commands, clients, error classes). */
export function namesImportedFromSdkClients() {
  const names = new Set();
  for (const dir of sourceDirs) {
    for (const file of sourceFiles(join(root, dir))) {
      for (const [, list] of readFileSync(file, 'utf8').matchAll(/import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*'@aws-sdk\/client-[a-z0-9-]+'/g)) {
        for (const item of list.split(',')) {
          const name = item.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0].trim();
          if (name) names.add(name);
        }
      }
    }
  }
  return names;
}

/**
 * AWS SDK clients describe every shape of their service in one generated
 * `schemas/schemas_0.js` (EC2's is 1.3 MB). Two things there defeat esbuild's
 * tree shaking, and this plugin undoes both:
 *
 * - Objects use computed keys naming module-level string constants
 *   (`{ [_xN]: _m }`); esbuild must assume a computed key may run code
 *   (toString), so not one shape was dropped. Each such key is replaced by the
 *   string literal it names: nothing changes at run time, and esbuild keeps
 *   only the shapes the imported commands reach (EC2: 540 KB -> 30 KB).
 * - Every modelled error of the service is registered at load time
 *   (`registry.registerError(X$, X)`), which keeps all error classes and their
 *   shapes (SSM: 141 of them, 60 KB). Only the errors the product names in an
 *   import (ConditionalCheckFailedException, ParameterNotFound, ...) and those
 *   the SDK retries by class (`$retryable`) stay registered. Any other error
 *   still arrives as the service's base exception with its `message`, `$fault`
 *   and `$metadata` (the SDK's own fallback for codes it does not know), which
 *   is all the product and the SDK's retry strategy look at. Its `name` is
 *   the error code on the wire, which for Auto Scaling's faults is not the
 *   class name (`ScalingActivityInProgress`, not
 *   `ScalingActivityInProgressFault`): AutoScaler/src/errors.ts names both.
 *   test/bundles/ runs these errors through the shipped bundles.
 */
export function sdkSchemaShaking(keepErrors = namesImportedFromSdkClients()) {
  return {
    name: 'sdk-schema-shaking',
    setup(build) {
      build.onLoad({ filter: /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        const strings = new Map();
        for (const [, name, literal] of source.matchAll(/^const (\w+) = ("(?:[^"\\\n]|\\.)*");$/gm)) strings.set(name, literal);
        const errorsFile = join(dirname(args.path), '..', 'models', 'errors.js');
        const retryable = new Set();
        if (existsSync(errorsFile)) {
          for (const [, name, body] of readFileSync(errorsFile, 'utf8').matchAll(/^export class (\w+) extends [\w$]+ \{([\s\S]*?)^\}/gm)) {
            if (body.includes('$retryable')) retryable.add(name);
          }
        }
        const contents = source
          .replace(/\[(\w+)\](\s*):/g, (whole, name, space) => (strings.has(name) ? `${strings.get(name)}${space}:` : whole))
          .replace(/^(\w+)\.registerError\((\w+)\$, (\w+)\);$/gm, (whole, registry, schema, ctor) =>
            keepErrors.has(ctor) || retryable.has(ctor) || ctor.endsWith('ServiceException') ? whole : `/* ${ctor}: not named by the product */`,
          );
        return { contents, loader: 'js' };
      });
    },
  };
}

/**
 * The SDK loads its event-stream support with a dynamic import when an
 * operation streams events; none of the operations the Lambdas call does
 * (DynamoDB, SSM, EventBridge, Auto Scaling, EC2 are request/response), so a
 * stub that says so replaces 15 KB in every bundle.
 */
const noEventStreams = {
  name: 'no-event-streams',
  setup(build) {
    build.onResolve({ filter: /^@smithy\/core\/event-streams$/ }, () => ({ path: 'event-streams', namespace: 'no-event-streams' }));
    build.onLoad({ filter: /.*/, namespace: 'no-event-streams' }, () => ({
      contents: 'const no = () => { throw new Error("event streams are not bundled in this Lambda (scripts/build.mjs)"); };\nexport const EventStreamSerde = no, eventStreamSerdeProvider = no;\n',
      loader: 'js',
    }));
  },
};

/** SDK packages import their own package.json for the user-agent version: keep that field, not the whole manifest (2 KB per client). */
const slimPackageJson = {
  name: 'slim-package-json',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]@(aws-sdk|smithy)[\\/][^\\/]+[\\/]package\.json$/ }, (args) => {
      const { name, version } = JSON.parse(readFileSync(args.path, 'utf8'));
      return { contents: JSON.stringify({ name, version }), loader: 'json' };
    });
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

/** The esbuild options of one function's bundle (also used by bench/lambdas.ts and scripts/analyze). */
export function lambdaBuildOptions(entry, outfile) {
  return {
    entryPoints: [entry],
    outfile,
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
    plugins: [lambdaCredentials, smallLruCache, lambdaRuntimeOnly, noOAuthApp, sdkSchemaShaking(), noEventStreams, slimPackageJson],
    metafile: true,
    logLevel: 'warning',
  };
}

/**
 * Bytes of one bundle by origin, from esbuild's metafile: the product's own
 * sources (with the stand-ins in scripts/), and each npm package (a plugin's
 * virtual module counts under the package it replaces).
 */
export function bundleComposition(metafile) {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint) ?? Object.values(metafile.outputs)[0];
  let own = 0;
  const libraries = {};
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? (path.includes(':') ? path.split(':').pop() : undefined);
    if (pkg && !path.startsWith('scripts/')) libraries[pkg] = (libraries[pkg] ?? 0) + bytesInOutput;
    else own += bytesInOutput;
  }
  const libraryBytes = Object.values(libraries).reduce((a, b) => a + b, 0);
  return { ownBytes: own, libraryBytes, libraries: Object.fromEntries(Object.entries(libraries).sort(([, a], [, b]) => b - a)) };
}

/** Builds the functions (all, or those named), writes dist/sizes.json (bytes per function) and dist/composition.json, and returns the sizes. */
export async function buildLambdas({ only = [], analyze = false, log = console.log } = {}) {
  const sizes = {};
  const compositions = {};
  for (const { stack, name, entry, outdir } of lambdaEntries()) {
    if (only.length && !only.includes(name)) continue;
    mkdirSync(outdir, { recursive: true });
    const result = await build(lambdaBuildOptions(entry, join(outdir, 'index.js')));
    const bytes = statSync(join(outdir, 'index.js')).size;
    sizes[`${stack}/${name}`] = bytes;
    compositions[`${stack}/${name}`] = bundleComposition(result.metafile);
    log(`${relative(root, join(outdir, 'index.js'))}  ${(bytes / 1024).toFixed(1)} KB`);
    if (analyze) log(await analyzeMetafile(result.metafile, { verbose: false }));
  }
  mkdirSync(join(root, 'dist'), { recursive: true });
  // A partial build keeps the other functions' figures.
  const file = join(root, 'dist', 'sizes.json');
  const previous = only.length && existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const all = { ...previous, ...sizes };
  writeFileSync(file, JSON.stringify(Object.fromEntries(Object.entries(all).sort(([a], [b]) => a.localeCompare(b))), null, 2) + '\n');
  const compositionFile = join(root, 'dist', 'composition.json');
  const previousCompositions = only.length && existsSync(compositionFile) ? JSON.parse(readFileSync(compositionFile, 'utf8')) : {};
  const allCompositions = { ...previousCompositions, ...compositions };
  writeFileSync(compositionFile, JSON.stringify(Object.fromEntries(Object.entries(allCompositions).sort(([a], [b]) => a.localeCompare(b))), null, 2) + '\n');
  return all;
}

async function main() {
  const args = process.argv.slice(2);
  await buildLambdas({ only: args.filter((a) => !a.startsWith('--')), analyze: args.includes('--analyze') });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
