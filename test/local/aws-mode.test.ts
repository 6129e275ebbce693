import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeEventBusCommand, ListRulesCommand } from '@aws-sdk/client-eventbridge';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { createGitHubPort } from '../../lib/adapters/github';
import { AwsScalingGroup, createAwsClients, destroyAwsClients, groupSpecFromRunnersTemplate, provisionAwsResources, RunnerAttacher, type AwsClients } from '../../local/aws-mode';
import { SimGitHub } from '../../local/sim-github';
import { describeWithTool, startMoto, type MotoServer } from '../support/tools';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { getState, queueJobs, until } from './support';

/** Local AWS mode against a private moto_server: what it provisions, and runners attached to the instances moto reports. */
describeWithTool('moto_server', 'local AWS mode against moto_server', (motoPath) => {
  let moto: MotoServer;
  let clients: AwsClients;
  let sim: SimGitHub;

  beforeAll(async () => {
    moto = await startMoto(motoPath);
    clients = createAwsClients(moto.endpoint);
    sim = new SimGitHub({ org: 'acme' });
    await sim.start();
  }, 60000);

  afterAll(async () => {
    await sim?.stop();
    if (clients) destroyAwsClients(clients);
    await moto?.stop();
  });

  it('creates the bus, rules, SSM parameters, launch template and group once, then runs a job on an attached runner', async () => {
    const spec = groupSpecFromRunnersTemplate(undefined, { name: 'pool-a', launchTemplateName: 'pool-a', floor: 1, max: 4 });
    const rules = [
      { name: 'jobs', pattern: { source: ['runner-autoscaler.github'] } },
      { name: 'reconcile', schedule: { expression: 'rate(15 minutes)', periodMs: 900000 } },
    ];
    const first = await provisionAwsResources(clients, spec, { name: 'runner-autoscaler', rules }, { '/ra/webhook-secret': 's3cret' });
    expect(first).toEqual(expect.arrayContaining(['event bus runner-autoscaler', 'launch template pool-a', 'Auto Scaling Group pool-a (min 1, max 4)']));
    const second = await provisionAwsResources(clients, spec, { name: 'runner-autoscaler', rules }, { '/ra/webhook-secret': 's3cret' });
    expect(second.filter((c) => /bus|template|Group/.test(c))).toEqual([]);

    await clients.eventBridge.send(new DescribeEventBusCommand({ Name: 'runner-autoscaler' }));
    const listed = await clients.eventBridge.send(new ListRulesCommand({ EventBusName: 'runner-autoscaler' }));
    expect(listed.Rules?.map((r) => r.Name)).toContain('jobs');
    const parameter = await clients.ssm.send(new GetParameterCommand({ Name: '/ra/webhook-secret', WithDecryption: true }));
    expect(parameter.Parameter).toMatchObject({ Type: 'SecureString', Value: 's3cret' });
    const { AutoScalingGroups } = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['pool-a'] }));
    expect(AutoScalingGroups?.[0]).toMatchObject({ MinSize: 1, MaxSize: 4, NewInstancesProtectedFromScaleIn: true });
    expect(AutoScalingGroups?.[0].MixedInstancesPolicy?.InstancesDistribution).toMatchObject({ OnDemandBaseCapacity: 1, OnDemandPercentageAboveBaseCapacity: 0 });

    const group = new AwsScalingGroup(clients, 'pool-a');
    await group.setDesiredCapacity(2);
    const github = createGitHubPort({ scope: { kind: 'org', org: 'acme' }, auth: { type: 'pat', token: 't' }, baseUrl: sim.url });
    const errors: string[] = [];
    const attacher = new RunnerAttacher(group, sim, github, () => ['self-hosted', 'linux'], 0, Date.now, (m, e) => errors.push(`${m}: ${String(e)}`));
    sim.setEvents({ runnerExited: (name) => void attacher.runnerExited(name) });
    await attacher.tick();
    await attacher.tick();
    expect(sim.listRunners().filter((r) => r.status === 'online')).toHaveLength(2);
    const names = sim.listRunners().map((r) => r.name).sort();
    expect(names).toEqual((await group.describe()).instances.map((i) => i.instanceId).sort());

    sim.queueJobs({ labels: ['self-hosted'], durationSeconds: 0.1 });
    await until(() => attacher.selfTerminations.length === 1, 'the runner to finish and its instance to leave');
    expect(attacher.selfTerminations[0].decrement).toBe(true);
    const after = await group.describe();
    expect(after.desired).toBe(1);
    expect(after.instances.filter((i) => !/^Terminat/.test(i.lifecycleState))).toHaveLength(1);
    // At the floor, a finishing runner's instance leaves without decrement (AWS refuses to go below min).
    await attacher.tick();
    sim.queueJobs({ labels: ['self-hosted'], durationSeconds: 0.1 });
    await until(() => attacher.selfTerminations.length === 2, 'the second runner to finish');
    expect(attacher.selfTerminations[1].decrement).toBe(false);
    expect((await group.describe()).desired).toBe(1);
    expect(errors).toEqual([]);
  }, 60000);
});

