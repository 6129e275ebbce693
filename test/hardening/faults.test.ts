/**
 * Fault injection on the scaling path (issue 6, item 2).
 *
 * The real statemachine/autoscaler.asl.json runs in aws-local-stepfunctions
 * with every Task answered by the real handler, which uses the REAL adapters:
 *  - DynamoDB: the real SDK client against dynalite, with a fault middleware;
 *  - Auto Scaling / EC2: the real AutoScalingGroupAdapter and SDK clients,
 *    `send` stubbed by aws-sdk-client-mock with a validating group model
 *    (no emulator produces throttling or 5xx on demand);
 *  - SSM: the real credentials loader (Powertools SSMProvider) over a stubbed client;
 *  - GitHub: the real octokit adapter over nock interceptors backed by a model.
 * After every scenario: the fleet stayed within [floor, max], no busy runner
 * was terminated, and once the fault is gone the next event or reconcile
 * converges. The faults injected, by kind, are printed at the end.
 */
import nock from 'nock';
import { readActivity } from '../../lib/activity';
import { AutoScalingGroupAdapter } from '../../lib/adapters/auto-scaling';
import { createGitHubPort, loadGitHubCredentials } from '../../lib/adapters/github';
import { countOpenJobs, readJob } from '../../lib/ledger';
import { DEFAULT_SETTINGS, type Settings } from '../../lib/settings';
import { writeSettings } from '../../lib/settings-store';
import type { AutoScalerDeps } from '../../AutoScaler/src/deps';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { createMachine, jobEvent, loadDefinition, ManualClock, RECONCILE_INPUT, RecordingLogger, RecordingMetrics, type RunResult } from '../autoscaler/support/fakes';
import { AutoScalingEmulator, awsError, emulateSsm, FaultPlan, GitHubModel, injectDynamoFaults, injectedTotals } from './support';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { FAKE_AWS } from '../support/tools';

const LABELS = ['self-hosted', 'linux', 'x64'];
const CREDENTIALS = '/runner-autoscaler/default/github-credentials';
const FLOOR = 1;
const MAX = 5;
let dynamo: LocalDynamo;
let executions = 0;
const cleanups: Array<() => void> = [];

beforeAll(async () => {
  dynamo = await startDynalite();
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  nock.cleanAll();
});
afterAll(async () => {
  await dynamo.stop();
  nock.enableNetConnect();
  const total = Object.values(injectedTotals).reduce((a, b) => a + b, 0);
  // eslint-disable-next-line no-console
  console.log(`hardening faults: ${total} faults injected over ${executions} state machine executions (${retryTotals.retries} Task retries): ${JSON.stringify(injectedTotals)}`);
});

async function setup(settings: Partial<Settings> = {}) {
  const faults = new FaultPlan();
  const clock = new ManualClock();
  const github = new GitHubModel(faults, clock);
  github.install();
  const group = new AutoScalingEmulator(faults, clock, FLOOR, MAX, (id) => github.isBusy(id));
  group.seed(FLOOR, (id) => github.register(id, LABELS));
  const ssm = emulateSsm(faults, { [CREDENTIALS]: JSON.stringify({ type: 'pat', token: 'ghp_hardening_pat' }) });
  cleanups.push(() => group.restore(), () => ssm.restore());

  const client = new DynamoDBClient({ ...FAKE_AWS, endpoint: dynamo.endpoint, maxAttempts: 1 });
  injectDynamoFaults(client, faults);
  cleanups.push(() => client.destroy());
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const tableName = await dynamo.createTable();
  const full: Settings = { ...DEFAULT_SETTINGS, floor: FLOOR, max: MAX, headroom: 1, scaleInCooldownSeconds: 0, bootTimeoutSeconds: 300, ...settings };
  await writeSettings(dynamo.doc, tableName, 'default', full, 0, 'test', clock.now());

  const sleeps: number[] = [];
  // The retry options the Lambdas use (AutoScaler/src/deps.ts), with time that passes on the test clock.
  const port = createGitHubPort({
    scope: { kind: 'org', org: github.org },
    auth: () => loadGitHubCredentials(CREDENTIALS, { ssmClient: ssm.client }),
    baseUrl: GitHubModel.API,
    repositories: [github.repo],
    retry: {
      maxAttempts: 3,
      maxRateLimitWaitMs: 5_000,
      requestTimeoutMs: 8_000,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock.advance(ms / 1000);
      },
      now: () => clock.now(),
      random: () => 0.5,
    },
  });
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  const deps: AutoScalerDeps = {
    doc,
    tableName,
    pool: 'default',
    scalingGroup: new AutoScalingGroupAdapter(group.name, group.clients, () => clock.now()),
    github: port,
    clock,
    logger,
    metrics,
  };
  const machine = createMachine(deps);
  const run = async (input: unknown): Promise<RunResult> => {
    executions += 1;
    const result = await machine(input);
    checkRetryBudget(result);
    return result;
  };
  /** Boots pending instances (their runners register at GitHub). */
  const boot = () => group.boot((id) => github.register(id, LABELS));
  return { faults, clock, github, group, ssm, doc, tableName, deps, port, sleeps, logger, metrics, run, boot, settings: full };
}

