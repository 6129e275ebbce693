/**
 * Load through the local pipeline, end to end (issue 6, item 3).
 *
 * Every delivery is signed like GitHub signs it and goes through the real
 * chain: the webhook handler (HMAC, parsing, label filter) -> LocalBus (the
 * AutoScaler template's rules, matched by the project's pattern matcher) ->
 * the real state machine file (aws-local-stepfunctions, via local/state-machine)
 * with the real Task handlers -> the ledger in dynalite. The fleet and GitHub
 * are the in-process stand-ins of the AutoScaler tests (nothing registers, so
 * the group only grows: the overshoot bound is the interesting one).
 *
 * The workload: LOAD_QUEUED queued deliveries (default 10,000, the issue's
 * figure), 10 % of them redeliveries of an earlier delivery (same
 * X-GitHub-Delivery id and body), shuffled; LOAD_COMPLETED_SHARE of the jobs
 * (default 90 %: a rolling load, most jobs finish while others queue) also
 * get a `completed`, some of which are delivered before the job's `queued`. Deliveries are sent in concurrent
 * batches; between batches the bus drains.
 *
 * Checked: every delivery answered 202 and forwarded; no delivery recorded
 * twice (each duplicate skipped exactly once); the ledger ends exactly as the
 * workload implies; no SetDesiredCapacity above min(max, open demand + headroom).
 */
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { sign } from '@octokit/webhooks-methods';
import { createStateMachineHandlers } from '../../AutoScaler/src/handlers';
import { createWebhookHandler } from '../../Infrastructure/src/webhook';
import { loadTemplate, parameterDefaults, runnerLabelsImport } from '../../lib/cfn-template';
import { DEFAULT_SETTINGS, type Settings } from '../../lib/settings';
import { writeSettings } from '../../lib/settings-store';
import { LocalBus, rulesFromTemplate } from '../../local/bus';
import { createLocalStateMachine, loadStateMachine } from '../../local/state-machine';
import { FakeFleet, FakeGitHub, ManualClock, RecordingLogger } from '../autoscaler/support/fakes';
import { startDynalite, type LocalDynamo } from '../support/dynalite';
import { queuedJob, TEST_SECRET } from '../ingress/support';
import { seededRandom } from '../../sim/random';

// The figure; about 7.5 minutes on a 2-core machine (docs/reliability.md has the timings).
const QUEUED = Number(process.env.LOAD_QUEUED ?? 10_000);
const DUPLICATE_SHARE = 0.1;
const COMPLETED_SHARE = Number(process.env.LOAD_COMPLETED_SHARE ?? 0.9);
const BATCH = 100;
const MAX = 50;
const HEADROOM = 2;
const LABELS = ['self-hosted', 'linux', 'x64'];
const ROOT = join(__dirname, '..', '..');

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.stop();
});

interface Delivery {
  id: string;
  jobId: number;
  action: 'queued' | 'completed';
  body: string;
  duplicate: boolean;
}

