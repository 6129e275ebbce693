import { EventPatternError, matchesEventPattern, validateEventPattern } from '../lib/event-pattern';

/**
 * Cases taken from the EventBridge user guide ("Event pattern syntax",
 * "Content filtering", "Comparison operators", "Arrays in event patterns"),
 * each with events that must and must not match.
 */
const ec2Event = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};

type Case = [name: string, pattern: Record<string, unknown>, event: unknown, expected: boolean];

const cases: Case[] = [
  // Exact values, AND across keys, OR within a leaf
  ['docs syntax example matches', { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } }, ec2Event, true],
  ['nested value differs', { source: ['aws.ec2'], detail: { state: ['running'] } }, ec2Event, false],
  ['OR within a leaf', { source: ['aws.ec2', 'aws.fargate'] }, ec2Event, true],
  ['OR within a leaf, none matches', { source: ['aws.s3', 'aws.fargate'] }, ec2Event, false],
  ['missing field does not match an exact value', { detail: { missing: ['x'] } }, ec2Event, false],
  ['matching is case-sensitive', { source: ['AWS.EC2'] }, ec2Event, false],
  ['number exact', { detail: { count: [5] } }, { detail: { count: 5 } }, true],
  ['number does not equal its string', { detail: { count: [5] } }, { detail: { count: '5' } }, false],
  ['string does not equal the number', { detail: { count: ['5'] } }, { detail: { count: 5 } }, false],
  ['boolean exact', { detail: { ok: [true] } }, { detail: { ok: true } }, true],
  ['boolean mismatch', { detail: { ok: [true] } }, { detail: { ok: false } }, false],
  ['null matches null', { detail: { name: [null] } }, { detail: { name: null } }, true],
  ['null does not match a missing field', { detail: { name: [null] } }, { detail: {} }, false],
  ['empty string matches empty string', { detail: { name: [''] } }, { detail: { name: '' } }, true],
  ['empty string does not match null', { detail: { name: [''] } }, { detail: { name: null } }, false],
  ['nested pattern against a scalar', { detail: { state: ['x'] } }, { detail: 'flat' }, false],

  // Arrays in the event: non-empty intersection
  [
    'docs arrays example: pattern item matches second event item',
    { resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f', 'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f'] },
    { resources: ['arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56:autoScalingGroupName/ASGTerminate', 'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f'] },
    true,
  ],
  ['array in event, no intersection', { resources: ['a'] }, { resources: ['b', 'c'] }, false],
  ['array of labels with prefix', { detail: { labels: [{ prefix: 'self-' }] } }, { detail: { labels: ['linux', 'self-hosted'] } }, true],
  ['array of objects in event', { detail: { items: { kind: ['b'] } } }, { detail: { items: [{ kind: 'a' }, { kind: 'b' }] } }, true],
  ['array of objects in event, none matches', { detail: { items: { kind: ['c'] } } }, { detail: { items: [{ kind: 'a' }, { kind: 'b' }] } }, false],

  // Prefix and suffix
  ['docs prefix on time', { time: [{ prefix: '2017-12-22' }] }, ec2Event, true],
  ['prefix mismatch', { time: [{ prefix: '2017-10-02' }] }, ec2Event, false],
  ['prefix on a number never matches', { detail: { n: [{ prefix: '1' }] } }, { detail: { n: 12 } }, false],
  ['prefix ignore case', { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } }, { detail: { service: 'eventbridge' } }, true],
  ['prefix ignore case mismatch', { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } }, { detail: { service: 'lambda' } }, false],
  ['docs suffix .png', { FileName: [{ suffix: '.png' }] }, { FileName: 'image.png' }, true],
  ['suffix is case-sensitive', { FileName: [{ suffix: '.png' }] }, { FileName: 'image.PNG' }, false],
  ['suffix ignore case', { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] }, { FileName: 'image.PNG' }, true],

  // equals-ignore-case
  ['docs equals-ignore-case', { 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] }, ec2Event, true],
  ['equals-ignore-case mismatch', { 'detail-type': [{ 'equals-ignore-case': 'ec2 instance' }] }, ec2Event, false],

  // anything-but
  ['docs anything-but string', { detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: { state: 'running' } }, true],
  ['anything-but string equal', { detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: { state: 'initializing' } }, false],
  ['docs anything-but number', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, { detail: { 'x-limit': 456 } }, true],
  ['anything-but number equal', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, { detail: { 'x-limit': 123 } }, false],
  ['docs anything-but list', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, { detail: { state: 'running' } }, true],
  ['anything-but list member', { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } }, { detail: { state: 'stopped' } }, false],
  ['anything-but numeric list', { detail: { x: [{ 'anything-but': [100, 200, 300] }] } }, { detail: { x: 200 } }, false],
  ['anything-but on a missing field does not match', { detail: { state: [{ 'anything-but': 'initializing' }] } }, { detail: {} }, false],
  ['docs anything-but prefix', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, { detail: { state: 'running' } }, true],
  ['anything-but prefix excluded', { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } }, { detail: { state: 'initializing' } }, false],
  ['docs anything-but suffix', { detail: { FileName: [{ 'anything-but': { suffix: '.txt' } }] } }, { detail: { FileName: 'data.csv' } }, true],
  ['anything-but suffix excluded', { detail: { FileName: [{ 'anything-but': { suffix: '.txt' } }] } }, { detail: { FileName: 'notes.txt' } }, false],
  ['anything-but ignore case list', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'OverLoaded'] } }] } }, { detail: { state: 'STOPPED' } }, false],
  ['anything-but ignore case other value', { detail: { state: [{ 'anything-but': { 'equals-ignore-case': ['Stopped'] } }] } }, { detail: { state: 'running' } }, true],
  ['anything-but wildcard excluded', { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, { detail: { FilePath: 'src/lib/a.ts' } }, false],
  ['anything-but wildcard other', { detail: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] } }, { detail: { FilePath: 'src/bin/a.ts' } }, true],
  ['anything-but in array event: any element differing matches', { detail: { labels: [{ 'anything-but': 'linux' }] } }, { detail: { labels: ['linux', 'x64'] } }, true],

  // numeric
  ['docs numeric range', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, { detail: { 'c-count': 5 } }, true],
  ['numeric range upper bound exclusive check', { detail: { 'c-count': [{ numeric: ['>', 0, '<', 5] }] } }, { detail: { 'c-count': 5 } }, false],
  ['numeric lower bound', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, { detail: { 'c-count': 0 } }, false],
  ['docs numeric less than', { detail: { 'd-count': [{ numeric: ['<', 10] }] } }, { detail: { 'd-count': 9.5 } }, true],
  ['numeric equals', { detail: { 'x-limit': [{ numeric: ['=', 3.018e2] }] } }, { detail: { 'x-limit': 301.8 } }, true],
  ['numeric >=', { detail: { n: [{ numeric: ['>=', 10] }] } }, { detail: { n: 10 } }, true],
  ['numeric on a string never matches', { detail: { n: [{ numeric: ['>', 0] }] } }, { detail: { n: '5' } }, false],
  ['numeric in array event', { detail: { n: [{ numeric: ['>', 100] }] } }, { detail: { n: [1, 2, 300] } }, true],

  // exists
  ['docs exists true', { detail: { state: [{ exists: true }] } }, { detail: { state: 'running' } }, true],
  ['exists true on missing', { detail: { state: [{ exists: true }] } }, { detail: {} }, false],
  ['docs exists false', { detail: { state: [{ exists: false }] } }, { detail: { other: 1 } }, true],
  ['exists false on present', { detail: { state: [{ exists: false }] } }, { detail: { state: 'x' } }, false],
  ['exists true counts null as present', { detail: { state: [{ exists: true }] } }, { detail: { state: null } }, true],
  ['exists works on leaves only (object is not a leaf)', { detail: { state: [{ exists: true }] } }, { detail: { state: { a: 1 } } }, false],
  ['exists false when the parent is missing', { detail: { state: [{ exists: false }] } }, { source: 'x' }, true],
  ['exists false OR a value', { detail: { state: [{ exists: false }, 'on'] } }, { detail: { state: 'on' } }, true],

  // wildcard
  ['docs wildcard', { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] }, { EventBusArn: 'arn:aws:events:us-east-1:123456789012:event-bus/myBus' }, true],
  ['wildcard mismatch', { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] }, { EventBusArn: 'arn:aws:events:eu-west-1:1:event-bus/b' }, false],
  ['wildcard is anchored', { name: [{ wildcard: 'dir/*.png' }] }, { name: 'xdir/a.png' }, false],
  ['wildcard dot is literal', { name: [{ wildcard: '*.png' }] }, { name: 'apng' }, false],
  ['wildcard escaped star', { name: [{ wildcard: 'a\\*b' }] }, { name: 'a*b' }, true],
  ['wildcard escaped star is literal', { name: [{ wildcard: 'a\\*b' }] }, { name: 'axb' }, false],

  // cidr
  ['docs cidr', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, { detail: { sourceIPAddress: '10.0.0.255' } }, true],
  ['cidr outside', { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } }, { detail: { sourceIPAddress: '10.0.1.0' } }, false],

  // $or
  [
    'docs $or: first branch',
    { detail: { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }, { 'x-limit': [{ numeric: ['=', 3.018e2] }] }] } },
    { detail: { 'c-count': 3 } },
    true,
  ],
  [
    'docs $or: third branch',
    { detail: { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }, { 'x-limit': [{ numeric: ['=', 3.018e2] }] }] } },
    { detail: { 'x-limit': 301.8 } },
    true,
  ],
  [
    'docs $or: no branch',
    { detail: { $or: [{ 'c-count': [{ numeric: ['>', 0, '<=', 5] }] }, { 'd-count': [{ numeric: ['<', 10] }] }] } },
    { detail: { 'c-count': 50, 'd-count': 50 } },
    false,
  ],
  [
    'top-level $or combined with AND',
    { source: ['aws.ec2'], $or: [{ detail: { state: ['running'] } }, { 'detail-type': [{ prefix: 'EC2' }] }] },
    ec2Event,
    true,
  ],
  [
    'top-level $or, AND part fails',
    { source: ['aws.s3'], $or: [{ detail: { state: ['terminated'] } }, { 'detail-type': [{ prefix: 'EC2' }] }] },
    ec2Event,
    false,
  ],
];