/** The invariants every scenario ends with. */
function expectFleetInvariants(group: AutoScalingEmulator): void {
  expect(group.violations).toEqual([]);
  for (const desired of group.desiredHistory) {
    expect(desired).toBeGreaterThanOrEqual(FLOOR);
    expect(desired).toBeLessThanOrEqual(MAX);
  }
  expect(group.instances.size).toBeGreaterThanOrEqual(FLOOR);
  expect(group.desired).toBeGreaterThanOrEqual(FLOOR);
  expect(group.desired).toBeLessThanOrEqual(MAX);
}

const definition = loadDefinition();

/**
 * Retries stay within the definition's bounds: no Task retried more than its
 * retriers allow, and the nominal backoff of the retries taken (the
 * definition's IntervalSeconds x BackoffRate^k, capped at MaxDelaySeconds)
 * fits in the execution's TimeoutSeconds with room for the work itself.
 */
function checkRetryBudget(result: RunResult): void {
  const retriesByState = new Map<string, number>();
  for (const event of result.events) {
    if (event.type === 'StateRetried' && event.state) retriesByState.set(event.state.name, (retriesByState.get(event.state.name) ?? 0) + 1);
  }
  let backoffSeconds = 0;
  for (const [name, retries] of retriesByState) {
    const retriers = definition.States[name].Retry as Array<{ ErrorEquals: string[]; IntervalSeconds: number; BackoffRate: number; MaxDelaySeconds: number; MaxAttempts: number }>;
    const transient = retriers.find((r) => r.ErrorEquals.includes('TransientError'))!;
    expect(retries).toBeLessThanOrEqual(transient.MaxAttempts);
    for (let k = 0; k < retries; k++) backoffSeconds += Math.min(transient.MaxDelaySeconds, transient.IntervalSeconds * transient.BackoffRate ** k);
  }
  expect(backoffSeconds).toBeLessThanOrEqual(definition.TimeoutSeconds / 2);
  retryTotals.retries += [...retriesByState.values()].reduce((a, b) => a + b, 0);
}
const retryTotals = { retries: 0 };

function retried(result: RunResult, state: string): number {
  return result.events.filter((e) => e.type === 'StateRetried' && e.state?.name === state).length;
}

const throttling = () => ({ error: awsError('Throttling', 400, 'Rate exceeded') });
const serverError = () => ({ error: awsError('InternalFailure', 500, 'An internal error occurred') });