function workload(seed: number) {
  // Seeded, so a failure reproduces.
  const random = seededRandom(seed);
  const template = queuedJob();
  const uniqueQueued = Math.round(QUEUED * (1 - DUPLICATE_SHARE));
  const originals: Delivery[] = [];
  const payload = (jobId: number, action: 'queued' | 'completed') =>
    JSON.stringify({
      ...template,
      action,
      workflow_job: {
        ...template.workflow_job,
        id: jobId,
        run_id: jobId * 10,
        status: action,
        conclusion: action === 'completed' ? 'success' : null,
        completed_at: action === 'completed' ? '2026-03-01T12:10:00Z' : null,
        labels: ['self-hosted', 'linux', 'x64'],
      },
    });
  for (let jobId = 1; jobId <= uniqueQueued; jobId++) originals.push({ id: `q-${jobId}`, jobId, action: 'queued', body: payload(jobId, 'queued'), duplicate: false });
  const completedJobs = new Set<number>();
  for (let jobId = 1; jobId <= uniqueQueued; jobId++) if (random() < COMPLETED_SHARE) completedJobs.add(jobId);
  const completions: Delivery[] = [...completedJobs].map((jobId) => ({ id: `c-${jobId}`, jobId, action: 'completed', body: payload(jobId, 'completed'), duplicate: false }));
  // Arrival order: queued in job order with local disorder; completions a while after their queued,
  // a quarter of them BEFORE it; then the redeliveries at random later positions.
  const keyed: Array<{ key: number; delivery: Delivery }> = originals.map((d) => ({ key: d.jobId + random() * 300, delivery: d }));
  for (const c of completions) keyed.push({ key: c.jobId + (random() < 0.25 ? -random() * 300 : 50 + random() * 500), delivery: c });
  keyed.sort((a, b) => a.key - b.key);
  const ordered = keyed.map((k) => k.delivery);
  const duplicates = QUEUED - uniqueQueued;
  for (let i = 0; i < duplicates; i++) {
    const original = originals[Math.floor(random() * originals.length)];
    const firstAt = ordered.indexOf(original);
    const at = firstAt + 1 + Math.floor(random() * (ordered.length - firstAt));
    ordered.splice(at, 0, { ...original, duplicate: true });
  }
  const completedBeforeQueued = completions.filter((c) => ordered.indexOf(c) < ordered.findIndex((d) => d.action === 'queued' && d.jobId === c.jobId)).length;
  return { ordered, uniqueQueued, completedJobs, duplicates, completedBeforeQueued };
}

