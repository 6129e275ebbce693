import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithTool } from '../support/tools';
import { loadBundleCases, type BundleCase } from './support/cases';
import { buildAllBundles, ROOT, type BuiltBundle } from './support/invoke';
import { accessKeyFor, startWorld, type BundleWorld } from './support/world';

/**
 * Test what we ship: every function scripts/build.mjs bundles is built with
 * the build's own options and plugins, and each bundle handles real requests
 * in its own process against moto_server, dynalite and the simulated GitHub
 * (cases in test/bundles/cases/, one registry keyed by bundle path; see
 * support/cases.ts for how a new function adds its own). The plugins rewrite
 * the SDK (error classes unregistered, schemas shaken, stand-ins for whole
 * packages): each one names the cases that run the code it changes, and a
 * plugin no case covers fails here.
 */
const MAX_BUNDLE_BYTES = 400 * 1024; // the README's goal (issue 13): every bundle < 400 KB

/** The build's own list of functions and plugins (scripts/build.mjs is ESM: asked in a child process). */
const build = JSON.parse(
  execFileSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const m = await import(${JSON.stringify(join(ROOT, 'scripts', 'build.mjs'))});
       console.log(JSON.stringify({ keys: m.lambdaEntries().map((e) => e.stack + '/' + e.name), plugins: m.lambdaBuildOptions('in', 'out').plugins.map((p) => p.name) }));`,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  ),
) as { keys: string[]; plugins: string[] };

const registry = loadBundleCases();

/** A command class's operation name on the wire (the document client's commands name the item operation they send). */
function wireAction(command: string): string {
  const documentClient: Record<string, string> = {
    GetCommand: 'GetItem',
    PutCommand: 'PutItem',
    UpdateCommand: 'UpdateItem',
    DeleteCommand: 'DeleteItem',
    BatchGetCommand: 'BatchGetItem',
    BatchWriteCommand: 'BatchWriteItem',
    TransactWriteCommand: 'TransactWriteItems',
    TransactGetCommand: 'TransactGetItems',
    QueryCommand: 'Query',
    ScanCommand: 'Scan',
  };
  return documentClient[command] ?? command.replace(/Command$/, '');
}
/**
 * Plugins whose effect the checks over every invocation's requests cover (the last describe below): the
 * credentials and the user agent on every request, and (no-event-streams) every operation the product sends
 * answered without reaching the stub, since none of them streams.
 */
const CHECKED_ON_EVERY_REQUEST = ['lambda-credentials', 'slim-package-json', 'no-event-streams'];

describe('the bundle case registry', () => {
  it('has an invocation case for every function the build bundles, and none for a function it does not', () => {
    const missing = build.keys.filter(
      (key) => !registry[key] || (Array.isArray(registry[key]) && registry[key].length === 0),
    );
    // A new function: add test/bundles/cases/<file>.ts exporting { cases: { '<Stack>/<name>': [...] } } (support/cases.ts).
    expect({ missing }).toEqual({ missing: [] });
    expect(Object.keys(registry).filter((key) => !build.keys.includes(key))).toEqual([]);
  });

  it('an `invokedBy` entry names a test file that exists and runs that bundle', () => {
    for (const [key, entry] of Object.entries(registry)) {
      if (Array.isArray(entry)) continue;
      const file = join(ROOT, entry.invokedBy);
      expect(existsSync(file)).toBe(true);
      const text = readFileSync(file, 'utf8');
      expect(
        [`dist/${key}`, `'${key}'`, `"${key}"`, `functions/${key.split('/')[1]}/handler.ts`].some((needle) =>
          text.includes(needle),
        ),
      ).toBe(true);
    }
  });

  it('every build plugin is claimed by at least one case that runs its code path', () => {
    const claimed = new Set([
      ...CHECKED_ON_EVERY_REQUEST,
      ...Object.values(registry).flatMap((entry) =>
        Array.isArray(entry) ? entry.flatMap((c) => c.plugins ?? []) : [],
      ),
    ]);
    expect(build.plugins.filter((plugin) => !claimed.has(plugin))).toEqual([]);
    expect([...claimed].filter((plugin) => !build.plugins.includes(plugin))).toEqual([]);
  });
});

describeWithTool(
  'moto_server',
  'every bundle handles real requests in its own process (moto_server, dynalite, simulated GitHub)',
  (motoPath) => {
    let outdir: string;
    let bundles: BuiltBundle[] = [];
    let world: BundleWorld;
    const started = Date.now();

    beforeAll(async () => {
      outdir = mkdtempSync(join(tmpdir(), 'bundles-'));
      bundles = await buildAllBundles(outdir);
      world = await startWorld(motoPath, bundles);
    }, 120000);

    afterAll(async () => {
      await world?.stop();
      if (outdir) rmSync(outdir, { recursive: true, force: true });
      // eslint-disable-next-line no-console
      console.log(
        `bundle invocations: ${build.keys.length} bundles, ${((Date.now() - started) / 1000).toFixed(1)} s including the build`,
      );
    });

    it(`builds every function, each bundle < ${MAX_BUNDLE_BYTES / 1024} KB`, () => {
      expect(bundles.map((b) => b.key).sort()).toEqual([...build.keys].sort());
      // eslint-disable-next-line no-console
      console.log(bundles.map((b) => `${b.key} ${(b.bytes / 1024).toFixed(1)} KB`).join('\n'));
      expect(
        bundles.filter((b) => b.bytes >= MAX_BUNDLE_BYTES).map((b) => `${b.key}: ${b.bytes} bytes`),
      ).toEqual([]);
    });

    for (const key of build.keys) {
      const entry = registry[key];
      if (!entry || !Array.isArray(entry)) continue; // reported by the registry test above
      describe(key, () => {
        for (const bundleCase of entry as BundleCase[]) {
          it(bundleCase.name, () => bundleCase.run(world), 60000);
        }
      });
    }

    describe('what every invocation sent (the credential, user-agent and signing plugins)', () => {
      it('every AWS operation the bundled sources import was answered successfully in some invocation (every kept shape went over the wire; none reached the event-stream stub)', () => {
        const imported = new Set<string>();
        // A bundle covered by its own test (`invokedBy`) answers for its operations there.
        const here = bundles.filter((b) => Array.isArray(registry[b.key]));
        for (const source of new Set(here.flatMap((b) => b.sources))) {
          if (!source.endsWith('.ts')) continue;
          for (const [, list] of readFileSync(join(ROOT, source), 'utf8').matchAll(
            /import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/(?:client-[a-z0-9-]+|lib-dynamodb)'/g,
          )) {
            for (const name of list.split(',').map((item) => item.trim())) {
              if (name.endsWith('Command') && !name.startsWith('type ')) imported.add(wireAction(name));
            }
          }
        }
        expect(imported.size).toBeGreaterThan(10);
        const answered = new Set(
          world.aws.calls.filter((c) => c.status >= 200 && c.status < 300).map((c) => c.action),
        );
        expect([...imported].filter((action) => !answered.has(action)).sort()).toEqual([]);
      });

      it("lambda-credentials: every AWS request was signed with its function's runtime key and session token, and every bundle with an SDK client had requests answered", () => {
        const byKey = new Map(bundles.map((b) => [accessKeyFor(b.key), b.key]));
        expect(world.aws.calls.length).toBeGreaterThan(0);
        expect(
          world.aws.calls
            .filter((c) => !byKey.has(c.accessKeyId) || !c.hasSessionToken)
            .map((c) => `${c.service}:${c.action} ${c.accessKeyId}`),
        ).toEqual([]);
        const answered = new Map<string, Set<string>>();
        for (const call of world.aws.calls) {
          if (call.status < 200 || call.status >= 300) continue;
          const key = byKey.get(call.accessKeyId)!;
          answered.set(key, (answered.get(key) ?? new Set()).add(`${call.service}:${call.action}`));
        }
        // eslint-disable-next-line no-console
        console.log(
          [...answered]
            .map(([key, actions]) => `${key}: ${[...actions].sort().join(', ')}`)
            .sort()
            .join('\n'),
        );
        // Decide is the pure policy: its bundle holds no AWS client at all.
        expect(
          bundles
            .map((b) => b.key)
            .filter((key) => key !== 'AutoScaler/decide' && Array.isArray(registry[key]) && !answered.has(key)),
        ).toEqual([]);
      });

      it('slim-package-json: every AWS request names its SDK client and version in the user agent', () => {
        const pkg = (name: string) =>
          JSON.parse(readFileSync(join(ROOT, 'node_modules', '@aws-sdk', name, 'package.json'), 'utf8'))
            .version as string;
        const versions: Record<string, string> = {
          dynamodb: pkg('client-dynamodb'),
          ssm: pkg('client-ssm'),
          autoscaling: pkg('client-auto-scaling'),
          ec2: pkg('client-ec2'),
          events: pkg('client-eventbridge'),
        };
        for (const call of world.aws.calls) {
          const version = versions[call.service];
          expect({
            call: `${call.service}:${call.action}`,
            agent: call.userAgent.includes(`aws-sdk-js/${version}`),
          }).toEqual({ call: `${call.service}:${call.action}`, agent: true });
        }
      });
    });
  },
);
