import { join } from 'node:path';
import { CRASH_LOOP_THRESHOLD } from '../../lib/boot-health';
import { readBootHealth } from '../../lib/boot-health-store';
import { loadTemplate } from '../../lib/cfn-template';
import { recordJobEvent } from '../../lib/ledger';
import { runnersThatTookJobs } from '../../lib/runner-jobs';
import { AutoScalingActivities, MAX_ACTIVITY_PAGES } from '../../lib/adapters/scaling-activities';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DEFAULT_SETTINGS } from '../../lib/settings';
import { writeSettings } from '../../lib/settings-store';
import type { AutoScalerDeps } from '../../AutoScaler/src/deps';
import { BOOT_FAILURE_METRIC } from '../../AutoScaler/src/boot-check';
import { SimulatedFleet } from '../../local/fleet';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { createMachine, FakeGitHub, jobEvent, ManualClock, RECONCILE_INPUT, RecordingLogger, RecordingMetrics, ROOT } from './support/fakes';

/**
 * Boot failures are visible (issue 13): a pool whose every instance boots,
 * fails and leaves is flagged by the first reconcile after it started, through
 * the real state machine, with the local mode's simulated Auto Scaling group
 * (its terminations are its scaling activities) and dynalite.
 */
const LABELS = ['self-hosted', 'linux', 'x64'];
const PERIOD_SECONDS = 15 * 60;
const BOOT_SECONDS = 90;
let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

async function pool(runner: 'crashes' | 'runs-a-job') {
  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const github = new FakeGitHub();
  const fleet = new SimulatedFleet({ min: 1, max: 2, onDemandBase: 1, bootMs: BOOT_SECONDS * 1000, clock });
  const logger = new RecordingLogger();
  const metrics = new RecordingMetrics();
  await writeSettings(dynamo.doc, tableName, 'default', { ...DEFAULT_SETTINGS, max: 2 }, 0, 'test', clock.now());
  const deps: AutoScalerDeps = { doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, scalingActivities: fleet, github, clock, logger, metrics };
  const run = createMachine(deps);
  const queue: number[] = [];
  const pending: Array<Promise<void>> = [];
  const boot = async (instance: { instanceId: string }) => {
      const jobId = queue.shift();
      if (runner === 'runs-a-job' && jobId !== undefined) {
        // The runner takes a job (in_progress names it), runs it, and its instance leaves.
        github.jobs.get(jobId)!.status = 'completed';
        await run(jobEvent('in_progress', jobId, { runnerName: instance.instanceId }));
        await run(jobEvent('completed', jobId, { runnerName: instance.instanceId }));
      } else if (jobId !== undefined) queue.unshift(jobId);
      // Crashing or done: the instance takes itself out of the group, which launches a replacement.
      fleet.instanceFinished(instance.instanceId);
  };
  fleet.setHooks({ instanceBooted: (instance) => void pending.push(boot(instance)) });
  /** Jobs queued at GitHub and announced by their webhooks. */
  const queueJobs = async (ids: number[]) => {
    for (const id of ids) {
      github.addJob({ id, status: 'queued', createdAt: new Date(clock.now()).toISOString() });
      queue.push(id);
      await run(jobEvent('queued', id, { createdAt: new Date(clock.now()).toISOString() }));
    }
  };
  /** One reconcile period of virtual time, the group's boot state machine ticking every 10 s. */
  const onePeriod = async () => {
    for (let t = 0; t < PERIOD_SECONDS; t += 10) {
      clock.advance(10);
      fleet.tick();
      await new Promise((resolve) => setImmediate(resolve));
      // Every runner that booted has done its part (a job, or its crash) before time moves on.
      while (pending.length) await Promise.all(pending.splice(0));
    }
  };
  return { tableName, clock, fleet, logger, metrics, run, queueJobs, onePeriod };
}

