import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { createStateMachineHandlers } from '../AutoScaler/src/handlers';
import { createJitConfigHandler, LAUNCH_DETAIL_TYPE } from '../Runners/src/jit-config';
import { createWebhookHandler } from '../Infrastructure/src/webhook';
import { createGitHubPort } from '../lib/adapters/github';
import { loadTemplate, runnerLabelsImport, parameterDefaults, resourcesOfType, resolveIntrinsics, type CfnTemplate } from '../lib/cfn-template';
import { normalizeLabels } from '../lib/labels';
import { EventBridgeBus } from '../lib/adapters/event-bus';
import { AutoScalingActivities } from '../lib/adapters/scaling-activities';
import type { Clock, EventBusPort, GitHubPort, GroupState, ScalingActivitiesPort, ScalingGroupPort } from '../lib/ports';
import { createSsmSecretReader, createWebhookSecretSource } from '../lib/webhook-secrets';
import { DEFAULT_POOL, DEFAULT_SETTINGS, settingsSchema, type Settings } from '../lib/settings';
import { readSettings, writeSettings } from '../lib/settings-store';
import { OPEN_JOBS_HASH, OPEN_JOBS_INDEX, OPEN_JOBS_PROJECTION, OPEN_JOBS_RANGE, TABLE_KEY } from '../lib/table';
import { AWS_MODE_CREDENTIALS, AwsScalingGroup, createAwsClients, destroyAwsClients, groupSpecFromRunnersTemplate, provisionAwsResources, RunnerAttacher } from './aws-mode';
import { LocalBus, rulesFromTemplate, type BusRule, type Execution } from './bus';
import { SimulatedFleet } from './fleet';
import { SimGitHub } from './sim-github';
import { createLocalStateMachine, loadStateMachine } from './state-machine';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

/**
 * The whole pipeline in one process: the HTTP server stands in for API
 * Gateway (POST /webhook through the real webhook handler), dynalite for
 * DynamoDB, LocalBus for EventBridge (rules read from the AutoScaler
 * template), aws-local-stepfunctions runs the real state machine file with
 * the real Task handlers, and a simulated fleet and GitHub stand in for EC2
 * and github.com. `npm start` is a thin CLI over startLocalStack.
 */
export interface LocalStackOptions {
  /** HTTP port (0 picks a free one). Default 3000. */
  port?: number;
  host?: string;
  /** Seconds an instance takes from launch to a registered runner. Default 10. */
  bootSeconds?: number;
  /** Period of the schedule rules (the reconcile). Default 30 s locally (the template's 15 min is too slow to watch). */
  reconcileSeconds?: number;
  /** Persist DynamoDB here (in memory when absent). */
  dataDir?: string;
  /** Real AWS APIs (moto_server, LocalStack) instead of dynalite and the simulated fleet. */
  awsEndpoint?: string;
  webhookSecret?: string;
  pool?: string;
  /**
   * The pool's labels, as the Infrastructure stack's RunnerLabels parameter sets them in AWS: the webhook's
   * filter, the rule pattern's labels and the runners' labels are all this one value, as there.
   * Default: that parameter's default in Infrastructure/template.yaml.
   */
  labels?: readonly string[];
  /** Settings written when the pool has none yet. */
  settings?: Partial<Settings>;
  autoScalerTemplate?: string;
  runnersTemplate?: string;
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
  /** Dashboard time-series sampling period. Default 1000 ms. */
  sampleMs?: number;
  clock?: Clock;
}

export interface LocalStackUrls {
  dashboard: string;
  webhook: string;
  state: string;
  simJobs: string;
  dynamodb: string;
  github: string;
}

export interface InstanceView {
  id: string;
  lifecycle: string;
  market: string;
  instanceType?: string;
  status: 'booting' | 'idle' | 'busy' | 'offline';
  jobId: number | null;
  launchedAt: string;
}

export interface DecisionView {
  trigger: string;
  time: string;
  action: string;
  target: number | null;
  current: number | null;
  desired: number | null;
  observed: Record<string, number> | null;
  reason: string | null;
  victims: string[];
  status: Execution['status'];
  error?: string;
}

export interface SamplePoint {
  t: number;
  queued: number;
  busy: number;
  idle: number;
  booting: number;
  desired: number;
}