describe('Auto Scaling faults', () => {
  it('throttled SetDesiredCapacity: ScaleOut retries with backoff and the group reaches the target', async () => {
    const h = await setup();
    h.faults.add('autoscaling-throttling', 'autoscaling:SetDesiredCapacity', 2, throttling);
    const result = await h.run(jobEvent('queued', 1));
    expect(result.status).toBe('SUCCEEDED');
    expect(retried(result, 'ScaleOut')).toBe(2);
    expect(h.group.desired).toBe(2);
    expectFleetInvariants(h.group);
  });

  it('Auto Scaling 5xx on every Describe: the failure is recorded, nothing changes, the next event converges', async () => {
    const h = await setup();
    h.faults.add('autoscaling-5xx', 'autoscaling:DescribeAutoScalingGroups', Infinity, serverError);
    const failed = [await h.run(jobEvent('queued', 1)), await h.run(jobEvent('queued', 2))];
    expect(failed.map((r) => r.status)).toEqual(['FAILED', 'FAILED']);
    expect(retried(failed[0], 'Observe')).toBe(definition.States.Observe.Retry.find((r: { ErrorEquals: string[] }) => r.ErrorEquals.includes('TransientError')).MaxAttempts);
    expect((await readActivity(h.doc, h.tableName, 'default')).lastFailure).toMatchObject({ error: 'TransientError', cause: expect.stringContaining('InternalFailure') });
    expect(h.metrics.total('Errors')).toBe(2);
    expect(h.group.desiredHistory).toEqual([]);
    // Both jobs are in the ledger: the first execution after the outage scales for both.
    expect(await countOpenJobs(h.doc, h.tableName, 'default')).toEqual({ queued: 2, inProgress: 0 });
    h.faults.clear();
    const next = await h.run(jobEvent('queued', 3));
    expect(next.output).toMatchObject({ outcome: 'scaled_out', decision: { target: 4 } });
    expect(h.group.desired).toBe(4);
    expectFleetInvariants(h.group);
  });

  it('terminate throttled after GitHub deleted the registration: retried, no busy runner terminated, the reconcile removes the leftover', async () => {
    const h = await setup({ headroom: 0, bootTimeoutSeconds: 120 });
    for (const id of [1, 2, 3]) await h.run(jobEvent('queued', id));
    expect(h.group.desired).toBe(3);
    h.boot();
    const [onDemand, first, second] = [...h.group.instances.keys()];
    h.github.runnerByName(first)!.busy = true; // job 1 runs there
    await h.run(jobEvent('in_progress', 1, { runnerName: first }));
    h.faults.add('autoscaling-throttling', 'autoscaling:TerminateInstanceInAutoScalingGroup', Infinity, throttling);
    // Demand drops to 2 (job 1 running, job 3 queued): one idle runner goes, the spot one.
    const scaleIn = await h.run(jobEvent('completed', 2));
    // The retry finds the registration already gone and leaves the instance to the reconcile.
    expect(retried(scaleIn, 'ScaleIn')).toBe(1);
    expect(scaleIn.output).toMatchObject({ outcome: 'skipped_victims', applied: { skipped: [{ instanceId: second, reason: 'runner not found at GitHub' }] } });
    expect(h.github.runnerByName(second)).toBeUndefined();
    expect(h.group.instances.has(second)).toBe(true);
    h.faults.clear();
    h.github.addJob(1, 'in_progress');
    h.github.addJob(3, 'queued');
    h.clock.advance(121);
    const repaired = await h.run(RECONCILE_INPUT);
    expect(repaired.status).toBe('SUCCEEDED');
    expect(repaired.output.reconcile.terminatedUnregistered).toEqual([second]);
    expect([...h.group.instances.keys()].sort()).toEqual([onDemand, first].sort());
    expect(h.group.desired).toBe(2);
    expect(h.group.terminated).toEqual([second]);
    expectFleetInvariants(h.group);
  });

  it('an instance refused by Auto Scaling at the floor (decrement below min) is never forced: the fleet stays at the floor', async () => {
    const h = await setup();
    await h.run(jobEvent('queued', 1));
    h.boot();
    await h.run(jobEvent('completed', 1));
    expect(h.group.desired).toBe(FLOOR);
    h.clock.advance(600);
    for (let i = 0; i < 3; i++) expect((await h.run(RECONCILE_INPUT)).status).toBe('SUCCEEDED');
    expect(h.group.desired).toBe(FLOOR);
    expect(h.group.instances.size).toBe(FLOOR);
    expectFleetInvariants(h.group);
  });
});