describe('matchesEventPattern (EventBridge semantics)', () => {
  it.each(cases)('%s', (_name, pattern, event, expected) => {
    expect(matchesEventPattern(pattern, event)).toBe(expected);
  });
});

describe('the rule shapes the AutoScaler deploys', () => {
  const rule = {
    source: ['runner-autoscaler.github'],
    'detail-type': ['workflow_job'],
    detail: { action: ['queued', 'in_progress', 'completed'], labels: [{ 'equals-ignore-case': 'self-hosted' }] },
  };
  const event = (action: string, labels: string[]) => ({
    source: 'runner-autoscaler.github',
    'detail-type': 'workflow_job',
    detail: { action, labels },
  });

  it('routes a queued job with a pool label', () => {
    expect(matchesEventPattern(rule, event('queued', ['self-hosted', 'linux']))).toBe(true);
  });
  it('ignores the waiting action', () => {
    expect(matchesEventPattern(rule, event('waiting', ['self-hosted']))).toBe(false);
  });
  it('ignores a GitHub-hosted job', () => {
    expect(matchesEventPattern(rule, event('queued', ['ubuntu-latest']))).toBe(false);
  });
  it('ignores another source', () => {
    expect(matchesEventPattern(rule, { ...event('queued', ['self-hosted']), source: 'aws.ec2' })).toBe(false);
  });
});

