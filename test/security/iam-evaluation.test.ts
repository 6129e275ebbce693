import { toIamRequests, type Environment, type IamRequest, type Operation } from '../support/iam-actions';
import { describeVerdict, distinct, evaluate, type Verdict } from '../support/iam-evaluate';
import { recordAll, type Recording } from '../support/iam-scenarios';
import {
  ACCOUNT,
  describeWithSamTranslator,
  KMS_KEY_ARN,
  principalsOf,
  REGION,
  transformAll,
  transformStack,
  type Principal,
  type StackName,
} from '../support/iam-templates';
import { describeWithTool } from '../support/tools';

/**
 * IAM evaluation of what is actually sent (issue 13). Every AWS operation the
 * functions' real handlers send against moto and dynalite (recorded on the
 * wire, test/support/iam-recorder.ts), every `aws` call of the real runner
 * bootstrap, and what the Lambda runtime writes with each function's role (its
 * logs), is turned into IAM requests from the Service Authorization Reference
 * (test/support/iam-actions.ts) and evaluated with @cloud-copilot/iam-simulate
 * against that principal's role in the SAM-transformed template. Any deny
 * fails and names the principal, the action and the resource.
 */
function principalsByName(templates: Record<StackName, Record<string, any>>): Map<string, Principal> {
  const map = new Map<string, Principal>();
  for (const stack of Object.keys(templates) as StackName[])
    for (const p of principalsOf(stack, templates[stack])) map.set(p.name, p);
  return map;
}

/**
 * Lambda writes each function's logs with its execution role: logs:CreateLogStream and logs:PutLogEvents on its log
 * group, a stream per container (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html).
 */
function runtimeLogOperations(invoked: Set<string>, principals: Map<string, Principal>): Operation[] {
  return [...invoked].flatMap((name) => {
    const params = {
      logGroupName: principals.get(name)?.logGroupName ?? `<no log group for ${name}>`,
      logStreamName: '2026/12/02/[$LATEST]0123456789abcdef0123456789abcdef',
    };
    return ['CreateLogStream', 'PutLogEvents'].map((operation) => ({
      principal: name,
      service: 'logs',
      operation,
      params,
      source: 'Lambda runtime logs',
    }));
  });
}

/**
 * What AWS services do with this project's roles on its behalf, for what the run executed: Step Functions invokes
 * each Task state's function with the state machine's role, and EventBridge starts the state machine with each
 * rule target's role (the workflow_job rule and the schedule). The local run executed both kinds of input.
 */