describe('a crash-looping pool', () => {
  it('is flagged by the first reconcile after one period: metric, stored record, error log', async () => {
    const p = await pool('crashes');
    expect((await p.run(RECONCILE_INPUT)).status).toBe('SUCCEEDED'); // the previous period's reconcile: nothing yet
    await p.queueJobs([1, 2, 3]);
    await p.onePeriod();
    const selfTerminations = p.fleet.terminations.filter((t) => t.by === 'self').length;
    // Each leaves with decrement down to the floor, and the floor's instance is replaced every boot: about 10 at the floor alone.
    expect(selfTerminations).toBeGreaterThanOrEqual(PERIOD_SECONDS / BOOT_SECONDS);

    const result = await p.run(RECONCILE_INPUT);
    expect(result.status).toBe('SUCCEEDED');
    const health = await readBootHealth(dynamo.doc, p.tableName, 'default');
    expect(health).toMatchObject({ crashLoop: true, departures: selfTerminations, leftWithoutJob: selfTerminations, leftWhileJobsWaited: selfTerminations });
    expect(health!.instanceIds.length).toBeGreaterThan(0);
    expect(p.metrics.total(BOOT_FAILURE_METRIC)).toBe(selfTerminations);
    expect(p.logger.lines.some((l) => l.level === 'error' && l.message.includes('without running a job'))).toBe(true);
  });

  it('a pool whose instances each run a job and leave is not flagged', async () => {
    const p = await pool('runs-a-job');
    await p.run(RECONCILE_INPUT);
    // More jobs than the group runs in one period (two instances at most, then one at the floor): every
    // instance leaves after its job while later jobs still wait, so only the ledger's runner names tell it apart.
    await p.queueJobs(Array.from({ length: 12 }, (_, i) => i + 1));
    await p.onePeriod();
    expect(p.fleet.terminations.filter((t) => t.by === 'self').length).toBeGreaterThanOrEqual(PERIOD_SECONDS / BOOT_SECONDS);
    await p.run(RECONCILE_INPUT);
    const health = await readBootHealth(dynamo.doc, p.tableName, 'default');
    expect(health).toMatchObject({ crashLoop: false, leftWithoutJob: 0, leftWhileJobsWaited: 0 });
    expect(p.metrics.total(BOOT_FAILURE_METRIC)).toBe(0);
  });
});

describe('AutoScaler/template.yaml', () => {
  const template = loadTemplate(join(ROOT, 'AutoScaler', 'template.yaml'));
  const resources = template.Resources;

  it('alarms on the metric the reconcile emits, with its dimensions, at the crash-loop threshold', () => {
    const alarm = resources.InstancesLeftWithoutJobAlarm.Properties!;
    // Powertools metrics carry the service name and the default dimensions (AutoScaler/src/real-deps/store.ts).
    expect(resources.ReconcileFunction.Properties!.Environment.Variables.POWERTOOLS_SERVICE_NAME).toBe('reconcile');
    expect(alarm).toMatchObject({
      Namespace: template.Globals && (template.Globals as any).Function.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE,
      MetricName: BOOT_FAILURE_METRIC,
      Dimensions: [
        { Name: 'service', Value: 'reconcile' },
        { Name: 'pool', Value: { Ref: 'PoolName' } },
      ],
      Statistic: 'Sum',
      Threshold: CRASH_LOOP_THRESHOLD,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: { Ref: 'ReconcileMinutes' },
      DatapointsToAlarm: 1,
    });
    // It names where the boot outcome is: the Runners stack's boot log group.
    expect(JSON.stringify(alarm.AlarmDescription)).toContain('/runner-autoscaler/${RunnersStackName}/boot');
  });

  it('lets the reconcile read the scaling activities (no resource-level permission: Resource "*")', () => {
    const statements = resources.ReconcileRole.Properties!.Policies[0].PolicyDocument.Statement as Array<{ Action: string[]; Resource: unknown }>;
    const describe = statements.find((st) => Array.isArray(st.Action) && st.Action.includes('autoscaling:DescribeScalingActivities'));
    expect(describe?.Resource).toBe('*');
  });
});

