import type { DoctorFacts, StackFact } from '../../cli/checks';
import { checkRunnerVersion, compareVersions, gatherRunnerVersion, runnerVersionChecks } from '../../cli/runner-version';

/**
 * doctor's runner-version check: GitHub stops sending jobs to a runner that did not install a new
 * release within 30 days of its publication (github.com/orgs/community/discussions/194762), so a
 * pinned RunnerVersion is stale once the first release after it is more than 30 days old.
 */
const NOW = new Date('2026-12-02T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

function stacks(parameters: Record<string, string>): DoctorFacts['stacks'] {
  const stack = (name: string, p: Record<string, string> = {}): StackFact => ({ name, exists: true, status: 'CREATE_COMPLETE', outputs: {}, parameters: p });
  return { ok: true, value: { infrastructure: stack('i'), autoScaler: stack('a'), runners: stack('runner-autoscaler-runners', parameters) } };
}

/** A fetch that serves the given releases list, counting its calls. */
function releasesFetch(body: unknown, status = 200) {
  const calls: string[] = [];
  const impl = (async (url: string) => {
    calls.push(String(url));
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as unknown as typeof fetch;
  return { impl, calls };
}

const release = (tag: string, publishedAt: string, extra: Record<string, unknown> = {}) => ({ tag_name: tag, published_at: publishedAt, draft: false, prerelease: false, ...extra });

describe('doctor: runner version', () => {
  it('orders versions numerically, not as text', () => {
    expect(compareVersions('2.10.0', '2.9.9')).toBeGreaterThan(0);
    expect(compareVersions('2.329.0', '2.329.0')).toBe(0);
    expect(compareVersions('2.329.0', '2.330.0')).toBeLessThan(0);
  });

  it('warns when the pin is more than 30 days behind the first release after it, naming the current one', () => {
    const [result] = checkRunnerVersion(
      { ok: true, value: { parameter: '2.329.0', releases: [{ version: '2.331.0', publishedAt: daysAgo(5) }, { version: '2.330.0', publishedAt: daysAgo(40) }] } },
      NOW,
    );
    expect(result.status).toBe('WARN');
    expect(result.message).toContain('RunnerVersion=2.329.0 is more than 30 days behind: 2.330.0');
    expect(result.message).toContain('40 day(s) ago');
    expect(result.message).toContain('current is 2.331.0');
    expect(result.fix).toContain('RunnerVersion=latest');
  });

  it('passes a pin whose successor is younger than 30 days, saying how long is left', () => {
    const [result] = checkRunnerVersion({ ok: true, value: { parameter: '2.330.0', releases: [{ version: '2.331.0', publishedAt: daysAgo(10) }, { version: '2.330.0', publishedAt: daysAgo(40) }] } }, NOW);
    expect(result).toMatchObject({ status: 'PASS' });
    expect(result.message).toContain('within 20 day(s)');
  });

  it('passes the current release and "latest"', () => {
    expect(checkRunnerVersion({ ok: true, value: { parameter: '2.331.0', releases: [{ version: '2.331.0', publishedAt: daysAgo(50) }] } }, NOW)[0].status).toBe('PASS');
    expect(checkRunnerVersion({ ok: true, value: { parameter: 'latest', releases: [] } }, NOW)[0].status).toBe('PASS');
  });

  it('reads the releases only for a pin, ignoring drafts and prereleases', async () => {
    const latest = releasesFetch([]);
    expect(await gatherRunnerVersion(stacks({ RunnerVersion: 'latest' }), latest.impl, 'https://releases.test/')).toEqual({ parameter: 'latest', releases: [] });
    expect(latest.calls).toEqual([]);

    const pinned = releasesFetch([release('v2.332.0', daysAgo(45), { prerelease: true }), release('v2.331.0', daysAgo(45), { draft: true }), release('v2.329.0', daysAgo(90))]);
    const fact = await gatherRunnerVersion(stacks({ RunnerVersion: '2.329.0' }), pinned.impl, 'https://releases.test/');
    expect(pinned.calls).toEqual(['https://releases.test/']);
    expect(fact).toEqual({ parameter: '2.329.0', releases: [{ version: '2.329.0', publishedAt: daysAgo(90) }] });
  });

  it('warns, never fails, when GitHub cannot be read, and skips a stack without the parameter', async () => {
    const down = releasesFetch({ message: 'API rate limit exceeded' }, 403);
    const [unreadable] = await runnerVersionChecks(stacks({ RunnerVersion: '2.329.0' }), down.impl);
    expect(unreadable).toMatchObject({ status: 'WARN' });
    expect(unreadable.message).toContain('answered 403');
    const [absent] = await runnerVersionChecks(stacks({}), releasesFetch([]).impl);
    expect(absent).toMatchObject({ status: 'WARN', message: 'skipped: the Runners stack has no RunnerVersion parameter' });
  });
});
