import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AutoScalingClient, CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateLaunchTemplateCommand, DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand } from '@aws-sdk/client-eventbridge';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { claimVersion, recordDecision, recordReconcile } from '../../lib/activity';
import { createGitHubPort } from '../../lib/adapters/github';
import { recordJobEvent } from '../../lib/ledger';
import { EVENT_SOURCE } from '../../lib/events';
import { DEFAULT_POOL_LABELS } from '../../lib/labels';
import { DEFAULT_SETTINGS } from '../../lib/settings';
import { writeSettings } from '../../lib/settings-store';
import { keys, OPEN_JOBS_HASH, OPEN_JOBS_INDEX, OPEN_JOBS_RANGE, OPEN_JOBS_PROJECTION, TABLE_KEY } from '../../lib/table';
import { SimGitHub } from '../../local/sim-github';
import { describeWithTool, FAKE_AWS, startMoto, type MotoServer } from '../support/tools';
import { cli } from './support';

/**
 * `doctor` and `status` against a deployment emulated by moto_server (three
 * CloudFormation stacks with outputs and parameters, SSM parameters, the Auto
 * Scaling group with its MixedInstancesPolicy, the bus and its rule, the
 * table) and the project's simulated GitHub for runners and hook deliveries.
 * One healthy deployment and one broken in every way doctor checks.
 */
