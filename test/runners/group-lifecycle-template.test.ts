import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTemplate, parameterDefaults, resolveIntrinsics, type CfnTemplate } from '../../lib/cfn-template';
import { RESPONSE_MARGIN_MS } from '../../Runners/src/group-lifecycle-handler';

/**
 * The lifecycle custom resource in Runners/template.yaml (issue 13, defects 3
 * and 8): it exists, CloudFormation deletes it before the group, it answers
 * within its ServiceTimeout, and its role allows exactly what the function
 * sends, for this group and stack only (evaluated with iam-simulate).
 * cfn-lint runs on the whole template in template.test.ts.
 */
const template: CfnTemplate = loadTemplate(join(__dirname, '../../Runners/template.yaml'));
const STACK = 'runner-autoscaler-runners';
const ACCOUNT = '123456789012';
const names: Record<string, unknown> = { ...parameterDefaults(template), 'AWS::StackName': STACK, 'AWS::Region': 'eu-west-1', 'AWS::AccountId': ACCOUNT, 'AWS::Partition': 'aws' };
const resource = (name: string) => {
  const found = template.Resources[name];
  if (!found) throw new Error(`resource ${name} missing from Runners/template.yaml`);
  return found;
};

/** The resources one resource depends on: Ref, GetAtt, Sub references and DependsOn. */
function dependencies(name: string): Set<string> {
  const out = new Set<string>();
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(walk);
    if (!value || typeof value !== 'object') return;
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'Ref' && typeof inner === 'string') out.add(inner);
      else if (key === 'Fn::GetAtt') out.add(Array.isArray(inner) ? String(inner[0]) : String(inner).split('.')[0]);
      else if (key === 'Fn::Sub') {
        const text = Array.isArray(inner) ? String(inner[0]) : String(inner);
        for (const [, ref] of text.matchAll(/\$\{([^}!]+)\}/g)) out.add(ref.split('.')[0]);
      }
      walk(inner);
    }
  };
  const { DependsOn, Properties } = resource(name) as { DependsOn?: string | string[]; Properties?: unknown };
  walk(Properties);
  for (const dep of [DependsOn ?? []].flat()) out.add(dep);
  return new Set([...out].filter((dep) => dep in template.Resources));
}
function dependsTransitively(from: string, to: string, seen = new Set<string>()): boolean {
  for (const dep of dependencies(from)) {
    if (dep === to) return true;
    if (!seen.has(dep) && (seen.add(dep), dependsTransitively(dep, to, seen))) return true;
  }
  return false;
}