export interface ApiState {
  time: string;
  pool: string;
  /** The pool's labels (fixed for the stack's life, like Infrastructure's RunnerLabels). */
  labels: string[];
  tableName: string;
  desiredCapacity: number;
  floor: number;
  max: number;
  group: { name: string; min: number; max: number; desired: number };
  instances: InstanceView[];
  jobs: { queued: number; inProgress: number; completed: number };
  lastDecision: DecisionView | null;
  decisions: DecisionView[];
  settings: Settings;
  settingsProblems: string[];
  endpoints: { dynamodb: string; github: string; webhook: string; dashboard: string; state: string };
  series: SamplePoint[];
  executions: { running: number; succeeded: number; failed: number };
  rules: Array<{ name: string; kind: 'pattern' | 'schedule'; schedule?: string }>;
  mode: 'simulated' | 'aws';
}

export interface LocalStack {
  urls: LocalStackUrls;
  webhookSecret: string;
  tableName: string;
  pool: string;
  labels: string[];
  sim: SimGitHub;
  fleet: SimulatedFleet | null;
  bus: LocalBus;
  github: GitHubPort;
  scalingGroup: ScalingGroupPort;
  doc: DynamoDBDocumentClient;
  state(): Promise<ApiState>;
  /** What AWS mode created at the endpoint (empty otherwise). */
  provisioned: string[];
  stop(): Promise<void>;
}

export class PortInUseError extends Error {
  constructor(readonly port: number, readonly host: string) {
    super(`port ${port} on ${host} is already in use: stop whatever listens there or pick another port with --port (or PORT)`);
    this.name = 'PortInUseError';
  }
}

const ROOT = resolve(__dirname, '..');
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };
/** API Gateway's own payload limit; the webhook handler applies its smaller one. */
const GATEWAY_MAX_BODY = 10 * 1024 * 1024;
const SIM_JOBS_MAX_BODY = 64 * 1024;

export const LOCAL_DEFAULT_SETTINGS: Settings = {
  ...DEFAULT_SETTINGS,
  // Short enough to watch a burst scale in on the dashboard; edit it like any setting.
  scaleInCooldownSeconds: 30,
};

/** The Infrastructure stack's RunnerLabels default: the pool's labels when none are given, as in a default deploy. */
function infrastructureDefaultLabels(): string[] {
  const value = parameterDefaults(loadTemplate(join(ROOT, 'Infrastructure', 'template.yaml'))).RunnerLabels;
  return String(value ?? '').split(',');
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(port, host) : error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolvePort((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

function closeServer(server: Server | undefined): Promise<void> {
  if (!server || !server.listening) return Promise.resolve();
  server.closeAllConnections?.();
  return new Promise((r) => server.close(() => r()));
}

/** The table exactly as the AutoScaler template defines it (keys, GSI), or the documented shape when the template has none yet. */
export function tableDefinition(template: CfnTemplate | null, names: Record<string, unknown>, tableName: string): CreateTableCommandInput {
  const tables = template ? resourcesOfType(template, 'AWS::DynamoDB::Table') : [];
  if (tables.length > 0) {
    const p = resolveIntrinsics(tables[0][1].Properties ?? {}, names) as Record<string, any>;
    const gsis = (p.GlobalSecondaryIndexes ?? []) as Array<Record<string, any>>;
    return {
      TableName: tableName,
      AttributeDefinitions: p.AttributeDefinitions,
      KeySchema: p.KeySchema,
      BillingMode: 'PAY_PER_REQUEST',
      ...(gsis.length
        ? { GlobalSecondaryIndexes: gsis.map((g) => ({ IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection ?? { ProjectionType: 'ALL' } })) }
        : {}),
    };
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: TABLE_KEY, AttributeType: 'S' },
      { AttributeName: OPEN_JOBS_HASH, AttributeType: 'S' },
      { AttributeName: OPEN_JOBS_RANGE, AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: TABLE_KEY, KeyType: 'HASH' }],
    GlobalSecondaryIndexes: [
      {
        IndexName: OPEN_JOBS_INDEX,
        KeySchema: [
          { AttributeName: OPEN_JOBS_HASH, KeyType: 'HASH' },
          { AttributeName: OPEN_JOBS_RANGE, KeyType: 'RANGE' },
        ],
        Projection: OPEN_JOBS_PROJECTION,
      },
    ],
  };
}

export async function ensureTable(client: DynamoDBClient, definition: CreateTableCommandInput): Promise<'created' | 'existed'> {
  try {
    await client.send(new DescribeTableCommand({ TableName: definition.TableName }));
    return 'existed';
  } catch (error) {
    if ((error as { name?: string }).name !== 'ResourceNotFoundException') throw error;
  }
  await client.send(new CreateTableCommand(definition));
  for (let i = 0; i < 100; i += 1) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: definition.TableName }));
    if (Table?.TableStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return 'created';
}