describeWithTool('moto_server', 'npm start --aws-endpoint against moto_server', (motoPath) => {
  let moto: MotoServer;
  let stack: LocalStack | undefined;

  beforeAll(async () => {
    moto = await startMoto(motoPath);
  }, 60000);

  afterAll(async () => {
    await stack?.stop();
    await moto?.stop();
  });

  it('runs jobs on the group moto reports and scales it out and back to the floor', async () => {
    stack = await startLocalStack({
      port: 0,
      awsEndpoint: moto.endpoint,
      bootSeconds: 0.3,
      reconcileSeconds: 1,
      logLevel: 'SILENT',
      settings: { floor: 1, max: 4, headroom: 0, scaleInCooldownSeconds: 1 },
    });
    expect(stack.provisioned.join('; ')).toMatch(/Auto Scaling Group runner-autoscaler-default/);
    expect(stack.fleet).toBeNull();
    await until(async () => (await getState(stack!.urls.state)).instances.some((i) => i.status === 'idle'), 'a runner on the floor instance', 30000);
    expect((await getState(stack.urls.state)).mode).toBe('aws');

    expect((await queueJobs(stack.urls.simJobs, { labels: ['self-hosted', 'linux', 'x64'], durationSeconds: 1, count: 3 })).status).toBe(201);
    await until(async () => (await stack!.scalingGroup.describe()).desired === 3, 'the group at moto to reach 3', 30000);
    await until(() => stack!.sim.jobCounts().completed === 3, 'the three jobs to complete', 30000);
    await until(async () => {
      const group = await stack!.scalingGroup.describe();
      return group.desired === 1 && group.instances.filter((i) => !/^Terminat/.test(i.lifecycleState)).length === 1;
    }, 'the group at moto back at its floor', 30000);
    expect(stack.sim.listJobs().every((j) => j.conclusion === 'success')).toBe(true);
    expect(stack.sim.machineTerminations.filter((t) => t.wasBusy)).toEqual([]);
  }, 90000);
});

describe('group spec from the Runners template', () => {
  it('takes the instance types and spot strategy of the MixedInstancesPolicy, and the floor as on-demand base', () => {
    const spec = groupSpecFromRunnersTemplate(`${__dirname}/../../Runners/template.yaml`, { name: 'g', launchTemplateName: 'g', floor: 1, max: 10 });
    expect(spec.instanceTypes.length).toBeGreaterThan(2);
    expect(spec.instanceTypes.every((t) => /^[a-z0-9]+\.[a-z0-9*]+$/.test(t))).toBe(true);
    expect(spec.spotAllocationStrategy).toBe('price-capacity-optimized');
  });

  it('falls back to a documented default when the template is absent', () => {
    expect(groupSpecFromRunnersTemplate('/nonexistent/template.yaml', { name: 'g', launchTemplateName: 'g', floor: 1, max: 2 }).instanceTypes).toEqual(['m7g.large', 'm6g.large', 'c7g.large']);
  });
});
