import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleWorld } from './world';

/**
 * The registry of bundle invocation cases, keyed by bundle path
 * (`<Stack>/<name>`, as in dist/ and scripts/build.mjs's list).
 *
 * Every file in test/bundles/cases/ exports `cases: BundleCases`; the generic
 * test (test/bundles/invoke.test.ts) merges them, runs each case against the
 * shared world, and fails for any function scripts/build.mjs builds that has
 * no entry. A new function therefore either adds a file there with at least
 * one case (invoke its bundle with a real event, assert what it did to moto,
 * dynalite or the simulated GitHub) or, when its own test already runs its
 * bundle in a child process, an `invokedBy` entry naming that test file, which
 * must exist and mention `dist/<key>` or the key's function name.
 */
export interface BundleCase {
  /** What request it sends and what it checks, as a test title. */
  name: string;
  /** The build plugins (scripts/build.mjs `name`s) whose changed code path this case runs (see invoke.test.ts). */
  plugins?: string[];
  run(world: BundleWorld): Promise<void>;
}

export type BundleCaseEntry = BundleCase[] | { invokedBy: string };
export type BundleCases = Record<string, BundleCaseEntry>;

/** Every case file's registry, merged; a key registered twice is an error (two files would disagree about who covers it). */
export function loadBundleCases(dir = join(__dirname, '..', 'cases')): BundleCases {
  const merged: BundleCases = {};
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.ts'))
    .sort()) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { cases } = require(join(dir, file)) as { cases?: BundleCases };
    if (!cases) throw new Error(`test/bundles/cases/${file} exports no \`cases\``);
    for (const [key, entry] of Object.entries(cases)) {
      if (merged[key])
        throw new Error(`bundle ${key} has cases in two files (test/bundles/cases/${file} and another)`);
      merged[key] = entry;
    }
  }
  return merged;
}