describeWithTool('moto_server', 'CLI doctor and status against moto_server and the simulated GitHub', (motoPath) => {
  let moto: MotoServer;
  const sims: SimGitHub[] = [];
  const receivers: Server[] = [];
  let imageId: string;

  function clients() {
    const config = { ...FAKE_AWS, endpoint: moto.endpoint };
    return {
      cfn: new CloudFormationClient(config),
      ssm: new SSMClient(config),
      asg: new AutoScalingClient(config),
      ec2: new EC2Client(config),
      events: new EventBridgeClient(config),
      dynamo: new DynamoDBClient(config),
    };
  }

  /** A stand-in for the webhook endpoint: answers every delivery with `status`. */
  async function receiver(status: number): Promise<string> {
    const server = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(status, { 'content-type': 'application/json' }).end('{}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receivers.push(server);
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
  }

  function stackTemplate(parameters: string[], outputs: Record<string, string>): string {
    return JSON.stringify({
      AWSTemplateFormatVersion: '2010-09-09',
      Parameters: Object.fromEntries(parameters.map((p) => [p, { Type: 'String' }])),
      Resources: { Marker: { Type: 'AWS::SQS::Queue' } },
      Outputs: Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, { Value: v }])),
    });
  }

  interface Deployment {
    prefix: string;
    table: string;
    group: string;
    sim: SimGitHub;
    githubUrl: string;
  }

  async function deploy(prefix: string, broken: boolean): Promise<Deployment> {
    const c = clients();
    const bus = `${prefix}-bus`;
    const table = `${prefix}-table`;
    const group = `${prefix}-group`;
    const secret = `/${prefix}/webhook-secret`;
    const credentials = `/${prefix}/github-credentials`;

    await c.ssm.send(new PutParameterCommand({ Name: secret, Type: 'SecureString', Value: 'not-a-real-secret' }));
    await c.ssm.send(new PutParameterCommand({ Name: credentials, Type: broken ? 'String' : 'SecureString', Value: '{"type":"pat","token":"x"}' }));

    await c.events.send(new CreateEventBusCommand({ Name: bus }));
    await c.events.send(
      new PutRuleCommand({
        Name: `${prefix}-workflow-job`,
        EventBusName: bus,
        EventPattern: JSON.stringify({ source: [EVENT_SOURCE], 'detail-type': ['workflow_job'], detail: { action: ['queued', 'in_progress', 'completed'], labels: ['self-hosted'] } }),
      }),
    );
    await c.events.send(new PutRuleCommand({ Name: `${prefix}-reconcile`, EventBusName: 'default', ScheduleExpression: 'rate(15 minutes)' }));

    await c.dynamo.send(
      new CreateTableCommand({
        TableName: table,
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
      }),
    );
    const doc = DynamoDBDocumentClient.from(c.dynamo);
    if (broken) {
      await doc.send(new PutCommand({ TableName: table, Item: { pk: keys.settings('default'), floor: 'one', labels: ['gpu'], version: 1 } }));
    } else {
      await writeSettings(doc, table, 'default', DEFAULT_SETTINGS, 0);
    }

    const template = `${prefix}-lt`;
    await c.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: template, LaunchTemplateData: { ImageId: imageId, InstanceType: 't3.micro' } }));
    await c.asg.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: group,
        MinSize: broken ? 0 : 1,
        MaxSize: 10,
        DesiredCapacity: 1,
        AvailabilityZones: ['us-east-1a'],
        NewInstancesProtectedFromScaleIn: !broken,
        MixedInstancesPolicy: {
          LaunchTemplate: {
            LaunchTemplateSpecification: { LaunchTemplateName: template, Version: '$Latest' },
            Overrides: [{ InstanceType: 't3.micro' }, { InstanceType: 't3a.micro' }, { InstanceType: 't4g.micro' }],
          },
          InstancesDistribution: {
            OnDemandBaseCapacity: 1,
            OnDemandPercentageAboveBaseCapacity: broken ? 50 : 0,
            SpotAllocationStrategy: 'price-capacity-optimized',
          },
        },
      }),
    );

    await c.cfn.send(
      new CreateStackCommand({
        StackName: `${prefix}-infrastructure`,
        TemplateBody: stackTemplate([], {
          EventBusName: bus,
          WebhookUrl: 'https://example.execute-api.us-east-1.amazonaws.com/webhook',
          WebhookSecretParameterName: secret,
          GitHubCredentialsParameterName: credentials,
          // The labels the webhook forwards; the broken deployment's rule (labels [self-hosted]) was not derived from them.
          RunnerLabels: broken ? 'gpu' : 'self-hosted,linux,x64',
        }),
      }),
    );
    await c.cfn.send(new CreateStackCommand({ StackName: `${prefix}-runners`, TemplateBody: stackTemplate([], { AutoScalingGroupName: group }) }));
    await c.cfn.send(
      new CreateStackCommand({
        StackName: `${prefix}-autoscaler`,
        TemplateBody: stackTemplate(['EventBusName', 'AutoScalingGroupName'], { TableName: table }),
        Parameters: [
          { ParameterKey: 'EventBusName', ParameterValue: broken ? 'an-old-bus' : bus },
          { ParameterKey: 'AutoScalingGroupName', ParameterValue: group },
        ],
      }),
    );

    const sim = new SimGitHub();
    sims.push(sim);
    const githubUrl = await sim.start(0, '127.0.0.1');
    sim.setWebhook(await receiver(broken ? 401 : 200), 'secret');
    for (const client of Object.values(c)) client.destroy();
    return { prefix, table, group, sim, githubUrl };
  }

  beforeAll(async () => {
    moto = await startMoto(motoPath);
    const ec2 = new EC2Client({ ...FAKE_AWS, endpoint: moto.endpoint });
    const { Images } = await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }));
    ec2.destroy();
    imageId = Images?.[0]?.ImageId ?? 'ami-12c6146b';
  }, 60_000);

  afterAll(async () => {
    for (const sim of sims) await sim.stop();
    for (const server of receivers) await new Promise<void>((resolve) => server.close(() => resolve()));
    await moto?.stop();
  });

  const common = (d: Deployment) => ['--endpoint', moto.endpoint, '--region', 'us-east-1', '--stack-prefix', d.prefix, '--github-url', d.githubUrl, '--github-scope', 'org:local-org'];

  it('doctor passes a healthy deployment (exit 0), and status shows group, runners, ledger and decisions', async () => {
    const d = await deploy('healthy', false);
    // Runners: two registered and online (one takes a job), one registered but never connected (offline).
    const github = createGitHubPort({ scope: { kind: 'org', org: d.sim.org }, auth: { type: 'pat', token: 't' }, baseUrl: d.githubUrl });
    for (const name of ['i-0aaa', 'i-0bbb']) d.sim.connectRunner((await github.generateJitConfig({ name, labels: [...DEFAULT_POOL_LABELS], runnerGroupId: 1 })).encodedJitConfig);
    await github.generateJitConfig({ name: 'i-0ccc', labels: [...DEFAULT_POOL_LABELS], runnerGroupId: 1 });
    d.sim.queueJobs({ labels: ['self-hosted', 'linux'], durationSeconds: 3600, count: 1 });
    await d.sim.settled();

    const doctor = await cli(['doctor', ...common(d), '--hook-id', String(d.sim.hookId)]);
    expect(doctor.stdout).not.toMatch(/^FAIL/m);
    expect(doctor.code).toBe(0);
    for (const line of [
      /^PASS {2}stack healthy-infrastructure: status CREATE_COMPLETE$/m,
      /^PASS {2}stack outputs match/m,
      /^PASS {2}SSM \/healthy\/webhook-secret: webhook secret: SecureString$/m,
      /^PASS {2}SSM \/healthy\/github-credentials: GitHub credentials: SecureString$/m,
      /^PASS {2}webhook deliveries: 2 recent deliveries on hook 1 .* all succeeded$/m,
      /^PASS {2}Auto Scaling group healthy-group: MixedInstancesPolicy on-demand base 1, 0% on-demand above it, 3 instance types, new instances protected from scale-in$/m,
      /^PASS {2}settings: valid$/m,
      /^PASS {2}labels vs. rule pattern: jobs with \[self-hosted, linux, x64\] match healthy-workflow-job/m,
    ]) {
      expect(doctor.stdout).toMatch(line);
    }

    // The ledger and activity, written by the AutoScaler's own writers.
    const dynamo = new DynamoDBClient({ ...FAKE_AWS, endpoint: moto.endpoint });
    const doc = DynamoDBDocumentClient.from(dynamo);
    const now = Date.now();
    const jobEvent = (jobId: number, action: 'queued' | 'in_progress' | 'completed', ageSeconds: number) => ({
      pool: 'default',
      jobId,
      action,
      repository: 'local-org/app',
      labels: ['self-hosted', 'linux'],
      runId: 1,
      createdAt: new Date(now - ageSeconds * 1000).toISOString(),
      at: now - ageSeconds * 1000,
      source: `delivery-${jobId}-${action}`,
    });
    await recordJobEvent(doc, d.table, jobEvent(1001, 'queued', 125));
    await recordJobEvent(doc, d.table, jobEvent(1002, 'queued', 30));
    await recordJobEvent(doc, d.table, jobEvent(1002, 'in_progress', 20));
    await recordJobEvent(doc, d.table, jobEvent(1003, 'completed', 10));
    const decision = (secondsAgo: number, trigger: string, action: string, current: number, target: number, reason: string) => ({
      at: new Date(now - secondsAgo * 1000).toISOString(),
      executionId: `e-${secondsAgo}`,
      trigger,
      action,
      current,
      target,
      desired: target,
      counts: null,
      reason,
      applied: true,
      stale: false,
    });
    await recordDecision(doc, d.table, 'default', decision(300, 'schedule', 'none', 1, 1, 'at target 1 (busy 0 + queued 0 + headroom 0)'));
    await recordReconcile(doc, d.table, 'default', now - 300_000);
    expect(await claimVersion(doc, d.table, 'default', { observedVersion: 0, executionId: 'e-60', kind: 'scale_out', target: 3, now: now - 60_000 })).toMatchObject({ claimed: true });
    await recordDecision(doc, d.table, 'default', decision(60, 'workflow_job.queued', 'scale_out', 1, 3, 'busy 1 + queued 2 + headroom 0 -> 3 > 1'));
    dynamo.destroy();

    const status = await cli(['status', ...common(d)]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^Pool "default" \(table healthy-table\)/m);
    expect(status.stdout).toMatch(/^Group\s+healthy-group: desired 1, min 1, max 10/m);
    expect(status.stdout).toMatch(/^Instances\s+1 — by market: on-demand 1; by lifecycle: InService 1$/m);
    expect(status.stdout).toMatch(/^Runners\s+idle 1, busy 1, offline 1\s+\(GitHub via local simulated GitHub\)$/m);
    expect(status.stdout).toMatch(/^Open jobs\s+2 \(queued 1, in progress 1\)$/m);
    expect(status.stdout).toMatch(/^\s+1001\s+queued\s+2m \d+s\s+local-org\/app\s+self-hosted,linux$/m);
    expect(status.stdout).toMatch(/^Activity\s+version 1; last scale-out 1m 0s ago, last scale-in never$/m);
    expect(status.stdout).toMatch(/^Reconcile\s+last 5m 0s ago$/m);
    const decisions = status.stdout.split('Last decisions:')[1].trim().split('\n');
    expect(decisions[0]).toMatch(/workflow_job\.queued\s+scale_out\s+1 -> 3\s+busy 1 \+ queued 2 \+ headroom 0 -> 3 > 1$/);
    expect(decisions[1]).toMatch(/schedule\s+none\s+1 -> 1\s+at target 1/);

    const json = JSON.parse((await cli(['status', '--json', ...common(d)])).stdout);
    expect(json.group.value).toMatchObject({ name: 'healthy-group', desired: 1, byMarket: { 'on-demand': 1 } });
    expect(json.openJobs.value.map((j: { jobId: string }) => j.jobId).sort()).toEqual(['1001', '1002']);
  }, 90_000);

  it('doctor fails a broken deployment (exit 1) with one FAIL line and a fix for each fault', async () => {
    const d = await deploy('broken', true);
    d.sim.queueJobs({ labels: ['self-hosted'], durationSeconds: 10, count: 1 });
    await d.sim.settled();

    const doctor = await cli(['doctor', ...common(d), '--hook-id', String(d.sim.hookId)]);
    expect(doctor.code).toBe(1);
    const fails = doctor.stdout.split('\n').filter((l) => l.startsWith('FAIL'));
    for (const line of [
      /^FAIL {2}stack outputs match: broken-autoscaler parameter EventBusName=an-old-bus but broken-infrastructure output EventBusName=broken-bus$/,
      /^FAIL {2}SSM \/broken\/github-credentials: GitHub credentials: type is String, not SecureString$/,
      /^FAIL {2}webhook deliveries: 1 of 1 recent deliveries on hook 1 .* failed \(401\)/,
      /^FAIL {2}Auto Scaling group broken-group: OnDemandPercentageAboveBaseCapacity is 50, must be 0/,
      /^FAIL {2}Auto Scaling group broken-group: NewInstancesProtectedFromScaleIn is off/,
      /^FAIL {2}settings: stored item is invalid .*floor: /,
      /^FAIL {2}labels vs. rule pattern: a job with the pool's labels \[gpu\] does not match broken-workflow-job/,
    ]) {
      expect(fails.some((l) => line.test(l))).toBe(true);
    }
    expect(doctor.stdout.match(/^ {6}fix: /gm)?.length).toBeGreaterThanOrEqual(fails.length);
    expect(doctor.stdout).toMatch(/fix: the webhook secret at GitHub differs from the SSM webhook secret/);

    const json = JSON.parse((await cli(['doctor', '--json', ...common(d), '--hook-id', String(d.sim.hookId)])).stdout);
    expect(json.ok).toBe(false);

    // Nothing deployed under this prefix at all: every stack FAILs with the deploy command.
    const missing = await cli(['doctor', '--endpoint', moto.endpoint, '--region', 'us-east-1', '--stack-prefix', 'nothing-here', '--table', d.table]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toMatch(/^FAIL {2}stack nothing-here-runners: does not exist$/m);
    expect(missing.stdout).toMatch(/fix: sam deploy --template-file Infrastructure\/template.yaml --stack-name nothing-here-infrastructure/);
    expect(missing.stdout).toMatch(/^WARN {2}webhook deliveries: skipped: /m);

    const status = await cli(['status', '--endpoint', moto.endpoint, '--region', 'us-east-1', '--stack-prefix', 'nothing-here']);
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/^Group\s+unavailable: stack nothing-here-runners does not exist; pass --group NAME$/m);
    expect(status.stdout).toMatch(/^Open jobs\s+unavailable: stack nothing-here-autoscaler does not exist/m);
  }, 90_000);
});
