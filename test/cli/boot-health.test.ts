import { bootHealthLine, bootLogGroupName, checkBootHealth, type BootHealthFact } from '../../cli/boot-health';
import { runChecks, type DoctorFacts } from '../../cli/checks';
import type { BootHealthRecord } from '../../lib/boot-health-store';
import { memoryOutput } from '../../cli/output';

/** `doctor` and `status` on the reconcile's boot-failure check (pure, over a gathered record). */
const record = (over: Partial<BootHealthRecord>): BootHealthRecord => ({
  at: '2026-03-01T12:15:00.000Z',
  since: '2026-03-01T12:00:00.000Z',
  departures: 10,
  leftWithoutJob: 10,
  leftWhileJobsWaited: 10,
  instanceIds: ['i-0aaa', 'i-0bbb'],
  crashLoop: true,
  ...over,
});
const LOG_GROUP = '/runner-autoscaler/runner-autoscaler-runners/boot';
const ok = (value: BootHealthFact) => ({ ok: true as const, value });

describe('bootLogGroupName', () => {
  it("is the Runners stack's BootLogGroupName output, else the name that stack gives it", () => {
    expect(bootLogGroupName('runner-autoscaler-runners', { BootLogGroupName: '/custom/boot' })).toBe('/custom/boot');
    expect(bootLogGroupName('runner-autoscaler-runners', {})).toBe(LOG_GROUP);
    expect(bootLogGroupName('runner-autoscaler-runners')).toBe(LOG_GROUP);
  });
});

describe('doctor: runner boot', () => {
  it('FAILs a crash loop, naming the boot log group and the instances', () => {
    const [result] = checkBootHealth({ bootHealth: ok({ record: record({}), logGroup: LOG_GROUP }) });
    expect(result).toMatchObject({ check: 'runner boot', status: 'FAIL' });
    expect(result.message).toMatch(/10 of 10 instances .* left without running a job while jobs waited \(i-0aaa, i-0bbb, \.\.\.\)/);
    expect(result.fix).toContain(LOG_GROUP);
  });

  it('PASSes when the last reconcile saw no crash loop, WARNs before the first check, and says nothing when not gathered', () => {
    expect(checkBootHealth({ bootHealth: ok({ record: record({ crashLoop: false, leftWhileJobsWaited: 1 }), logGroup: LOG_GROUP }) })[0].status).toBe('PASS');
    expect(checkBootHealth({ bootHealth: ok({ record: null, logGroup: LOG_GROUP }) })[0].status).toBe('WARN');
    expect(checkBootHealth({ bootHealth: { ok: false, error: 'AccessDenied' } })[0]).toMatchObject({ status: 'WARN', message: expect.stringContaining('AccessDenied') });
    expect(checkBootHealth({})).toEqual([]);
  });

  it('is one of the checks doctor runs', () => {
    const skipped = { skipped: 'test' };
    const facts: DoctorFacts = { mode: 'aws', stackPrefix: 'runner-autoscaler', stacks: skipped, ssm: skipped, deliveries: skipped, group: skipped, settings: skipped, rules: skipped, bootHealth: ok({ record: record({}), logGroup: LOG_GROUP }) };
    expect(runChecks(facts).filter((r) => r.status === 'FAIL').map((r) => r.check)).toEqual(['runner boot']);
  });
});

describe('status: the Boots line', () => {
  const now = Date.parse('2026-03-01T12:20:00.000Z');
  it('shows a crash loop in red with the log group', () => {
    const line = bootHealthLine(ok({ record: record({}), logGroup: LOG_GROUP }), memoryOutput(), now);
    expect(line).toMatch(/^Boots +CRASH LOOP: 10 of 10 instances/);
    expect(line).toContain(`see ${LOG_GROUP}`);
    expect(line).toContain('reconcile 5m');
  });

  it('shows the counts when healthy, and says when nothing was checked yet', () => {
    expect(bootHealthLine(ok({ record: record({ crashLoop: false, leftWhileJobsWaited: 0, leftWithoutJob: 3 }), logGroup: LOG_GROUP }), memoryOutput(), now)).toMatch(
      /^Boots +0 left without a job while jobs waited, 3 without a job in all, of 10 that left/,
    );
    expect(bootHealthLine(ok({ record: null, logGroup: LOG_GROUP }), memoryOutput(), now)).toMatch(/not checked yet/);
  });
});
