import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import { TASK_STATES } from '../../AutoScaler/src/handlers';
import { writeSettings } from '../../lib/settings-store';
import { DEFAULT_SETTINGS } from '../../lib/settings';
import { createAwsClients, destroyAwsClients, provisionAwsResources } from '../../local/aws-mode';
import { SimGitHub } from '../../local/sim-github';
import { jobEvent, loadDefinition } from '../autoscaler/support/fakes';
import { delivery, PREVIOUS_SECRET, queuedJob, TEST_SECRET } from '../ingress/support';
import { launchEvent } from '../runners/support';
import { startDynalite } from './dynalite';
import type { Operation } from './iam-actions';
import { cliOperation, readRecordedCli, writeInstanceStubs, writeRecordingAws } from './iam-cli';
import { startRecordingProxy, type RecordedCall } from './iam-recorder';
import { NAMES, REGION, transformAll, type StackName } from './iam-templates';
import { startMoto } from './tools';

/**
 * Fast, focused runs of every function's real handler module (the file its
 * Lambda's Handler points at, built from real-deps as in production) against
 * moto, dynalite and the simulated GitHub, with the environment the
 * transformed template gives that function. Each function is loaded in its own
 * module registry (jest.isolateModules), as each Lambda has its own container,
 * so no client, cache or credential is shared between two functions.
 */
const ROOT = join(__dirname, '..', '..');
const HANDLERS: Record<string, { stack: StackName; path: string }> = {
  WebhookFunction: { stack: 'Infrastructure', path: 'Infrastructure/functions/webhook/handler' },
  JitConfigFunction: { stack: 'Runners', path: 'Runners/functions/jit-config/handler' },
  GroupLifecycleFunction: { stack: 'Runners', path: 'Runners/functions/group-lifecycle/handler' },
  InterruptionFunction: { stack: 'Runners', path: 'Runners/functions/interruption/handler' },
};
// Each Task state of the state machine is the function of the same name (statemachine/autoscaler.asl.json).
for (const state of TASK_STATES) {
  const kebab = state.replace(/[A-Z]/g, (c, i: number) => (i ? '-' : '') + c.toLowerCase());
  HANDLERS[`${state}Function`] = { stack: 'AutoScaler', path: `AutoScaler/functions/${kebab}/handler` };
}

/** Everything but Date stays real: only the clock the functions read moves. */
const NOT_DATE = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] satisfies NonNullable<
  Extract<Parameters<typeof jest.useFakeTimers>[0], { doNotFake?: unknown }>['doNotFake']
>;

export interface Recording {
  operations: Operation[];
  /** Handlers that were run (a function with no AWS call still counts: its runtime writes its logs). */
  invoked: Set<string>;
  groupOfInstance: Map<string, string>;
  /** Tags jit-config put on each runner config parameter (Name -> tags), as IAM sees them on the resource. */
  parameterTags: Map<string, Record<string, string>>;
  instanceId: string;
}

const xml = (operation: string, result: string) =>
  `<${operation}Response xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><${operation}Result>${result}</${operation}Result><ResponseMetadata><RequestId>iam-recorder</RequestId></ResponseMetadata></${operation}Response>`;

const RUNNERS_STACK_ID = `arn:aws:cloudformation:${REGION}:123456789012:stack/${NAMES.group}/6f1c2a10-0000-4000-8000-000000000001`;

