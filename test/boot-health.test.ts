import { assessBootHealth, bootHealthWindowStart, CRASH_LOOP_THRESHOLD, WAIT_GRACE_MS, type BootHealthInput } from '../lib/boot-health';
import { bootHealthRecord, parseBootHealth } from '../lib/boot-health-store';
import { departuresFromActivities } from '../lib/adapters/scaling-activities';

/** The crash-loop decision (lib/boot-health.ts), pure. Times in seconds from 0, as epoch ms. */
const s = (seconds: number) => seconds * 1000;
const left = (instanceId: string, at: number) => ({ instanceId, at: s(at), cause: 'test' });
const input = (over: Partial<BootHealthInput>): BootHealthInput => ({ departures: [], tookJob: new Set(), scaleInVictims: new Set(), waits: [], ...over });

describe('assessBootHealth', () => {
  it('an instance that ran a job and left is fine, even while other jobs wait', () => {
    const health = assessBootHealth(input({ departures: [left('i-a', 100), left('i-b', 200)], tookJob: new Set(['i-a', 'i-b']), waits: [{ queuedAt: 0, startedAt: null }] }));
    expect(health).toEqual({ leftWithoutJob: [], leftWhileJobsWaited: [], crashLoop: false });
  });

  it('instances that left without a job while nothing was queued are fine (scale-in, idle spot interruption)', () => {
    // A job waited from 0 to 50 and started; the instances left later, with nothing queued.
    const health = assessBootHealth(input({ departures: [left('i-a', 100), left('i-b', 200), left('i-c', 300)], waits: [{ queuedAt: s(0), startedAt: s(50) }] }));
    expect(health).toEqual({ leftWithoutJob: ['i-a', 'i-b', 'i-c'], leftWhileJobsWaited: [], crashLoop: false });
  });

  it(`${CRASH_LOOP_THRESHOLD} or more instances that left without a job while jobs waited: a crash loop`, () => {
    const waits = [{ queuedAt: s(10), startedAt: null }];
    const departures = [left('i-a', 90), left('i-b', 180), left('i-c', 270)];
    expect(assessBootHealth(input({ departures, waits }))).toEqual({ leftWithoutJob: ['i-a', 'i-b', 'i-c'], leftWhileJobsWaited: ['i-a', 'i-b', 'i-c'], crashLoop: true });
    // One alone may be a spot interruption of a booting instance: counted, not a crash loop.
    expect(assessBootHealth(input({ departures: departures.slice(0, 1), waits }))).toMatchObject({ leftWhileJobsWaited: ['i-a'], crashLoop: false });
  });

  it('a job counts as waiting from a minute after its queue until its start', () => {
    const grace = WAIT_GRACE_MS / 1000;
    const waits = [{ queuedAt: s(100), startedAt: s(300) }];
    const departures = [left('i-before', 50), left('i-just-queued', 100 + grace - 1), left('i-during', 100 + grace), left('i-after', 300)];
    expect(assessBootHealth(input({ departures, waits })).leftWhileJobsWaited).toEqual(['i-during']);
  });

  it('our own scale-in victims are not boot failures, whatever was queued', () => {
    const health = assessBootHealth(input({ departures: [left('i-a', 90), left('i-b', 120)], scaleInVictims: new Set(['i-a', 'i-b']), waits: [{ queuedAt: 0, startedAt: null }] }));
    expect(health).toEqual({ leftWithoutJob: [], leftWhileJobsWaited: [], crashLoop: false });
  });

  it('counts an instance once, however many activities name it', () => {
    const health = assessBootHealth(input({ departures: [left('i-a', 90), left('i-a', 91)], waits: [{ queuedAt: 0, startedAt: null }] }));
    expect(health).toMatchObject({ leftWhileJobsWaited: ['i-a'], crashLoop: false });
  });
});

describe('bootHealthWindowStart', () => {
  const now = s(100_000);
  it('starts at the previous reconcile, one hour back without one, never more than six hours back', () => {
    expect(bootHealthWindowStart(now - s(900), now)).toBe(now - s(900));
    expect(bootHealthWindowStart(null, now)).toBe(now - s(3600));
    expect(bootHealthWindowStart(now - s(86_400), now)).toBe(now - s(6 * 3600));
  });
});

describe('boot-health record', () => {
  it('keeps counts and the first 20 ids, and reads back what it wrote', () => {
    const ids = Array.from({ length: 25 }, (_, i) => `i-${i}`);
    const record = bootHealthRecord({ leftWithoutJob: ids, leftWhileJobsWaited: ids, crashLoop: true }, 30, s(0), s(900));
    expect(record).toMatchObject({ departures: 30, leftWithoutJob: 25, leftWhileJobsWaited: 25, crashLoop: true, since: new Date(0).toISOString() });
    expect(record.instanceIds).toHaveLength(20);
    expect(parseBootHealth(JSON.parse(JSON.stringify(record)))).toEqual(record);
    expect(parseBootHealth(undefined)).toBeNull();
    expect(parseBootHealth({ at: 5 })).toBeNull();
  });
});

describe('departuresFromActivities (DescribeScalingActivities)', () => {
  it('takes the terminations since the start, with their instance ids, and nothing else', () => {
    const activities = [
      { Description: 'Terminating EC2 instance: i-0123456789abcdef0', Cause: 'At 2026-12-02T10:00:00Z instance i-0123456789abcdef0 was taken out of service in response to a user request.', StartTime: new Date(s(500)), StatusCode: 'Successful' },
      { Description: 'Launching a new EC2 instance: i-0fedcba9876543210', Cause: 'capacity', StartTime: new Date(s(400)), StatusCode: 'Successful' },
      { Description: 'Terminating EC2 instance: i-00000000000000old', StartTime: new Date(s(10)), StatusCode: 'Successful' },
    ];
    expect(departuresFromActivities(activities, s(100))).toEqual([{ instanceId: 'i-0123456789abcdef0', at: s(500), cause: expect.stringContaining('user request') }]);
  });
});