/** Recursively finds the policy decision (an object with action/target/current) in an execution's output. */
export function findDecision(output: unknown, depth = 0): Record<string, any> | null {
  if (!output || typeof output !== 'object' || depth > 6) return null;
  const record = output as Record<string, any>;
  if (typeof record.action === 'string' && 'target' in record && 'current' in record) return record;
  for (const value of Object.values(record)) {
    const found = findDecision(value, depth + 1);
    if (found) return found;
  }
  return null;
}

function decisionView(execution: Execution): DecisionView {
  const decision = findDecision(execution.output);
  return {
    trigger: execution.trigger,
    time: new Date(execution.finishedAt ?? execution.startedAt).toISOString(),
    action: decision?.action ?? (execution.status === 'FAILED' ? 'failed' : 'none'),
    target: typeof decision?.target === 'number' ? decision.target : null,
    current: typeof decision?.current === 'number' ? decision.current : null,
    desired: typeof decision?.desired === 'number' ? decision.desired : null,
    observed: decision?.counts && typeof decision.counts === 'object' ? decision.counts : null,
    reason: typeof decision?.reason === 'string' ? decision.reason : null,
    victims: Array.isArray(decision?.victims) ? decision.victims.map((v: { instanceId?: string }) => String(v.instanceId ?? v)) : [],
    status: execution.status,
    ...(execution.error ? { error: execution.error } : {}),
  };
}

async function readBody(request: IncomingMessage, limit: number): Promise<{ body: Buffer; tooLarge: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      tooLarge = true;
      continue; // drain without keeping it
    }
    chunks.push(chunk as Buffer);
  }
  return { body: Buffer.concat(chunks), tooLarge };
}

/** The API Gateway HTTP API (payload 2.0) event for a request, as the Lambda would receive it. */
export function toApiGatewayEvent(request: IncomingMessage, body: Buffer, now: number): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const url = new URL(request.url ?? '/', 'http://localhost');
  const text = body.toString('utf8');
  // API Gateway base64-encodes bodies that are not valid UTF-8 text.
  const isText = Buffer.from(text, 'utf8').equals(body);
  return {
    version: '2.0',
    routeKey: 'POST /webhook',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: { method: request.method ?? 'POST', path: url.pathname, protocol: `HTTP/${request.httpVersion}`, sourceIp: request.socket.remoteAddress ?? '127.0.0.1', userAgent: headers['user-agent'] ?? '' },
      requestId: randomBytes(8).toString('hex'),
      routeKey: 'POST /webhook',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: isText ? text : body.toString('base64'),
    isBase64Encoded: !isText,
  } as APIGatewayProxyEventV2;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}

export interface SimJobsRequest {
  labels: string[];
  durationSeconds: number;
  count: number;
}

/** Validates POST /sim/jobs; returns a message for the client when it is wrong. */
export function parseSimJobsRequest(value: unknown): { ok: true; request: SimJobsRequest } | { ok: false; message: string } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return { ok: false, message: 'body must be a JSON object {"labels": [...], "durationSeconds": n, "count": k}' };
  const { labels, durationSeconds, count = 1 } = value as Record<string, unknown>;
  if (!Array.isArray(labels) || labels.length === 0 || labels.length > 20 || !labels.every((l) => typeof l === 'string' && l.trim() !== '' && l.length <= 100)) {
    return { ok: false, message: 'labels must be 1..20 non-empty strings' };
  }
  if (typeof durationSeconds !== 'number' || !Number.isFinite(durationSeconds) || durationSeconds < 0 || durationSeconds > 86400) {
    return { ok: false, message: 'durationSeconds must be a number from 0 to 86400' };
  }
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > 500) {
    return { ok: false, message: 'count must be an integer from 1 to 500' };
  }
  return { ok: true, request: { labels: labels as string[], durationSeconds, count } };
}