describe('Runners template: the group lifecycle custom resource', () => {
  it('names the runner group, so CloudFormation creates it after the group and deletes it before the group (defect 3)', () => {
    const custom = resource('RunnerGroupLifecycle');
    expect(custom.Type).toBe('Custom::RunnerGroupLifecycle');
    expect(custom.Properties).toMatchObject({ ServiceToken: { 'Fn::GetAtt': ['GroupLifecycleFunction', 'Arn'] }, AutoScalingGroupName: { Ref: 'RunnerGroup' } });
    const launchHook = resource('RunnerGroup').Properties!.LifecycleHookSpecificationList.find(
      (hook: { LifecycleTransition: string }) => hook.LifecycleTransition === 'autoscaling:EC2_INSTANCE_LAUNCHING',
    );
    expect(custom.Properties!.LaunchHookName).toBe(launchHook.LifecycleHookName);
    // Dependents are deleted first: the lifecycle Delete runs while the group still exists...
    expect(dependsTransitively('RunnerGroupLifecycle', 'RunnerGroup')).toBe(true);
    expect(dependsTransitively('RunnerGroup', 'RunnerGroupLifecycle')).toBe(false);
    // ...and while its function, role and log group still exist to run it.
    for (const needed of ['GroupLifecycleFunction', 'GroupLifecycleRole', 'GroupLifecycleLogGroup']) {
      expect(dependsTransitively('RunnerGroupLifecycle', needed)).toBe(true);
    }
  });

  it('answers within the Lambda timeout, and the Lambda ends within the resource\'s ServiceTimeout', () => {
    const fn = resource('GroupLifecycleFunction').Properties!;
    expect(fn).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler', CodeUri: '../dist/Runners/group-lifecycle/' });
    expect(fn.Timeout * 1000).toBeGreaterThan(RESPONSE_MARGIN_MS * 5);
    const serviceTimeout = Number(resource('RunnerGroupLifecycle').Properties!.ServiceTimeout);
    // AWS::CloudFormation::CustomResource: ServiceTimeout is 1 to 3600 s (default 3600).
    expect(serviceTimeout).toBeGreaterThan(fn.Timeout);
    expect(serviceTimeout).toBeLessThanOrEqual(3600);
    expect(fn.Environment.Variables.NODE_OPTIONS).toBeUndefined(); // no source maps are bundled
  });

  describe('its role', () => {
    const group = (name: string) => `arn:aws:autoscaling:eu-west-1:${ACCOUNT}:autoScalingGroup:0a1b2c3d-1111-2222-3333-444455556666:autoScalingGroupName/${name}`;
    const logGroupArn = `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/aws/lambda/${STACK}-group-lifecycle:*`;
    // Read in each test, so that a template without the role fails every test rather than the file.
    const rolePolicy = () => JSON.parse(
      JSON.stringify(resolveIntrinsics(resource('GroupLifecycleRole').Properties!.Policies[0].PolicyDocument, names)).replace(
        JSON.stringify({ 'Fn::GetAtt': ['GroupLifecycleLogGroup', 'Arn'] }),
        JSON.stringify(logGroupArn),
      ),
    );
    const decide = async (action: string, arn: string, context: Record<string, string> = {}) => {
      const simulation: Simulation = {
        identityPolicies: [{ name: 'group-lifecycle', policy: rolePolicy() }],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        request: { action, principal: `arn:aws:sts::${ACCOUNT}:assumed-role/group-lifecycle/fn`, resource: { accountId: ACCOUNT, resource: arn }, contextVariables: context },
      };
      const response = await runSimulation(simulation, {});
      if (response.resultType === 'error') throw new Error(`${action} ${arn}: ${JSON.stringify(response.errors)}`);
      return response.overallResult;
    };

    it('allows every operation the function sends, for this group and this stack', async () => {
      const own = group(STACK);
      const stack = `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/${STACK}/0a1b2c3d-0000-4000-8000-000000000000`;
      expect(await decide('autoscaling:DescribeAutoScalingGroups', '*')).toBe('Allowed');
      for (const action of ['SuspendProcesses', 'SetInstanceProtection', 'TerminateInstanceInAutoScalingGroup', 'CompleteLifecycleAction']) {
        expect(await decide(`autoscaling:${action}`, own)).toBe('Allowed');
      }
      expect(await decide('autoscaling:UpdateAutoScalingGroup', own, { 'autoscaling:MinSize': '0', 'autoscaling:MaxSize': '0' })).toBe('Allowed');
      expect(await decide('cloudformation:DescribeStacks', stack)).toBe('Allowed');
      expect(await decide('logs:PutLogEvents', `arn:aws:logs:eu-west-1:${ACCOUNT}:log-group:/aws/lambda/${STACK}-group-lifecycle:log-stream:abc`)).toBe('Allowed');
    });

    it('denies other groups, other stacks, and any resize but to 0', async () => {
      for (const action of ['SuspendProcesses', 'SetInstanceProtection', 'TerminateInstanceInAutoScalingGroup', 'CompleteLifecycleAction', 'ResumeProcesses', 'SetDesiredCapacity']) {
        expect(await decide(`autoscaling:${action}`, group('someone-elses-group'))).not.toBe('Allowed');
      }
      expect(await decide('autoscaling:SetDesiredCapacity', group(STACK))).not.toBe('Allowed');
      expect(await decide('autoscaling:UpdateAutoScalingGroup', group(STACK), { 'autoscaling:MinSize': '0', 'autoscaling:MaxSize': '50' })).not.toBe('Allowed');
      expect(await decide('autoscaling:UpdateAutoScalingGroup', group(STACK))).not.toBe('Allowed');
      expect(await decide('cloudformation:DescribeStacks', `arn:aws:cloudformation:eu-west-1:${ACCOUNT}:stack/other-stack/0a1b2c3d-0000-4000-8000-000000000000`)).not.toBe('Allowed');
      expect(await decide('ec2:TerminateInstances', `arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/i-0123456789abcdef0`)).not.toBe('Allowed');
    });

    it('grants exactly the operations the adapter sends, with "*" only where the action has no resource-level permissions', () => {
      const source = readFileSync(join(__dirname, '../../Runners/src/group-lifecycle-aws.ts'), 'utf8');
      const sent = new Set([...source.matchAll(/new (\w+)Command\(/g)].map(([, name]) => name));
      const statements = rolePolicy().Statement as Array<{ Action: string | string[]; Resource: string }>;
      const granted = statements.flatMap((s) => [s.Action].flat()).filter((a) => !a.startsWith('logs:'));
      expect(new Set(granted.map((a) => a.split(':')[1]))).toEqual(sent);
      for (const statement of statements) {
        for (const action of [statement.Action].flat()) expect(action).not.toMatch(/\*/);
        if (statement.Resource === '*') expect(statement.Action).toBe('autoscaling:DescribeAutoScalingGroups');
      }
    });
  });
});