/** Create, then Delete, of Custom::RunnerGroupLifecycle, answered to a local ResponseURL (CloudFormation's presigned S3 URL). */
async function runGroupLifecycle(run: (event: unknown) => Promise<unknown>): Promise<void> {
  const answers: Array<{ Status?: string; Reason?: string }> = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      answers.push(JSON.parse(body));
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const event = (RequestType: string) => ({
    RequestType,
    RequestId: `iam-${RequestType}`,
    ResponseURL: `http://127.0.0.1:${port}/response`,
    ResourceType: 'Custom::RunnerGroupLifecycle',
    LogicalResourceId: 'RunnerGroupLifecycle',
    StackId: RUNNERS_STACK_ID,
    ResourceProperties: { ServiceToken: 'group-lifecycle', AutoScalingGroupName: NAMES.group },
    ...(RequestType === 'Delete' ? { PhysicalResourceId: `lifecycle:${NAMES.group}` } : {}),
  });
  try {
    await run(event('Create'));
    await run(event('Delete'));
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  const failed = answers.filter((answer) => answer.Status !== 'SUCCESS');
  if (answers.length !== 2 || failed.length) throw new Error(`group-lifecycle answered ${JSON.stringify(answers)}`);
}

export async function recordAll(motoPath: string): Promise<Recording> {
  const [moto, dynamo] = await Promise.all([startMoto(motoPath), startDynalite()]);
  const github = new SimGitHub({ org: 'acme' });
  const githubUrl = await github.start();
  let launching: string | undefined;
  // moto has no lifecycle hooks: for jit-config the proxy answers as Auto Scaling does for an instance in Pending:Wait.
  const proxy = await startRecordingProxy(
    (service) => (service === 'dynamodb' ? dynamo.endpoint : moto.endpoint),
    (call) => {
      // moto deletes stacks at once: the custom resource's Delete sees the stack as CloudFormation shows it then.
      if (call.principal === 'GroupLifecycleFunction' && call.operation === 'DescribeStacks')
        return {
          status: 200,
          contentType: 'text/xml',
          body: `<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/"><DescribeStacksResult><Stacks><member><StackName>${NAMES.group}</StackName><StackId>${RUNNERS_STACK_ID}</StackId><StackStatus>DELETE_IN_PROGRESS</StackStatus><CreationTime>2026-12-01T00:00:00Z</CreationTime></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>iam-recorder</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        };
      if (call.principal !== 'JitConfigFunction' || call.service !== 'autoscaling') return undefined;
      const body =
        call.operation === 'DescribeAutoScalingInstances'
          ? xml(
              call.operation,
              `<AutoScalingInstances><member><InstanceId>${launching}</InstanceId><AutoScalingGroupName>${NAMES.group}</AutoScalingGroupName><AvailabilityZone>${REGION}a</AvailabilityZone><LifecycleState>Pending:Wait</LifecycleState><HealthStatus>HEALTHY</HealthStatus><ProtectedFromScaleIn>true</ProtectedFromScaleIn><LaunchTemplate><LaunchTemplateName>lt</LaunchTemplateName><Version>1</Version></LaunchTemplate></member></AutoScalingInstances>`,
            )
          : call.operation === 'CompleteLifecycleAction'
            ? xml(call.operation, '')
            : undefined;
      return body ? { status: 200, body, contentType: 'text/xml' } : undefined;
    },
  );
  const clients = createAwsClients(moto.endpoint);
  const savedEnv = { ...process.env };
  const invoked = new Set<string>();
  const work = mkdtempSync(join(tmpdir(), 'iam-evaluation-'));
  try {
    await dynamo.createTable(NAMES.table);
    await writeSettings(
      dynamo.doc,
      NAMES.table,
      NAMES.pool,
      { ...DEFAULT_SETTINGS, scaleInCooldownSeconds: 0 },
      0,
    );
    await provisionAwsResources(
      clients,
      {
        name: NAMES.group,
        launchTemplateName: 'lt',
        floor: 1,
        max: 5,
        instanceTypes: ['m7i.large'],
        spotAllocationStrategy: 'price-capacity-optimized',
      },
      { name: NAMES.eventBus, rules: [] },
      {
        [NAMES.webhookSecret]: TEST_SECRET,
        [NAMES.webhookSecretPrevious]: PREVIOUS_SECRET,
        [NAMES.credentials]: JSON.stringify({ type: 'pat', token: 'ghp_iam_evaluation' }),
      },
    );
    const groupOfInstance = new Map<string, string>();
    const refreshGroup = async () => {
      const groups = await clients.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [NAMES.group] }),
      );
      const current = (groups.AutoScalingGroups?.[0]?.Instances ?? []).map(
        (instance) => instance.InstanceId!,
      );
      for (const id of current) groupOfInstance.set(id, NAMES.group);
      return current;
    };
    const [instanceId] = await refreshGroup();
    const templates = transformAll();

    const handlers = new Map<string, (event: unknown) => Promise<unknown>>();
    const handlerOf = (name: string) => {
      const known = handlers.get(name);
      if (known) return known;
      const { stack, path } = HANDLERS[name];
      const variables = templates[stack].Resources[name].Properties.Environment?.Variables ?? {};
      const env = {
        ...variables,
        GITHUB_API_URL: githubUrl,
        AWS_ENDPOINT_URL: proxy.endpoint,
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: name,
        AWS_SECRET_ACCESS_KEY: 'iam-evaluation',
        AWS_EC2_METADATA_DISABLED: 'true',
        // The test machine's Node, not the Lambda runtime's: once per isolated SDK copy it would repeat.
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      };
      let module: { handler: (event: unknown, context?: unknown) => Promise<unknown> } | undefined;
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        module = require(join(ROOT, path));
      });
      const run = async (event: unknown) => {
        // One function at a time: its configuration and credentials are read from the environment on first use.
        for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
        Object.assign(process.env, savedEnv, env);
        invoked.add(name);
        return module!.handler(event, {
          functionName: name,
          awsRequestId: `iam-${invoked.size}`,
          getRemainingTimeInMillis: () => 60_000,
        });
      };
      handlers.set(name, run);
      return run;
    };

    await handlerOf('WebhookFunction')(await delivery(JSON.stringify(queuedJob())));

    launching = instanceId;
    const launch = { ...launchEvent(instanceId, { group: NAMES.group }), region: REGION };
    await handlerOf('JitConfigFunction')(launch);
    // EventBridge delivers at least once: a redelivery finds the parameter and replaces it (delete, then put).
    await handlerOf('JitConfigFunction')(launch);
    const parameterName = `${NAMES.runnerConfigPrefix}/${instanceId}`;
    const stored = await clients.ssm.send(
      new GetParameterCommand({ Name: parameterName, WithDecryption: true }),
    );
    github.connectRunner(stored.Parameter!.Value!);

    // The runner instance: the real bootstrap, as the launch template ships it, with a recording `aws`.
    const bin = join(work, 'bin');
    writeRecordingAws(bin, stored.Parameter!.Value!);
    writeInstanceStubs(bin, join(work, 'actions-runner'), instanceId);
    const record = join(work, 'aws.jsonl');
    // The instance runs its user data: the template's header (region, prefix, group, ...) and the embedded script.
    const launchTemplate = Object.values(templates.Runners.Resources as Record<string, any>).find(
      (r) => r.Type === 'AWS::EC2::LaunchTemplate',
    );
    const userData = join(work, 'user-data.sh');
    writeFileSync(userData, String(launchTemplate.Properties.LaunchTemplateData.UserData));
    const boot = spawnSync('bash', [userData], {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        HOME: work,
        AWS_RECORD: record,
        // What an instance has that a test machine has not: a runner directory, a runner user, a packet filter.
        SHUTDOWN_COMMAND: 'true',
        RUNNER_DIR: join(work, 'actions-runner'),
        RUN_AS: 'env',
        CREATE_RUNNER_USER: 'false',
        BLOCK_IMDS_FOR_RUNNER: 'false',
        POLL_INTERVAL_SECONDS: '0.05',
      },
    });
    // The path that matters is the one that runs a job: a bootstrap that gave up early made other calls.
    if (boot.status !== 0)
      throw new Error(`the bootstrap exited ${boot.status}: ${boot.stderr.slice(-2000)}`);
    const cli = readRecordedCli(record);

    // The AutoScaler: the real state machine with each Task state's own function.
    const machine = new StateMachine(loadDefinition() as any, { validationOptions: { checkArn: true } });
    const taskResourceLocalHandlers = Object.fromEntries(
      TASK_STATES.map((state) => [
        state,
        (input: unknown) => handlerOf(`${state}Function`)(input) as Promise<any>,
      ]),
    );
    const execute = (input: unknown) =>
      machine.run(input as any, { overrides: { taskResourceLocalHandlers } }).result;
    // Three queued jobs against one idle runner: scale-out.
    for (const job of [101, 102, 103]) await execute(jobEvent('queued', job));
    // A job that moves on is read before it is written (the ledger's conditional transition).
    await execute(jobEvent('in_progress', 101));
    await refreshGroup();
    // GitHub knows none of those jobs: the reconcile repairs the ledger, and the idle runner is scaled in.
    await execute({ trigger: 'reconcile' });
    // A spot interruption warning for an instance of the group (its idle runner, if any, is deregistered).
    const others = (await refreshGroup()).filter((id) => id !== instanceId);
    await handlerOf('InterruptionFunction')({
      version: '0',
      id: 'iam-evaluation',
      'detail-type': 'EC2 Spot Instance Interruption Warning',
      source: 'aws.ec2',
      account: '123456789012',
      time: '2026-12-02T00:00:00Z',
      region: REGION,
      resources: [],
      detail: { 'instance-id': others[0] ?? instanceId, 'instance-action': 'terminate' },
    });

    // Two hours on, the instances the scale-out launched never registered: the reconcile terminates them.
    jest.useFakeTimers({ now: Date.now() + 2 * 3600_000, doNotFake: NOT_DATE });
    try {
      await execute({ trigger: 'reconcile' });
    } finally {
      jest.useRealTimers();
    }
    await handlerOf('RecordFailureFunction')({
      failure: { Error: 'States.TaskFailed', Cause: 'iam evaluation' },
      execution: { Id: 'arn:aws:states:us-east-1:123456789012:express:m:e', Name: 'e' },
    });
    // Last, as it empties the group: the stack's custom resource, created (AZRebalance suspended) and deleted.
    await refreshGroup();
    await runGroupLifecycle(handlerOf('GroupLifecycleFunction'));
    const operations: Operation[] = proxy.calls.map((call: RecordedCall) => ({
      principal: call.principal,
      service: call.service,
      operation: call.operation,
      params: call.params,
      source: `${call.service} ${call.operation}`,
    }));
    operations.push(...cli.map((argv) => cliOperation('InstanceRole', argv)));
    const parameterTags = new Map<string, Record<string, string>>();
    for (const call of proxy.calls) {
      if (call.operation === 'PutParameter' && call.params.Tags)
        parameterTags.set(
          call.params.Name,
          Object.fromEntries(call.params.Tags.map((t: { Key: string; Value: string }) => [t.Key, t.Value])),
        );
    }
    return { operations, invoked, groupOfInstance, parameterTags, instanceId };
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
    Object.assign(process.env, savedEnv);
    destroyAwsClients(clients);
    rmSync(work, { recursive: true, force: true });
    await Promise.all([proxy.stop(), github.stop(), moto.stop(), dynamo.stop()]);
  }
}