export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const host = options.host ?? '127.0.0.1';
  const clock = options.clock ?? { now: () => Date.now() };
  const pool = options.pool ?? DEFAULT_POOL;
  const webhookSecret = options.webhookSecret ?? randomBytes(20).toString('hex');
  const autoScalerTemplatePath = options.autoScalerTemplate ?? join(ROOT, 'AutoScaler', 'template.yaml');
  const template = existsSync(autoScalerTemplatePath) ? loadTemplate(autoScalerTemplatePath) : null;
  const tableName = `runner-autoscaler-${pool}`;
  const poolLabels = normalizeLabels(options.labels ?? infrastructureDefaultLabels());
  const busName = 'runner-autoscaler';
  const logger = new Logger({ serviceName: 'runner-autoscaler-local', logLevel: options.logLevel ?? 'WARN' });
  const cleanups: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        /* keep closing the rest */
      }
    }
    cleanups.length = 0;
  };

  try {
    // The HTTP port first: when it is taken, fail before starting anything else.
    // Until the stack is ready every request gets 503 "starting" at once: without a 'request'
    // listener Node accepts the connection and never answers, so a client that polls while
    // --aws-endpoint provisions (seconds against moto) would hang until its own timeout.
    let route: ((request: IncomingMessage, response: ServerResponse) => void) | undefined = undefined;
    const server = createServer((request, response) => {
      if (route) return route(request, response);
      response.setHeader('retry-after', '1');
      sendJson(response, 503, { status: 'starting', message: 'the local stack is starting; retry in a moment' });
    });
    const port = await listen(server, options.port ?? 3000, host);
    cleanups.push(() => closeServer(server));
    const base = `http://${host}:${port}`;

    const names: Record<string, unknown> = {
      ...(template ? parameterDefaults(template) : {}),
      // The AutoScaler template imports the pool's labels from the Infrastructure stack: give it that export.
      ...(template ? runnerLabelsImport(template, poolLabels) : {}),
      'AWS::Region': 'us-east-1',
      'AWS::AccountId': '000000000000',
      'AWS::StackName': 'runner-autoscaler-local',
      'AWS::Partition': 'aws',
    };
    if (!template) throw new Error(`${autoScalerTemplatePath} is missing: the AutoScaler stack is not built yet`);
    const loaded = loadStateMachine(template, autoScalerTemplatePath, names);
    const rules: BusRule[] = rulesFromTemplate(template, loaded.resourceName, { ...names, EventBus: busName, EventBusName: busName });

    // DynamoDB: dynalite in memory (or in --data-dir), or the given endpoint.
    const awsEndpoint = options.awsEndpoint;
    const awsClients = awsEndpoint ? createAwsClients(awsEndpoint) : null;
    if (awsClients) cleanups.push(() => destroyAwsClients(awsClients));
    let dynamodbUrl: string;
    if (awsEndpoint) {
      dynamodbUrl = awsEndpoint;
    } else {
      if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
      const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(options.dataDir ? { path: resolve(options.dataDir) } : {}) });
      const dynamoPort = await listen(dynamo, 0, host);
      cleanups.push(() => closeServer(dynamo));
      dynamodbUrl = `http://${host}:${dynamoPort}`;
    }
    const dynamoClient = new DynamoDBClient({ endpoint: dynamodbUrl, region: 'us-east-1', credentials: awsEndpoint ? AWS_MODE_CREDENTIALS : LOCAL_CREDENTIALS, maxAttempts: 3 });
    cleanups.push(() => dynamoClient.destroy());
    const doc = DynamoDBDocumentClient.from(dynamoClient, { marshallOptions: { removeUndefinedValues: true } });
    await ensureTable(dynamoClient, tableDefinition(template, names, tableName));

    // Settings: the stored item wins (an edit survives restarts with --data-dir); otherwise the local defaults.
    const stored = await readSettings(doc, tableName, pool);
    if (stored.item === undefined) {
      const initial = settingsSchema.parse({ ...LOCAL_DEFAULT_SETTINGS, ...options.settings });
      await writeSettings(doc, tableName, pool, initial, 0, 'local-mode', clock.now());
    }
    let settings = (await readSettings(doc, tableName, pool)).settings;

    // Simulated GitHub.
    const sim = new SimGitHub({ clock });
    const githubUrl = await sim.start(0, host);
    cleanups.push(() => sim.stop());
    sim.setWebhook(`${base}/webhook`, webhookSecret);
    const github = createGitHubPort({
      scope: { kind: 'org', org: sim.org },
      auth: { type: 'pat', token: 'local-simulated-token' },
      baseUrl: githubUrl,
      retry: { maxAttempts: 3, baseDelayMs: 50, maxDelayMs: 200 },
      logger: { warn: (message, extra) => logger.warn(message, extra ?? {}) },
    });
    const bootMs = Math.round((options.bootSeconds ?? 10) * 1000);
    /** Single-use runner configs by instance id (the SSM parameters of the deployed Runners stack). */
    const runnerConfigs = new Map<string, string>();
    const groupName = `runner-autoscaler-${pool}`;

    // The fleet: simulated, or the endpoint's Auto Scaling Group with simulated runners attached.
    let fleet: SimulatedFleet | null = null;
    let awsGroup: AwsScalingGroup | null = null;
    let scalingGroup: ScalingGroupPort;
    let scalingActivities: ScalingActivitiesPort;
    let secrets: () => Promise<string[]> = async () => [webhookSecret];
    const provisioned: string[] = [];
    if (awsClients) {
      const webhookSecretParameter = `/runner-autoscaler/${pool}/webhook-secret`;
      const spec = groupSpecFromRunnersTemplate(options.runnersTemplate ?? join(ROOT, 'Runners', 'template.yaml'), {
        name: groupName,
        launchTemplateName: groupName,
        floor: settings.floor,
        max: settings.max,
      });
      provisioned.push(
        ...(await provisionAwsResources(awsClients, spec, { name: busName, rules }, {
          [webhookSecretParameter]: webhookSecret,
          [`/runner-autoscaler/${pool}/github-credentials`]: JSON.stringify({ type: 'pat', token: 'local-simulated-token' }),
        })),
      );
      secrets = createWebhookSecretSource({ reader: createSsmSecretReader(awsClients.ssm, 1), currentName: webhookSecretParameter, maxAgeMs: 1000 });
      const group = new AwsScalingGroup(awsClients, groupName);
      awsGroup = group;
      scalingGroup = group;
      // moto answers DescribeScalingActivities with no activities: the boot-failure check then sees no departures.
      scalingActivities = new AutoScalingActivities(groupName, awsClients.autoScaling);
      const attacher = new RunnerAttacher(group, sim, github, () => poolLabels, bootMs, clock.now, (message, error) =>
        logger.warn(message, { error: error instanceof Error ? error.message : String(error) }),
      );
      sim.setEvents({ runnerExited: (name) => void attacher.runnerExited(name) });
      attacher.start(Math.min(250, Math.max(20, Math.round(bootMs / 4))));
      cleanups.push(() => attacher.stop());
    } else {
      const simulated = new SimulatedFleet({ name: groupName, min: settings.floor, max: settings.max, onDemandBase: settings.floor, bootMs, clock, launchHook: true });
      // The Runners stack's launch hook function, with the local group as its lifecycle API and an
      // in-memory parameter store: it registers the JIT runner and stores its single-use config.
      const launchHook = createJitConfigHandler({
        groupName,
        runnerGroupId: 1,
        github: () => github,
        labels: async () => poolLabels,
        store: {
          async put(instanceId, _arn, config) {
            runnerConfigs.set(instanceId, config);
            return { name: `/runner-autoscaler/${pool}/runner-config/${instanceId}`, tier: 'Standard' };
          },
          async remove(instanceId) {
            runnerConfigs.delete(instanceId);
          },
        },
        lifecycle: {
          membership: (instanceId) => simulated.membership(instanceId),
          complete: (action, result) => simulated.completeLifecycleAction(action.instanceId, result),
        },
        metrics: { count: () => undefined },
        logger,
      });
      simulated.setHooks({
        instanceLaunching: async (instance) => {
          await launchHook({
            version: '0',
            id: randomUUID(),
            'detail-type': LAUNCH_DETAIL_TYPE,
            source: 'aws.autoscaling',
            account: '000000000000',
            time: new Date(clock.now()).toISOString(),
            region: 'us-east-1',
            resources: [],
            detail: {
              LifecycleActionToken: randomUUID(),
              AutoScalingGroupName: groupName,
              LifecycleHookName: 'runner-launch',
              EC2InstanceId: instance.instanceId,
              LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
            },
          });
        },
        instanceBooted: async (instance) => {
          // The runner bootstrap: read and delete its own config, then run.sh --jitconfig.
          const config = runnerConfigs.get(instance.instanceId);
          runnerConfigs.delete(instance.instanceId);
          if (!config || !simulated.list().some((i) => i.instanceId === instance.instanceId)) return;
          sim.connectRunner(config);
        },
        instanceTerminated: (instance) => {
          runnerConfigs.delete(instance.instanceId);
          sim.machineGone(instance.instanceId);
        },
      });
      sim.setEvents({ runnerExited: (name) => simulated.instanceFinished(name) });
      simulated.start(Math.min(100, Math.max(10, Math.round(bootMs / 10))));
      cleanups.push(() => simulated.stop());
      fleet = simulated;
      scalingGroup = simulated;
      scalingActivities = simulated;
    }

    // The state machine and the bus.
    const handlers = createStateMachineHandlers({ doc, tableName, pool, labels: poolLabels, scalingGroup, scalingActivities, github, clock, logger });
    const machine = createLocalStateMachine(loaded, handlers);
    const bus = new LocalBus({
      rules,
      busName,
      clock,
      schedulePeriodMs: Math.round((options.reconcileSeconds ?? 30) * 1000),
      startExecution: (input) => machine.run(input),
      logger: { warn: (message, extra) => logger.warn(message, extra ?? {}) },
    });
    bus.startSchedules();
    cleanups.push(() => bus.stop());
    // In AWS mode the event goes to the endpoint's bus first (the real adapter), then to the local rules.
    const eventBridge = awsClients ? new EventBridgeBus(awsClients.eventBridge, busName) : null;
    const ingressBus: EventBusPort = eventBridge
      ? {
          async putEvents(entries) {
            const result = await eventBridge.putEvents(entries);
            if (result.failedCount === 0) await bus.putEvents(entries);
            return result;
          },
        }
      : bus;

    // The webhook function, filtering on the pool's labels as Infrastructure's RUNNER_LABELS makes it do.
    const webhook = createWebhookHandler({ secrets, bus: ingressBus, servedLabels: poolLabels, logger, now: clock.now });
    const webhookHandler = () => webhook;

    // Settings follow the table; the group's limits follow the settings (as a Runners stack update would).
    let settingsProblems: string[] = [];
    const refreshSettings = async () => {
      const current = await readSettings(doc, tableName, pool);
      settings = current.settings;
      settingsProblems = current.problems.map((p) => p.message);
      if (fleet) {
        const limits = fleet.limits;
        if (limits.min !== settings.floor || limits.max !== settings.max) {
          fleet.updateLimits({ min: settings.floor, max: settings.max, onDemandBase: settings.floor });
        }
      } else if (awsGroup) {
        const group = await awsGroup.describe();
        if (group.min !== settings.floor || group.max !== settings.max) await awsGroup.updateLimits(settings.floor, settings.max);
      }
    };

    const series: SamplePoint[] = [];
    const view = async (): Promise<{ group: GroupState; instances: InstanceView[] }> => {
      const group = await scalingGroup.describe();
      const instances = group.instances.map((instance): InstanceView => {
        const runner = sim.runnerByName(instance.instanceId);
        const status: InstanceView['status'] =
          !runner || instance.lifecycleState.startsWith('Pending') ? 'booting' : runner.busy ? 'busy' : runner.status === 'online' ? 'idle' : 'offline';
        return {
          id: instance.instanceId,
          lifecycle: instance.lifecycleState,
          market: instance.market,
          instanceType: instance.instanceType,
          status,
          jobId: runner?.jobId ?? null,
          launchedAt: instance.launchTime,
        };
      });
      return { group, instances };
    };
    const sample = async () => {
      const { group, instances } = await view();
      const count = (status: InstanceView['status']) => instances.filter((i) => i.status === status).length;
      series.push({ t: clock.now(), queued: sim.jobCounts().queued, busy: count('busy'), idle: count('idle'), booting: count('booting'), desired: group.desired });
      if (series.length > 900) series.splice(0, series.length - 900);
    };
    // The sample in flight is awaited on stop: it reads the table, and a read that reaches dynalite after
    // its store closed throws "Database is closed" out of dynalite's own callback (seen in a loaded CI run).
    let sampling: Promise<unknown> | undefined;
    const sampler = setInterval(() => {
      if (sampling) return;
      sampling = Promise.all([sample(), refreshSettings()])
        .catch((error) => logger.warn('sampling failed', { error: String(error) }))
        .finally(() => (sampling = undefined));
    }, options.sampleMs ?? 1000);
    cleanups.push(async () => {
      clearInterval(sampler);
      await sampling;
    });
    await sample();

    const urls: LocalStackUrls = {
      dashboard: `${base}/`,
      webhook: `${base}/webhook`,
      state: `${base}/api/state`,
      simJobs: `${base}/sim/jobs`,
      dynamodb: dynamodbUrl,
      github: githubUrl,
    };

    const state = async (): Promise<ApiState> => {
      const { group, instances } = await view();
      const decisions = bus.executions.map(decisionView).reverse();
      const withDecision = decisions.filter((d) => d.target !== null || d.status === 'FAILED');
      return {
        time: new Date(clock.now()).toISOString(),
        pool,
        labels: poolLabels,
        tableName,
        desiredCapacity: group.desired,
        floor: settings.floor,
        max: settings.max,
        group: { name: group.name, min: group.min, max: group.max, desired: group.desired },
        instances,
        jobs: sim.jobCounts(),
        lastDecision: withDecision[0] ?? null,
        decisions: withDecision.slice(0, 50),
        settings,
        settingsProblems,
        endpoints: { dynamodb: urls.dynamodb, github: urls.github, webhook: urls.webhook, dashboard: urls.dashboard, state: urls.state },
        series,
        executions: {
          running: bus.running,
          succeeded: bus.executions.filter((e) => e.status === 'SUCCEEDED').length,
          failed: bus.executions.filter((e) => e.status === 'FAILED').length,
        },
        rules: rules.map((r) => (r.schedule ? { name: r.name, kind: 'schedule' as const, schedule: r.schedule.expression } : { name: r.name, kind: 'pattern' as const })),
        mode: awsClients ? 'aws' : 'simulated',
      };
    };

    const dashboardHtml = readFileSync(join(__dirname, 'dashboard.html'), 'utf8');
    route = (request, response) => {
      void (async () => {
        const path = new URL(request.url ?? '/', 'http://localhost').pathname;
        const method = request.method ?? 'GET';
        if (path === '/webhook') {
          const { body, tooLarge } = await readBody(request, GATEWAY_MAX_BODY);
          if (tooLarge) return sendJson(response, 413, { message: 'Request Entity Too Large' });
          const result = await webhookHandler()(toApiGatewayEvent(request, body, clock.now()));
          response.writeHead(result.statusCode, result.headers).end(result.body);
          return;
        }
        if (path === '/' && method === 'GET') {
          response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(dashboardHtml);
          return;
        }
        if (path === '/api/state' && method === 'GET') return sendJson(response, 200, await state());
        if (path === '/sim/jobs' && method === 'POST') {
          const { body, tooLarge } = await readBody(request, SIM_JOBS_MAX_BODY);
          if (tooLarge) return sendJson(response, 413, { message: `body is larger than ${SIM_JOBS_MAX_BODY} bytes` });
          let parsed: unknown;
          try {
            parsed = JSON.parse(body.toString('utf8'));
          } catch {
            return sendJson(response, 400, { message: 'body is not valid JSON' });
          }
          const checked = parseSimJobsRequest(parsed);
          if (!checked.ok) return sendJson(response, 400, { message: checked.message });
          const jobs = sim.queueJobs(checked.request);
          return sendJson(response, 201, { queued: jobs.map((j) => ({ id: j.id, runId: j.runId, labels: j.labels })) });
        }
        if (path === '/favicon.ico') {
          response.writeHead(204).end();
          return;
        }
        sendJson(response, 404, { message: `no route for ${method} ${path}` });
      })().catch((error) => {
        logger.error('request failed', { error: String(error) });
        if (!response.headersSent) sendJson(response, 500, { message: 'internal error' });
        else response.end();
      });
    };

    let stopping: Promise<void> | undefined;
    return {
      urls,
      webhookSecret,
      tableName,
      pool,
      labels: poolLabels,
      sim,
      fleet,
      bus,
      github,
      scalingGroup,
      doc,
      provisioned,
      state,
      stop: () => (stopping ??= stopAll()),
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