describe('DynamoDB faults', () => {
  it('throttled ledger write after the delivery was recorded: RecordEvent retries, the job is recorded once, the delivery is not refused by its own retry', async () => {
    const h = await setup();
    // The first PutItem records the delivery id, the second the job: the job write and the retry's first write are throttled.
    h.faults.add('dynamodb-throttling', 'dynamodb:PutItem', 2, () => ({ error: new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the current capacity', $metadata: { httpStatusCode: 400 } }) }), { after: 1 });
    const result = await h.run(jobEvent('queued', 1));
    expect(result.status).toBe('SUCCEEDED');
    expect(retried(result, 'RecordEvent')).toBe(2);
    expect(result.output.outcome).toBe('scaled_out');
    expect((await readJob(h.doc, h.tableName, 1))?.rev).toBe(1);
    expect(h.group.desired).toBe(2);
    expectFleetInvariants(h.group);
  });

  it('throttled open-jobs query in Observe: retried within the budget, then the decision is the same as without the fault', async () => {
    const h = await setup({ headroom: 1 });
    // Observe counts each status with its own query, both at once: 4 throttled queries fail two attempts.
    h.faults.add('dynamodb-throttling', 'dynamodb:Query', 4, () => ({ error: awsError('ThrottlingException', 400, 'Rate of requests exceeds the allowed throughput') }));
    const result = await h.run(jobEvent('queued', 1));
    expect(result.status).toBe('SUCCEEDED');
    expect(retried(result, 'Observe')).toBe(2);
    expect(h.group.desired).toBe(2);
    expectFleetInvariants(h.group);
  });

  it('DynamoDB 5xx everywhere (RecordFailure too): the execution still ends in the Fail state with the error logged, and converges after', async () => {
    const h = await setup();
    await h.run(jobEvent('queued', 1));
    for (const operation of ['UpdateItem', 'GetItem', 'BatchGetItem', 'PutItem', 'Query']) {
      h.faults.add('dynamodb-5xx', `dynamodb:${operation}`, Infinity, () => ({ error: awsError('InternalServerError', 500, 'Internal server error') }));
    }
    const result = await h.run(jobEvent('queued', 2));
    expect(result.status).toBe('FAILED');
    expect(result.error?.name).toBe('AutoScaler.TaskFailed');
    expect(h.logger.lines.some((l) => l.level === 'error' && l.message === 'autoscaler execution failed')).toBe(true);
    expect(h.group.desired).toBe(2);
    h.faults.clear();
    // The lost delivery is not in the ledger; the reconcile finds the job queued at GitHub.
    h.github.addJob(1);
    h.github.addJob(2);
    const repaired = await h.run(RECONCILE_INPUT);
    expect(repaired.output.reconcile.addedJobs).toEqual([2]);
    expect(h.group.desired).toBe(3);
    expectFleetInvariants(h.group);
  });
});

describe('SSM faults (GitHub credentials)', () => {
  it('throttled credentials read: scale-out follows the ledger meanwhile, no scale-in without GitHub, then converges', async () => {
    const h = await setup();
    h.faults.add('ssm-throttling', 'ssm:GetParameter', Infinity, () => ({ error: awsError('ThrottlingException', 400, 'Rate exceeded') }));
    await h.run(jobEvent('queued', 1));
    await h.run(jobEvent('queued', 2));
    expect(h.group.desired).toBe(3);
    h.boot();
    await h.run(jobEvent('completed', 1));
    const held = await h.run(jobEvent('completed', 2));
    expect(held.output).toMatchObject({ outcome: 'nothing' });
    expect(h.group.terminated).toEqual([]);
    // Scale-in needs GitHub's view of who is idle: asked for, unavailable, reported.
    expect(h.metrics.total('GitHubUnavailable')).toBeGreaterThan(0);
    const reconcile = await h.run(RECONCILE_INPUT);
    expect(reconcile.status).toBe('FAILED');
    expect(retried(reconcile, 'Reconcile')).toBe(definition.States.Reconcile.Retry[0].MaxAttempts);
    h.faults.clear();
    const converged = await h.run(RECONCILE_INPUT);
    expect(converged.output).toMatchObject({ outcome: 'scaled_in' });
    expect(h.group.desired).toBe(FLOOR);
    expect(h.ssm.calls()).toBeGreaterThan(1);
    expectFleetInvariants(h.group);
  });

  it('SSM 5xx once at cold start: the next GitHub call loads the credentials again', async () => {
    const h = await setup();
    h.faults.add('ssm-5xx', 'ssm:GetParameter', 1, () => ({ error: awsError('InternalServerError', 500) }));
    await h.run(jobEvent('queued', 1));
    h.github.addJob(1);
    const result = await h.run(RECONCILE_INPUT);
    expect(result.status).toBe('SUCCEEDED');
    expect(h.ssm.calls()).toBe(2);
    expectFleetInvariants(h.group);
  });
});

describe('GitHub faults', () => {
  it('GitHub 5xx on the runner list: bounded retries with backoff, scale-out continues, no scale-in until GitHub answers', async () => {
    const h = await setup();
    h.faults.add('github-5xx', 'github:listRunners', Infinity, () => ({ status: 502, body: { message: 'Server Error' } }));
    for (const id of [1, 2, 3]) await h.run(jobEvent('queued', id));
    expect(h.group.desired).toBe(4);
    h.boot();
    const start = h.clock.now();
    const sleepsBefore = h.sleeps.length;
    const completions = [];
    for (const id of [1, 2, 3]) completions.push(await h.run(jobEvent('completed', id)));
    expect(h.group.terminated).toEqual([]);
    expect(completions.map((r) => r.output.outcome)).toEqual(['nothing', 'nothing', 'nothing']);
    // At most 3 attempts per execution, with growing backoff between them.
    const requests = h.github.requestsSince(start);
    expect(requests).toBeGreaterThan(0);
    expect(requests).toBeLessThanOrEqual(3 * completions.length);
    const waits = h.sleeps.slice(sleepsBefore);
    expect(waits.length).toBeGreaterThan(0);
    expect(waits[1]).toBeGreaterThan(waits[0]);
    h.faults.clear();
    const converged = await h.run(RECONCILE_INPUT);
    expect(converged.output.outcome).toBe('scaled_in');
    expect(h.group.desired).toBe(FLOOR); // target = clamp(floor, max, headroom 1)
    expectFleetInvariants(h.group);
  });

  it('primary rate limit exhausted (403, x-ratelimit-remaining 0): no request until the reset, then the reconcile converges', async () => {
    const h = await setup();
    await h.run(jobEvent('queued', 1));
    h.boot();
    const reset = Math.floor(h.clock.now() / 1000) + 600;
    const limited = () => ({ status: 403, body: { message: 'API rate limit exceeded for installation ID 1.' }, headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset), 'x-ratelimit-limit': '5000' } });
    for (const route of ['listRunners', 'getJob', 'deleteRunner', 'listRuns', 'listRunJobs']) h.faults.add('github-403-ratelimit', `github:${route}`, Infinity, limited);
    const outageStart = h.clock.now();
    // A burst during the outage: 20 events and a reconcile.
    for (let id = 2; id <= 21; id++) {
      await h.run(jobEvent('queued', id));
      h.clock.advance(5);
    }
    const reconcile = await h.run(RECONCILE_INPUT);
    expect(reconcile.status).toBe('FAILED');
    const duringOutage = h.github.requestsSince(outageStart);
    // Once GitHub said "exhausted until reset", nothing more is sent before the reset: no hot loop.
    expect(duringOutage).toBeLessThanOrEqual(1);
    // Scale-out from the ledger went on, capped at max.
    expect(h.group.desired).toBe(MAX);
    // No in-Lambda wait beyond the budget.
    expect(h.sleeps.every((ms) => ms <= 5_000)).toBe(true);
    h.faults.clear();
    h.clock.time = reset * 1000 + 1_000;
    for (let id = 1; id <= 21; id++) h.github.addJob(id, 'completed');
    const converged = await h.run(RECONCILE_INPUT);
    expect(converged.status).toBe('SUCCEEDED');
    expect(converged.output.reconcile.closedJobs).toHaveLength(21);
    expectFleetInvariants(h.group);
  });

  it('secondary rate limit with retry-after within the budget: waits exactly that long, then succeeds', async () => {
    const h = await setup();
    await h.run(jobEvent('queued', 1));
    // Started at GitHub while its in_progress webhook was lost: the reconcile re-reads it (a job GitHub still lists as queued needs no call).
    h.github.addJob(1, 'in_progress');
    h.faults.add('github-secondary-ratelimit', 'github:getJob', 1, () => ({ status: 429, body: { message: 'You have exceeded a secondary rate limit.' }, headers: { 'retry-after': '3' } }));
    const before = h.sleeps.length;
    const result = await h.run(RECONCILE_INPUT);
    expect(result.status).toBe('SUCCEEDED');
    expect(h.sleeps.slice(before)).toContain(3000);
    expectFleetInvariants(h.group);
  });

  it('secondary rate limit with a long retry-after (403): the adapter holds every route until then, scale-out continues', async () => {
    const h = await setup();
    h.faults.add('github-secondary-ratelimit', 'github:listRunners', 1, () => ({ status: 403, body: { message: 'You have exceeded a secondary rate limit.' }, headers: { 'retry-after': '120' } }));
    const start = h.clock.now();
    for (let id = 1; id <= 10; id++) await h.run(jobEvent('queued', id));
    expect(h.github.requestsSince(start)).toBe(1);
    expect(h.group.desired).toBe(MAX);
    h.clock.advance(121);
    await h.run(jobEvent('queued', 11));
    expect(h.github.requestsSince(start)).toBe(2);
    expectFleetInvariants(h.group);
  });

  it('GitHub connection timeouts and resets: retried with backoff, the scale-in never terminates a runner GitHub did not delete', async () => {
    const h = await setup();
    await h.run(jobEvent('queued', 1));
    h.boot();
    const spot = [...h.group.instances.keys()][1];
    const timeout = () => ({ error: Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError', code: 23 }) });
    const reset = () => ({ error: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
    h.faults.add('github-timeout', 'github:deleteRunner', 2, timeout);
    h.faults.add('github-connection-reset', 'github:deleteRunner', 1, reset);
    const result = await h.run(jobEvent('completed', 1));
    expect(result.status).toBe('SUCCEEDED');
    expect(result.output.outcome).toBe('scaled_in');
    expect(h.group.terminated).toEqual([spot]);
    expect(h.github.runnerByName(spot)).toBeUndefined();
    expectFleetInvariants(h.group);
  });

  it('GitHub 5xx on every deletion: the idle runner is kept (nothing terminated without GitHub\'s consent), the failure is recorded', async () => {
    const h = await setup();
    await h.run(jobEvent('queued', 1));
    h.boot();
    h.faults.add('github-5xx', 'github:deleteRunner', Infinity, () => ({ status: 503, body: { message: 'Service Unavailable' } }));
    const result = await h.run(jobEvent('completed', 1));
    expect(result.status).toBe('FAILED');
    expect(h.group.terminated).toEqual([]);
    expect(h.group.desired).toBe(2);
    h.faults.clear();
    expect((await h.run(RECONCILE_INPUT)).output.outcome).toBe('scaled_in');
    expect(h.group.desired).toBe(FLOOR);
    expectFleetInvariants(h.group);
  });
});
