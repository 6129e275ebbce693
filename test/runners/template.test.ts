import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTemplate, parameterDefaults, resolveIntrinsics, type CfnTemplate } from '../../lib/cfn-template';
import { matchesEventPattern } from '../../lib/event-pattern';
import { describeWithTool } from '../support/tools';
import { loadInterruptionConfig, loadJitConfigConfig } from '../../Runners/src/config';
import { GROUP, launchEvent } from './support';

const TEMPLATE_PATH = join(__dirname, '../../Runners/template.yaml');
const SCRIPT_PATH = join(__dirname, '../../Runners/bootstrap/runner-bootstrap.sh');
const STACK = 'runner-autoscaler-runners'; // the group is named after its stack

const template: CfnTemplate = loadTemplate(TEMPLATE_PATH);
const names: Record<string, unknown> = { ...parameterDefaults(template), 'AWS::StackName': STACK, 'AWS::Region': 'eu-west-1', 'AWS::AccountId': '123456789012', 'AWS::Partition': 'aws' };
const resource = (name: string) => {
  const found = template.Resources[name];
  if (!found) throw new Error(`resource ${name} missing`);
  return found;
};
const props = (name: string) => resolveIntrinsics(resource(name).Properties, names) as Record<string, any>;

describe('Runners template', () => {
  it('requires IMDSv2 with hop limit 1 by default, an encrypted gp3 root volume and no inbound rules', () => {
    const data = props('LaunchTemplate').LaunchTemplateData;
    expect(data.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 });
    expect(template.Parameters?.MetadataHopLimit?.AllowedValues).toEqual([1, 2]);
    expect(data.BlockDeviceMappings).toEqual([
      expect.objectContaining({ Ebs: expect.objectContaining({ VolumeType: 'gp3', Encrypted: true, DeleteOnTermination: true }) }),
    ]);
    const securityGroup = props('RunnerSecurityGroup');
    expect(securityGroup.SecurityGroupIngress).toBeUndefined();
    expect(Object.values(template.Resources).some((r) => r.Type === 'AWS::EC2::SecurityGroupIngress')).toBe(false);
    expect(template.Parameters?.ImageId?.Type).toBe('AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>');
    expect(String(template.Parameters?.ImageId?.Default)).toMatch(/^\/aws\/service\//);
  });

  it('runs spot above an on-demand floor, across several instance types, and never lets the group pick a victim', () => {
    const group = props('RunnerGroup');
    const floor = names.Floor;
    expect(floor).toBe(1);
    expect(group.MinSize).toBe(floor);
    expect(group.DesiredCapacity).toBeUndefined();
    expect(group.NewInstancesProtectedFromScaleIn).toBe(true);
    expect(String(group.CapacityRebalance)).toBe('true');
    expect(group.MixedInstancesPolicy.InstancesDistribution).toMatchObject({
      OnDemandBaseCapacity: floor,
      OnDemandPercentageAboveBaseCapacity: 0,
      SpotAllocationStrategy: 'price-capacity-optimized',
    });
    const listed = group.MixedInstancesPolicy.LaunchTemplate.Overrides[0].InstanceRequirements.AllowedInstanceTypes;
    const allowed: string[] = typeof listed === 'string' ? listed.split(',') : listed; // a CommaDelimitedList default
    expect(allowed.length).toBeGreaterThanOrEqual(4);
    expect(new Set(allowed.map((type: string) => type.split('.')[0])).size).toBeGreaterThanOrEqual(3);
    expect(group.LifecycleHookSpecificationList).toEqual([
      { LifecycleHookName: 'runner-launch', LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', HeartbeatTimeout: 300, DefaultResult: 'ABANDON' },
    ]);
    expect(group.AutoScalingGroupName).toBe(GROUP);
    // The first (floor) instance launches while the stack is created: its launch event must find the rule.
    expect(resource('RunnerGroup').DependsOn).toEqual(expect.arrayContaining(['LaunchLifecycleRule', 'LaunchLifecyclePermission']));
  });

  it('routes this group\'s launch lifecycle events, and only them, to the jit-config function', () => {
    const rule = props('LaunchLifecycleRule');
    expect(matchesEventPattern(rule.EventPattern, launchEvent('i-0123456789abcdef0'))).toBe(true);
    expect(matchesEventPattern(rule.EventPattern, launchEvent('i-0123456789abcdef0', { group: 'other-runners' }))).toBe(false);
    expect(resource('LaunchLifecycleRule').Properties?.Targets[0].Arn).toEqual({ 'Fn::GetAtt': ['JitConfigFunction', 'Arn'] });
    expect(rule.EventBusName).toBeUndefined(); // Auto Scaling and EC2 events arrive on the default bus
  });

  it('routes spot interruption warnings and rebalance recommendations to the interruption function', () => {
    const rule = props('InterruptionRule');
    const ec2Event = (detailType: string) => ({ source: 'aws.ec2', 'detail-type': detailType, detail: { 'instance-id': 'i-0123456789abcdef0' } });
    expect(matchesEventPattern(rule.EventPattern, ec2Event('EC2 Spot Instance Interruption Warning'))).toBe(true);
    expect(matchesEventPattern(rule.EventPattern, ec2Event('EC2 Instance Rebalance Recommendation'))).toBe(true);
    expect(matchesEventPattern(rule.EventPattern, ec2Event('EC2 Instance State-change Notification'))).toBe(false);
  });

  it('embeds the bootstrap script verbatim in the user data, after non-secret values only', () => {
    const join = resource('LaunchTemplate').Properties?.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1];
    expect(join[1]).toBe(readFileSync(SCRIPT_PATH, 'utf8')); // else: node Runners/bootstrap/embed-user-data.mjs
    const header = String(resolveIntrinsics(join[0], names));
    const exported = [...header.matchAll(/^export (\w+)=/gm)].map((m) => m[1]).sort();
    expect(exported).toEqual(['AUTO_SCALING_GROUP_NAME', 'AWS_REGION', 'BOOT_LOG_GROUP', 'CONFIG_WAIT_SECONDS', 'RUNNER_CONFIG_PREFIX', 'RUNNER_SHA256', 'RUNNER_VERSION']);
    expect(header).not.toMatch(/credential|token|secret|private key/i);
    // EC2 accepts 16 KB of user data before base64.
    expect(Buffer.byteLength(header + join[1])).toBeLessThan(16 * 1024);
  });

  // GitHub stops sending jobs to a runner that has not installed a new release within 30 days of its
  // publication (github.com/orgs/community/discussions/194762): a pinned default stops working within weeks.
  it('defaults to the current runner release and still accepts a pin', () => {
    const parameter = template.Parameters!.RunnerVersion as unknown as { Default: string; AllowedPattern: string };
    expect(parameter.Default).toBe('latest');
    const allowed = new RegExp(parameter.AllowedPattern);
    expect(['latest', '2.330.0', '2.329.0'].filter((v) => allowed.test(v))).toHaveLength(3);
    expect(['2.330', 'v2.330.0', "latest'; x", ''].filter((v) => allowed.test(v))).toEqual([]);
  });

  it('gives each instance a boot log stream it may write and nothing else, with retention, exported by name', () => {
    const group = resource('BootLogGroup');
    expect(group.Type).toBe('AWS::Logs::LogGroup');
    expect(props('BootLogGroup')).toEqual({ LogGroupName: `/runner-autoscaler/${STACK}/boot`, RetentionInDays: names.LogRetentionDays });
    const statements = (resource('InstanceRole').Properties?.Policies as Array<{ PolicyDocument: { Statement: Array<Record<string, any>> } }>)
      .flatMap((policy) => policy.PolicyDocument.Statement)
      .filter((statement) => JSON.stringify(statement.Action ?? '').includes('logs:'));
    expect(statements).toEqual([
      { Sid: 'ReportBootOutcome', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: { 'Fn::GetAtt': ['BootLogGroup', 'Arn'] } },
    ]);
    expect((template.Outputs as Record<string, { Value?: unknown }> | undefined)?.BootLogGroupName?.Value).toEqual({ Ref: 'BootLogGroup' });
    const header = resource('LaunchTemplate').Properties?.LaunchTemplateData.UserData['Fn::Base64']['Fn::Join'][1][0];
    expect(String(resolveIntrinsics(header, { ...names, BootLogGroup: `/runner-autoscaler/${STACK}/boot` }))).toContain(
      `export BOOT_LOG_GROUP='/runner-autoscaler/${STACK}/boot'`,
    );
  });

  it('gives the functions nodejs22.x on arm64 and parameter names, never secrets, in their environment', () => {
    for (const name of ['JitConfigFunction', 'InterruptionFunction']) {
      const fn = resource(name).Properties!;
      expect(fn.Runtime).toBe('nodejs22.x');
      expect(fn.Architectures).toEqual(['arm64']);
      expect(fn.Handler).toBe('index.handler');
      expect(fn.Environment.Variables.GITHUB_CREDENTIALS_PARAMETER).toEqual({
        'Fn::ImportValue': { 'Fn::Sub': '${InfrastructureStackName}-GitHubCredentialsParameterName' },
      });
    }
    expect(resource('JitConfigFunction').Properties?.CodeUri).toBe('../dist/Runners/jit-config/');
    expect(resource('InterruptionFunction').Properties?.CodeUri).toBe('../dist/Runners/interruption/');
  });

  it('sets an environment the functions\' config accepts (imports stubbed with the Infrastructure defaults)', () => {
    const imports: Record<string, string> = {
      'runner-autoscaler-infrastructure-GitHubCredentialsParameterName': '/runner-autoscaler/github-credentials',
      'runner-autoscaler-infrastructure-RunnerLabels': 'self-hosted,linux,x64',
    };
    const envOf = (name: string) => {
      const variables = resolveIntrinsics(resource(name).Properties?.Environment.Variables, { ...names, GitHubScope: 'org:acme', InfrastructureStackName: 'runner-autoscaler-infrastructure' }) as Record<string, unknown>;
      return Object.fromEntries(
        Object.entries(variables).map(([key, value]) => {
          const imported = (value as { 'Fn::ImportValue'?: string })?.['Fn::ImportValue'];
          return [key, imported !== undefined ? imports[imported] : String(value)];
        }),
      );
    };
    const jit = loadJitConfigConfig(envOf('JitConfigFunction'));
    expect(jit).toMatchObject({ AUTO_SCALING_GROUP_NAME: STACK, RUNNER_CONFIG_PREFIX: '/runner-autoscaler/runners', RUNNER_GROUP_ID: 1, RUNNER_LABELS: ['self-hosted', 'linux', 'x64'] });
    // The labels come from the Infrastructure export only; no settings table is read for them.
    expect(Object.keys(envOf('JitConfigFunction'))).not.toContain('SETTINGS_TABLE_NAME');
    expect(jit.GITHUB_SCOPE).toEqual({ kind: 'org', org: 'acme' });
    expect(loadInterruptionConfig(envOf('InterruptionFunction')).AUTO_SCALING_GROUP_NAME).toBe(STACK);
  });

  it('exports the group name for the AutoScaler stack', () => {
    expect((template.Outputs?.AutoScalingGroupName as { Export: unknown }).Export).toEqual({ Name: { 'Fn::Sub': '${AWS::StackName}-AutoScalingGroupName' } });
  });
});

describeWithTool('cfn-lint', 'Runners template passes cfn-lint (with the SAM translator)', (cfnLint) => {
  it('has no errors or warnings', () => {
    const result = spawnSync(cfnLint, [TEMPLATE_PATH], { encoding: 'utf8', timeout: 120000 });
    expect(result.stdout + result.stderr).toBe('');
    expect(result.status).toBe(0);
  });
});