it(`${QUEUED} queued deliveries (10 % duplicates, shuffled, some completed first) end in exactly the right ledger, never overshooting`, async () => {
  const started = Date.now();
  const { ordered, uniqueQueued, completedJobs, duplicates, completedBeforeQueued } = workload(6);
  expect(completedBeforeQueued).toBeGreaterThan(0);

  const tableName = await dynamo.createTable();
  const clock = new ManualClock();
  const github = new FakeGitHub();
  const fleet = new FakeFleet(clock, 1, MAX);
  fleet.seed(1, github, LABELS);
  const settings: Settings = { ...DEFAULT_SETTINGS, floor: 1, max: MAX, headroom: HEADROOM };
  await writeSettings(dynamo.doc, tableName, 'default', settings, 0, 'test', clock.now());

  // Upper bound of open demand while batch k runs: jobs whose queued was sent so far, minus those whose
  // completed was processed in an earlier batch. Every SetDesiredCapacity is checked against it.
  let openUpperBound = 0;
  const overshoots: string[] = [];
  const setDesired = fleet.setDesiredCapacity.bind(fleet);
  fleet.setDesiredCapacity = async (desired: number) => {
    const bound = Math.min(MAX, Math.max(settings.floor, openUpperBound + HEADROOM));
    if (desired > bound) overshoots.push(`desired ${desired} > min(max, demand ${openUpperBound} + headroom)`);
    return setDesired(desired);
  };

  const logger = new RecordingLogger();
  const handlers = createStateMachineHandlers({ doc: dynamo.doc, tableName, pool: 'default', scalingGroup: fleet, github, clock, logger });
  const recorded = new Map<string, number>();
  let skippedDuplicates = 0;
  const recordEvent = handlers.RecordEvent;
  handlers.RecordEvent = async (input: { input: { detail?: { deliveryId?: string } } }) => {
    const state = await recordEvent(input);
    const deliveryId = input.input?.detail?.deliveryId;
    if (deliveryId && state.job) recorded.set(deliveryId, (recorded.get(deliveryId) ?? 0) + 1);
    if (state.skip && /already handled/.test(state.skipReason ?? '')) skippedDuplicates += 1;
    return state;
  };

  const templatePath = join(ROOT, 'AutoScaler', 'template.yaml');
  const template = loadTemplate(templatePath);
  const names = { ...parameterDefaults(template), ...runnerLabelsImport(template, LABELS), 'AWS::Region': 'us-east-1', 'AWS::AccountId': '000000000000', 'AWS::StackName': 'load', 'AWS::Partition': 'aws' };
  const loaded = loadStateMachine(template, templatePath, names);
  const machine = createLocalStateMachine(loaded, handlers);
  const failures: string[] = [];
  const bus = new LocalBus({
    rules: rulesFromTemplate(template, loaded.resourceName, { ...names, EventBus: 'runner-autoscaler', EventBusName: 'runner-autoscaler' }),
    busName: 'runner-autoscaler',
    clock,
    startExecution: (input) => machine.run(input),
    logger: { warn: (message, extra) => failures.push(`${message} ${JSON.stringify(extra)}`) },
    history: 10,
  });
  const webhook = createWebhookHandler({ secrets: async () => [TEST_SECRET], bus, servedLabels: LABELS, now: () => clock.now() });

  const statuses = new Map<number, number>();
  const queuedSent = new Set<number>();
  const completedSent = new Set<number>();
  const completedProcessed = new Set<number>();
  for (let offset = 0; offset < ordered.length; offset += BATCH) {
    const batch = ordered.slice(offset, offset + BATCH);
    for (const d of batch) {
      if (d.action === 'queued') queuedSent.add(d.jobId);
      else completedSent.add(d.jobId);
    }
    openUpperBound = [...queuedSent].filter((jobId) => !completedProcessed.has(jobId)).length;
    const answers = await Promise.all(
      batch.map(async (d) =>
        webhook({
          version: '2.0',
          routeKey: 'POST /webhook',
          rawPath: '/webhook',
          rawQueryString: '',
          headers: {
            'content-type': 'application/json',
            'x-github-event': 'workflow_job',
            'x-github-delivery': d.id,
            'x-hub-signature-256': await sign(TEST_SECRET, d.body),
          },
          requestContext: { http: { method: 'POST', path: '/webhook', protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'GitHub-Hookshot/load' } },
          body: d.body,
          isBase64Encoded: false,
        } as never),
      ),
    );
    for (const answer of answers) statuses.set(answer.statusCode, (statuses.get(answer.statusCode) ?? 0) + 1);
    await bus.idle();
    for (const d of batch) if (d.action === 'completed') completedProcessed.add(d.jobId);
    clock.advance(1);
  }

  // Every delivery forwarded (202), and every execution succeeded.
  expect(Object.fromEntries(statuses)).toEqual({ 202: ordered.length });
  expect(failures).toEqual([]);
  // At most once: every original delivery recorded exactly once, every redelivery skipped.
  expect([...recorded.values()].every((count) => count === 1)).toBe(true);
  expect(recorded.size).toBe(uniqueQueued + completedJobs.size);
  expect(skippedDuplicates).toBe(duplicates);
  // The ledger, item by item.
  const jobs = new Map<number, string>();
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await dynamo.doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: startKey, FilterExpression: 'begins_with(pk, :job)', ExpressionAttributeValues: { ':job': 'JOB#' } }));
    for (const item of page.Items ?? []) jobs.set(Number(item.jobId), String(item.status));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  expect(jobs.size).toBe(uniqueQueued);
  const wrong = [...jobs].filter(([jobId, status]) => status !== (completedJobs.has(jobId) ? 'completed' : 'queued'));
  expect(wrong).toEqual([]);
  // Never above min(max, demand + headroom); and the final capacity is exactly that.
  expect(overshoots).toEqual([]);
  const open = uniqueQueued - completedJobs.size;
  expect(fleet.desired).toBe(Math.min(MAX, open + HEADROOM));

  const seconds = (Date.now() - started) / 1000;
  // eslint-disable-next-line no-console
  console.log(
    `hardening load: ${ordered.length} deliveries (${QUEUED} queued incl. ${duplicates} duplicates, ${completedJobs.size} completed, ${completedBeforeQueued} completed before queued) ` +
      `-> ${recorded.size} recorded once, ${skippedDuplicates} duplicates dropped, ${jobs.size} jobs in the ledger, 0 lost, ${overshoots.length} overshoots, ` +
      `max desired ${fleet.maxDesiredSeen}, ${seconds.toFixed(1)} s`,
  );
  // Generous: a slower CI machine must not fail on time (nothing here asserts speed).
}, Math.max(600_000, QUEUED * 200));