function serviceOperations(
  recording: Recording,
  templates: Record<StackName, Record<string, any>>,
): Operation[] {
  const resources = templates.AutoScaler.Resources as Record<
    string,
    { Type: string; Properties: Record<string, any> }
  >;
  const [machine] = Object.entries(resources).find(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')!;
  const invokes = [...recording.invoked]
    .filter((name) => resources[name]?.Type === 'AWS::Lambda::Function')
    .map((name) => ({
      principal: machine,
      service: 'lambda',
      operation: 'InvokeFunction',
      params: { FunctionName: resources[name].Properties.FunctionName },
      source: `Step Functions Task state of ${name}`,
    }));
  const starts = Object.entries(resources)
    .filter(([, r]) => r.Type === 'AWS::Events::Rule')
    .flatMap(([logical, rule]) =>
      (rule.Properties.Targets ?? [])
        .filter((t: { RoleArn?: string }) => t.RoleArn)
        .map((t: { Arn: string }) => ({
          principal: logical,
          service: 'states',
          operation: 'StartExecution',
          params: { stateMachineArn: t.Arn },
          source: `EventBridge rule ${logical}`,
        })),
    );
  return [...invokes, ...starts];
}

function environment(recording: Recording): Environment {
  const instanceArn = `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${recording.instanceId}`;
  const tagsByArn = new Map(
    [...recording.parameterTags].map(([name, tags]) => [
      `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}`,
      tags,
    ]),
  );
  return {
    region: REGION,
    account: ACCOUNT,
    kmsKeyArn: KMS_KEY_ARN,
    groupOfInstance: (id) => recording.groupOfInstance.get(id),
    // Credentials of an EC2 instance role carry ec2:SourceInstanceARN, the instance's ARN
    // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-ec2-sourceinstancearn).
    principalContext: (principal): Record<string, string> =>
      principal === 'InstanceRole' ? { 'ec2:SourceInstanceARN': instanceArn } : {},
    // A parameter's tags are the resource's tags: ssm:resourceTag/<key> (Systems Manager's condition keys).
    resourceContext: (arn) =>
      Object.fromEntries(
        Object.entries(tagsByArn.get(arn) ?? {}).map(([key, value]) => [`ssm:resourceTag/${key}`, value]),
      ),
  };
}

async function requestsOf(operations: Operation[], env: Environment): Promise<IamRequest[]> {
  const out: IamRequest[] = [];
  for (const op of operations) out.push(...(await toIamRequests(op, env)));
  return distinct(out);
}

/** Each (role, statement, action) that allowed no recorded request. */
function unusedGrants(verdicts: Verdict[], principals: Map<string, Principal>): string[] {
  const used = new Set<string>();
  for (const v of verdicts) {
    const role = principals.get(v.request.principal)?.roleLogicalId;
    for (const sid of v.allowedBy ?? []) used.add(`${role} ${sid} ${v.request.action}`.toLowerCase());
  }
  const unused = new Set<string>();
  for (const p of principals.values()) {
    // AWS managed policies are AWS's documents, not this project's grants.
    for (const { policy } of p.policies.filter((q) => !q.name.startsWith('arn:'))) {
      policy.Statement.forEach((statement, index) => {
        const sid = statement.Sid ?? String(index + 1);
        for (const action of [statement.Action].flat()) {
          if (!used.has(`${p.roleLogicalId} ${sid} ${action}`.toLowerCase()))
            unused.add(`${p.roleLogicalId} ${sid} ${action}`);
        }
      });
    }
  }
  return [...unused].sort();
}

/**
 * Granted, and not sent by any scenario, each for a reason (DESIGN.md invariant 7: nothing the code never sends is
 * allowed). An entry that becomes used fails too, so the list only shrinks.
 */
const REVIEWED_UNUSED: Record<string, string> = {
  'JitConfigRole UseKeyThroughSsm kms:GenerateDataKey':
    'advanced-tier SecureStrings (configs over 4 KB) use envelope encryption',
  'GroupLifecycleRole SuspendAndEmptyOwnGroup autoscaling:CompleteLifecycleAction':
    'abandons launches the launch hook still holds (Pending:Wait) during a deletion; moto has no lifecycle hooks',
  'ScaleInRole Table dynamodb:GetItem':
    're-reads the activity item when its claim loses a race (lib/activity.ts claimVersion)',
  ...Object.fromEntries(
    [
      'CreateLogDelivery',
      'GetLogDelivery',
      'UpdateLogDelivery',
      'DeleteLogDelivery',
      'ListLogDeliveries',
      'PutResourcePolicy',
      'DescribeResourcePolicies',
      'DescribeLogGroups',
    ].map((a) => [
      `StateMachineRole LogDeliveryHasNoResourceScope logs:${a}`,
      'Step Functions sets up its log delivery with these when the state machine is created or updated, not per execution',
    ]),
  ),
};

async function denials(requests: IamRequest[], principals: Map<string, Principal>): Promise<Verdict[]> {
  const verdicts = await Promise.all(requests.map((r) => evaluate(r, principals)));
  return verdicts.filter((v) => v.result !== 'Allowed');
}

/** A copy of the principals with one statement (by role and Sid) taken out. */
function withoutStatement(
  principals: Map<string, Principal>,
  role: string,
  sid: string,
): Map<string, Principal> {
  const copy = new Map(principals);
  const principal = [...copy.values()].find((p) => p.roleLogicalId === role)!;
  const policies = principal.policies.map(({ name, policy }) => ({
    name,
    policy: { ...policy, Statement: policy.Statement.filter((s) => s.Sid !== sid) },
  }));
  const removed =
    principal.policies.flatMap((p) => p.policy.Statement).length -
    policies.flatMap((p) => p.policy.Statement).length;
  if (removed !== 1) throw new Error(`${role} has ${removed} statements with Sid ${sid}`);
  for (const [name, p] of copy) if (p.roleLogicalId === role) copy.set(name, { ...p, policies });
  return copy;
}

describeWithSamTranslator('IAM evaluation (SAM-transformed roles)', () =>
  describeWithTool('moto_server', 'IAM evaluation of every operation the product sends', (motoPath) => {
    let recording: Recording;
    let principals: Map<string, Principal>;
    let requests: IamRequest[];

    beforeAll(async () => {
      principals = principalsByName(transformAll());
      recording = await recordAll(motoPath);
      const operations = [
        ...recording.operations,
        ...runtimeLogOperations(recording.invoked, principals),
        ...serviceOperations(recording, transformAll()),
      ];
      requests = await requestsOf(operations, environment(recording));
    }, 120_000);

    it('evaluated every role of the three templates: each function, the state machine, its rules and the runner instance', () => {
      const seen = new Set(requests.map((r) => r.principal));
      const unexercised = [...principals.keys()].filter((name) => !seen.has(name));
      // A new function (or role) must get a scenario, or what it sends is never evaluated.
      if (unexercised.length)
        throw new Error(
          `no scenario exercised ${unexercised.join(', ')}: add one in test/support/iam-scenarios.ts`,
        );
    });

    it('every recorded (principal, action, resource) is allowed by that principal’s role', async () => {
      const denied = await denials(requests, principals);
      const byPrincipal = new Map<string, Set<string>>();
      for (const r of requests)
        byPrincipal.set(
          r.principal,
          (byPrincipal.get(r.principal) ?? new Set()).add(`${r.action} ${r.resource}`),
        );
      // eslint-disable-next-line no-console
      console.log(
        [
          `IAM evaluation: ${[...byPrincipal.values()].reduce((n, s) => n + s.size, 0)} distinct (function, action, resource) triples evaluated, ${denied.length} denials`,
          ...[...byPrincipal]
            .sort()
            .map(
              ([name, set]) =>
                `  ${name}: ${set.size} (${[...new Set([...set].map((t) => t.split(' ')[0]))].sort().join(', ')})`,
            ),
        ].join('\n'),
      );
      expect(denied.map(describeVerdict)).toEqual([]);
    });

    it('grants nothing that no recorded request used, beyond the reviewed exceptions', async () => {
      const verdicts = await Promise.all(requests.map((r) => evaluate(r, principals)));
      expect(unusedGrants(verdicts, principals)).toEqual(Object.keys(REVIEWED_UNUSED).sort());
    });

    // The scenarios reach the paths that matter; if one stops early (an emulator change), this says which.
    it.each([
      ['JitConfigFunction', 'ssm:PutParameter'],
      ['JitConfigFunction', 'ssm:DeleteParameter'],
      ['JitConfigFunction', 'autoscaling:CompleteLifecycleAction'],
      ['InstanceRole', 'ssm:GetParameter'],
      ['InstanceRole', 'kms:Decrypt'],
      ['InstanceRole', 'ssm:DeleteParameter'],
      ['InstanceRole', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
      ['WebhookFunction', 'events:PutEvents'],
      ['ScaleOutFunction', 'autoscaling:SetDesiredCapacity'],
      ['ScaleInFunction', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
      ['ReconcileFunction', 'autoscaling:TerminateInstanceInAutoScalingGroup'],
      ['ReconcileFunction', 'dynamodb:Query'],
      ['InterruptionFunction', 'ssm:GetParameter'],
    ])('recorded %s sending %s', (principal, action) => {
      expect(requests.filter((r) => r.principal === principal).map((r) => r.action)).toContain(action);
    });

    it('fails, naming the denial, when WriteRunnerConfigs is removed from Runners/template.yaml (transformed again)', async () => {
      const edited = new Map(principals);
      for (const p of principalsOf(
        'Runners',
        transformStack('Runners', [['JitConfigRole', 'WriteRunnerConfigs']]),
      ))
        edited.set(p.name, p);
      const denied = (await denials(requests, edited)).map(describeVerdict);
      expect(denied.length).toBeGreaterThan(0);
      expect(denied.filter((line) => !line.startsWith('ImplicitlyDenied: JitConfigFunction ssm:'))).toEqual([]);
      expect(denied).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^ImplicitlyDenied: JitConfigFunction ssm:PutParameter on arn:aws:ssm:[^ ]+:parameter\/runner-autoscaler\/runners\/i-/),
        ]),
      );
    });

    it.each([
      ['JitConfigRole', 'WriteRunnerConfigs', 'JitConfigFunction', 'ssm:PutParameter'],
      ['InstanceRole', 'ReadAndDeleteOwnRunnerConfig', 'InstanceRole', 'ssm:GetParameter'],
      ['WebhookRole', 'PutOnOwnBus', 'WebhookFunction', 'events:PutEvents'],
      ['ReconcileRole', 'Table', 'ReconcileFunction', 'dynamodb:Query'],
    ])('fails, naming the denial, when %s loses its statement %s', async (role, sid, principal, action) => {
      const denied = await denials(requests, withoutStatement(principals, role, sid));
      expect(denied.length).toBeGreaterThan(0);
      expect(denied.map(describeVerdict)).toEqual(
        expect.arrayContaining([
          expect.stringMatching(new RegExp(`^ImplicitlyDenied: ${principal} ${action} on arn:`)),
        ]),
      );
    });
  }),
);