describe('malformed patterns are rejected with the path named', () => {
  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', ['x'], /must be a JSON object/],
    ['scalar leaf', { source: 'aws.ec2' }, /source: a leaf must be an array/],
    ['empty alternatives', { source: [] }, /source: empty array/],
    ['unknown operator', { detail: { x: [{ contains: 'a' }] } }, /detail\.x\[0\]: unknown operator "contains"/],
    ['two operators in one matcher', { x: [{ prefix: 'a', suffix: 'b' }] }, /exactly one operator/],
    ['numeric with bad operator', { x: [{ numeric: ['!=', 1] }] }, /bad condition/],
    ['numeric with reversed range', { x: [{ numeric: ['<', 1, '>', 0] }] }, /lower bound/],
    ['numeric odd length', { x: [{ numeric: ['<'] }] }, /numeric/],
    ['exists with a string', { x: [{ exists: 'yes' }] }, /exists/],
    ['anything-but mixed list', { x: [{ 'anything-but': ['a', 1] }] }, /all strings or all numbers/],
    ['anything-but numeric', { x: [{ 'anything-but': { numeric: ['>', 1] } }] }, /does not support "numeric"/],
    ['$or with one branch', { $or: [{ a: ['1'] }] }, /\$or needs/],
    ['wildcard with consecutive stars', { x: [{ wildcard: 'a**b' }] }, /consecutive/],
    ['bad cidr', { x: [{ cidr: '10.0.0/40' }] }, /cidr/],
    ['nested array alternative', { x: [['a']] }, /arrays cannot nest/],
  ];

  it.each(bad)('%s', (_name, pattern, message) => {
    expect(() => validateEventPattern(pattern)).toThrow(EventPatternError);
    expect(() => validateEventPattern(pattern)).toThrow(message);
  });

  it('reports a malformed leaf even when the event lacks the field', () => {
    expect(() => matchesEventPattern({ x: [{ contains: 'a' }] }, {})).toThrow(/unknown operator/);
  });

  it('accepts every valid pattern of the table above', () => {
    for (const [, pattern] of cases) expect(() => validateEventPattern(pattern)).not.toThrow();
  });
});
