import {
  AutoScalingClient,
  CreateAutoScalingGroupCommand,
  DescribeAutoScalingGroupsCommand,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { templateEnvironments } from '../../../bench/lambdas';
import { EVENT_SOURCE, WORKFLOW_JOB_DETAIL_TYPE } from '../../../lib/events';
import { SimGitHub } from '../../../local/sim-github';
import { startDynalite, type LocalDynamo } from '../../support/dynalite';
import { FAKE_AWS, startMoto, type MotoServer } from '../../support/tools';
import { startAwsFront, type AwsFront } from './aws-front';
import { startGitHubFront, type GitHubFront } from './github-front';
import { invokeBundle, type BuiltBundle, type Invocation } from './invoke';

/**
 * What every bundle case runs against, one of each per test file: moto_server
 * and dynalite behind one recording AWS endpoint, the simulated GitHub behind
 * a recording front, and the fixtures the templates' resources would be (the
 * table, the runner group, the SSM parameters, the bus).
 */
export const GROUP = 'bundles-runners';
export const BUS = 'bundles-bus';
export const PAT_PARAMETER = '/bundles/github-pat';
export const APP_PARAMETER = '/bundles/github-app';
export const WEBHOOK_SECRET_PARAMETER = '/bundles/webhook-secret';
export const WEBHOOK_SECRET = 'bundle-test-webhook-secret';
export const RUNNER_CONFIG_PREFIX = '/bundles/runners';
/**
 * The access key the "Lambda runtime" hands a bundle: one per function, so the
 * AWS front's record of each signature says which bundle sent the request.
 */
export function accessKeyFor(bundleKey: string): string {
  return `ASIABUNDLE${bundleKey.toUpperCase().replace(/[^A-Z]/g, '')}`;
}

export interface BundleWorld {
  aws: AwsFront;
  github: GitHubFront;
  sim: SimGitHub;
  dynamo: LocalDynamo;
  tableName: string;
  queueUrl: string;
  clients: {
    autoScaling: AutoScalingClient;
    ec2: EC2Client;
    ssm: SSMClient;
    sqs: SQSClient;
    eventBridge: EventBridgeClient;
  };
  /** The template's variables for this function (names exactly as the template sets them), valued for this world, with `overrides`. */
  env(
    key: string,
    overrides?: Record<string, string>,
    runtime?: Record<string, string | undefined>,
  ): Record<string, string>;
  /** Invokes the bundle `key` once in a fresh process. */
  invoke(
    key: string,
    event: unknown,
    overrides?: Record<string, string>,
    runtime?: Record<string, string | undefined>,
  ): Promise<Invocation>;
  /** Messages the bus rule delivered to the test queue since the last call. */
  busMessages(waitSeconds?: number): Promise<Array<Record<string, any>>>;
  /** The group's desired capacity and instances (`name` defaults to the shared GROUP). */
  groupState(name?: string): Promise<{ desired: number; instances: string[] }>;
  /** Another runner group shaped like GROUP, for a case that changes its capacity; returns its instance ids. */
  createGroup(name: string, desired: number): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startWorld(motoPath: string, bundles: BuiltBundle[]): Promise<BundleWorld> {
  const moto: MotoServer = await startMoto(motoPath);
  const dynamo = await startDynalite();
  const tableName = await dynamo.createTable('bundles-table');
  const sim = new SimGitHub({ org: 'bundles-org', repos: ['app'] });
  const simUrl = await sim.start();
  const github = await startGitHubFront(simUrl, sim.installationId);
  const aws = await startAwsFront({ moto: moto.endpoint, dynamodb: dynamo.endpoint });

  const config = { ...FAKE_AWS, endpoint: moto.endpoint };
  const clients = {
    autoScaling: new AutoScalingClient(config),
    ec2: new EC2Client(config),
    ssm: new SSMClient(config),
    sqs: new SQSClient(config),
    eventBridge: new EventBridgeClient(config),
  };
  const vpc = await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.30.0.0/16' }));
  const subnet = await clients.ec2.send(
    new CreateSubnetCommand({
      VpcId: vpc.Vpc!.VpcId!,
      CidrBlock: '10.30.1.0/24',
      AvailabilityZone: 'us-east-1a',
    }),
  );
  await clients.ec2.send(
    new CreateLaunchTemplateCommand({
      LaunchTemplateName: 'runner',
      LaunchTemplateData: { ImageId: 'ami-12c6146b', InstanceType: 'm7g.large' },
    }),
  );
  // The Runners stack's shape: a floor of one, every instance protected from scale-in.
  await clients.autoScaling.send(
    new CreateAutoScalingGroupCommand({
      AutoScalingGroupName: GROUP,
      MinSize: 1,
      MaxSize: 4,
      DesiredCapacity: 1,
      VPCZoneIdentifier: subnet.Subnet!.SubnetId!,
      NewInstancesProtectedFromScaleIn: true,
      LaunchTemplate: { LaunchTemplateName: 'runner', Version: '$Latest' },
    }),
  );
  const put = (Name: string, Value: string) =>
    clients.ssm.send(new PutParameterCommand({ Name, Value, Type: 'SecureString' }));
  await put(PAT_PARAMETER, JSON.stringify({ type: 'pat', token: 'ghp_bundletestpat' }));
  await put(
    APP_PARAMETER,
    JSON.stringify({
      type: 'app',
      appId: github.appId,
      privateKey: github.privateKeyPem,
      installationId: sim.installationId,
    }),
  );
  await put(WEBHOOK_SECRET_PARAMETER, WEBHOOK_SECRET);
  await clients.eventBridge.send(new CreateEventBusCommand({ Name: BUS }));
  const queueUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: 'bundles-autoscaler' })))
    .QueueUrl!;
  const queueArn = (
    await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    )
  ).Attributes!.QueueArn;
  await clients.eventBridge.send(
    new PutRuleCommand({
      Name: 'workflow-job',
      EventBusName: BUS,
      EventPattern: JSON.stringify({ source: [EVENT_SOURCE], 'detail-type': [WORKFLOW_JOB_DETAIL_TYPE] }),
    }),
  );
  await clients.eventBridge.send(
    new PutTargetsCommand({
      Rule: 'workflow-job',
      EventBusName: BUS,
      Targets: [{ Id: 'queue', Arn: queueArn }],
    }),
  );

  const templates = templateEnvironments();
  const files = new Map(bundles.map((b) => [b.key, b.file]));
  // What this world gives each variable the templates use; anything else keeps the template's value.
  const values: Record<string, string> = {
    TABLE_NAME: tableName,
    SETTINGS_TABLE_NAME: tableName,
    AUTO_SCALING_GROUP_NAME: GROUP,
    GITHUB_SCOPE: `org:${sim.org}`,
    GITHUB_API_URL: github.url,
    GITHUB_CREDENTIALS_PARAMETER: PAT_PARAMETER,
    EVENT_BUS_NAME: BUS,
    WEBHOOK_SECRET_PARAMETER,
    WEBHOOK_SECRET_PREVIOUS_PARAMETER: '',
    RUNNER_CONFIG_PREFIX,
    DEFAULT_RUNNER_LABELS: 'self-hosted,linux,x64',
    RUNNER_LABELS: 'self-hosted,linux,x64',
  };

  const env: BundleWorld['env'] = (key, overrides = {}, runtime = {}) => {
    const template = templates.get(key);
    if (!template) throw new Error(`no function in the templates has CodeUri dist/${key}/`);
    for (const name of Object.keys(overrides)) {
      if (!(name in template))
        throw new Error(
          `${key}: ${name} is not a variable its template sets (${Object.keys(template).join(', ')})`,
        );
    }
    const fn = key.split('/').pop()!;
    const lambdaRuntime: Record<string, string | undefined> = {
      PATH: process.env.PATH,
      AWS_REGION: FAKE_AWS.region,
      AWS_DEFAULT_REGION: FAKE_AWS.region,
      AWS_ACCESS_KEY_ID: accessKeyFor(key),
      AWS_SECRET_ACCESS_KEY: 'bundle-test-secret',
      AWS_SESSION_TOKEN: 'bundle-test-session-token',
      AWS_ENDPOINT_URL: aws.endpoint,
      AWS_LAMBDA_FUNCTION_NAME: `bundles-${fn}`,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      ...runtime,
    };
    const merged: Record<string, string | undefined> = { ...lambdaRuntime };
    for (const [name, value] of Object.entries(template))
      merged[name] = overrides[name] ?? values[name] ?? value;
    return Object.fromEntries(
      Object.entries(merged).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
  };

  const world: BundleWorld = {
    aws,
    github,
    sim,
    dynamo,
    tableName,
    queueUrl,
    clients,
    env,
    async invoke(key, event, overrides, runtime) {
      const file = files.get(key);
      if (!file) throw new Error(`no bundle ${key} was built`);
      return invokeBundle(file, event, env(key, overrides, runtime));
    },
    async busMessages(waitSeconds = 1) {
      const { Messages = [] } = await clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: waitSeconds,
        }),
      );
      for (const message of Messages)
        await clients.sqs.send(
          new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }),
        );
      return Messages.map((message) => JSON.parse(message.Body!));
    },
    async createGroup(name, desired) {
      await clients.autoScaling.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: name,
          MinSize: 1,
          MaxSize: 4,
          DesiredCapacity: desired,
          VPCZoneIdentifier: subnet.Subnet!.SubnetId!,
          NewInstancesProtectedFromScaleIn: true,
          LaunchTemplate: { LaunchTemplateName: 'runner', Version: '$Latest' },
        }),
      );
      return (await world.groupState(name)).instances;
    },
    async groupState(name = GROUP) {
      const { AutoScalingGroups = [] } = await clients.autoScaling.send(
        new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [name] }),
      );
      const group = AutoScalingGroups[0];
      return {
        desired: group?.DesiredCapacity ?? -1,
        instances: (group?.Instances ?? []).map((i) => i.InstanceId!),
      };
    },
    async stop() {
      for (const client of Object.values(clients)) client.destroy();
      await Promise.allSettled([aws.stop(), github.stop(), sim.stop(), dynamo.stop(), moto.stop()]);
    },
  };
  return world;
}