describe('which runners took a job (the ledger, lib/runner-jobs.ts)', () => {
  it('is written once, when a job event first names its runner, and read back by BatchGetItem', async () => {
    const tableName = await dynamo.createTable();
    const operations: string[] = [];
    dynamo.client.middlewareStack.add(
      (next, context) => async (args) => {
        operations.push(String((context as { commandName?: string }).commandName).replace(/Command$/, ''));
        return next(args);
      },
      { step: 'initialize', name: 'countRunnerJobCalls' },
    );
    const base = { pool: 'default', jobId: 7, repository: 'acme/app', labels: LABELS, runId: 70, at: Date.parse('2026-03-01T12:00:00Z'), source: 'd' };
    try {
      await recordJobEvent(dynamo.doc, tableName, { ...base, action: 'queued' });
      operations.length = 0;
      await recordJobEvent(dynamo.doc, tableName, { ...base, action: 'in_progress', runnerName: 'i-0aaa', at: base.at + 1 });
      expect(operations).toEqual(['GetItem', 'PutItem', 'PutItem']);
      operations.length = 0;
      // The completed event names the same runner: nothing more to remember.
      await recordJobEvent(dynamo.doc, tableName, { ...base, action: 'completed', runnerName: 'i-0aaa', at: base.at + 2 });
      expect(operations).toEqual(['GetItem', 'PutItem']);
    } finally {
      dynamo.client.middlewareStack.remove('countRunnerJobCalls');
    }
    expect(await runnersThatTookJobs(dynamo.doc, tableName, ['i-0aaa', 'i-0bbb'])).toEqual(new Set(['i-0aaa']));
    expect(await runnersThatTookJobs(dynamo.doc, tableName, [])).toEqual(new Set());
  });
});

describe('AutoScalingActivities (DescribeScalingActivities pages)', () => {
  const since = Date.parse('2026-03-01T12:00:00Z');
  const activity = (id: string, secondsAfter: number, status = 'Successful') => ({
    Description: `Terminating EC2 instance: ${id}`,
    Cause: 'user request',
    StartTime: new Date(since + secondsAfter * 1000),
    StatusCode: status,
  });
  function client(pages: Array<{ Activities: unknown[]; NextToken?: string }>) {
    const requests: Array<Record<string, unknown>> = [];
    const send = async (command: { input: Record<string, unknown> }) => {
      requests.push(command.input);
      return pages[requests.length - 1] ?? { Activities: [] };
    };
    return { requests, autoScaling: { send } as unknown as AutoScalingClient };
  }

  it('pages newest first for its group and stops at the first page that reaches back before the window', async () => {
    const { requests, autoScaling } = client([
      { Activities: [activity('i-0aaa', 300), activity('i-0bbb', 200)], NextToken: 't1' },
      { Activities: [activity('i-0ccc', 100), activity('i-0old', -50)], NextToken: 't2' },
      { Activities: [activity('i-0older', -500)] },
    ]);
    const departures = await new AutoScalingActivities('group-1', autoScaling).departuresSince(since);
    expect(departures.map((d) => d.instanceId)).toEqual(['i-0aaa', 'i-0bbb', 'i-0ccc']);
    expect(requests).toEqual([
      { AutoScalingGroupName: 'group-1', MaxRecords: 100, NextToken: undefined },
      { AutoScalingGroupName: 'group-1', MaxRecords: 100, NextToken: 't1' },
    ]);
  });

  it(`reads at most ${MAX_ACTIVITY_PAGES} pages`, async () => {
    const { requests, autoScaling } = client(Array.from({ length: 10 }, (_, i) => ({ Activities: [activity(`i-0${i}`, 100)], NextToken: `t${i}` })));
    expect(await new AutoScalingActivities('g', autoScaling).departuresSince(since)).toHaveLength(MAX_ACTIVITY_PAGES);
    expect(requests).toHaveLength(MAX_ACTIVITY_PAGES);
  });
});
