import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadTemplate, parameterDefaults, resolveIntrinsics, resourcesOfType, runnerLabelsImport } from '../../lib/cfn-template';
import { matchesEventPattern, type EventPattern } from '../../lib/event-pattern';
import { TASK_STATES } from '../../AutoScaler/src/handlers';
import { autoScalerConfigSchema } from '../../AutoScaler/src/config';
import { OPEN_JOBS_HASH, OPEN_JOBS_INDEX, OPEN_JOBS_PROJECTION, OPEN_JOBS_RANGE, TABLE_KEY, TTL_ATTRIBUTE } from '../../lib/table';
import { describeWithTool } from '../support/tools';
import { ASL_PATH, jobEvent, loadDefinition, ROOT } from './support/fakes';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const aslValidator = require('asl-validator') as (definition: unknown, options?: Record<string, unknown>) => { isValid: boolean; errorsText: (sep?: string) => string };

const templatePath = join(ROOT, 'AutoScaler', 'template.yaml');
const template = loadTemplate(templatePath);
const resources = template.Resources;

describe('statemachine/autoscaler.asl.json', () => {
  const raw = readFileSync(ASL_PATH, 'utf8');
  const definition = loadDefinition();
  const states = definition.States as Record<string, any>;

  it('is valid ASL once the template substitutions are applied', () => {
    const result = aslValidator(definition, { checkArn: true, checkPaths: true });
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('uses JSONPath only (no JSONata, no variables), so it runs locally', () => {
    expect(definition.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(raw).not.toMatch(/"(Assign|Arguments|Output|QueryLanguage)"\s*:/);
    expect(raw).not.toContain('{%');
  });

  it('has one Task per handler, each resource a DefinitionSubstitution of the template', () => {
    const tasks = Object.entries(states).filter(([, s]) => s.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual([...TASK_STATES].sort());
    const substitutions = resources.StateMachine.Properties!.DefinitionSubstitutions as Record<string, unknown>;
    const placeholders = [...raw.matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((m) => m[1]);
    expect(new Set(placeholders)).toEqual(new Set(Object.keys(substitutions)));
    for (const [name] of tasks) expect(substitutions[`${name}FunctionArn`]).toEqual({ 'Fn::GetAtt': [`${name}Function`, 'Arn'] });
  });

  it('retries every Task with exponential backoff and jitter, and catches everything into RecordFailure', () => {
    for (const [name, state] of Object.entries(states).filter(([, s]) => s.Type === 'Task')) {
      // Reconcile retries a transient error once only: one attempt takes most of the execution's budget (test/autoscaler/retry-budget.test.ts).
      const errors = (state.Retry ?? []).flatMap((r: any) => r.ErrorEquals);
      if (name === 'Reconcile') expect(errors).toEqual(['TransientError', 'ThrottlingException']);
      else expect(errors).toEqual(expect.arrayContaining(['Lambda.TooManyRequestsException', 'Lambda.ServiceException', 'Lambda.SdkClientException', 'TransientError', 'ThrottlingException']));
      for (const retrier of state.Retry ?? []) expect(retrier).toMatchObject({ BackoffRate: 2, JitterStrategy: 'FULL', MaxAttempts: expect.any(Number) });
      expect(state.TimeoutSeconds).toBeGreaterThan(0);
      const target = name === 'RecordFailure' ? 'Failed' : 'RecordFailure';
      expect(state.Catch).toEqual([expect.objectContaining({ ErrorEquals: ['States.ALL'], Next: target })]);
    }
    expect(states.Failed).toMatchObject({ Type: 'Fail', Error: 'AutoScaler.TaskFailed' });
  });

  it('keeps each Task within the function timeout the template gives it', () => {
    for (const [name, state] of Object.entries(states).filter(([, s]) => s.Type === 'Task')) {
      expect(resources[`${name}Function`].Properties!.Timeout).toBeLessThan(state.TimeoutSeconds);
    }
  });
});

describe('AutoScaler/template.yaml', () => {
  it('defines the table as lib/table.ts describes it (on-demand, TTL, PITR, sparse open-jobs index)', () => {
    const [[, table]] = resourcesOfType(template, 'AWS::DynamoDB::Table');
    const p = table.Properties!;
    expect(p.BillingMode).toBe('PAY_PER_REQUEST');
    expect(p.KeySchema).toEqual([{ AttributeName: TABLE_KEY, KeyType: 'HASH' }]);
    expect(p.TimeToLiveSpecification).toEqual({ AttributeName: TTL_ATTRIBUTE, Enabled: true });
    expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(p.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: OPEN_JOBS_INDEX,
        KeySchema: [
          { AttributeName: OPEN_JOBS_HASH, KeyType: 'HASH' },
          { AttributeName: OPEN_JOBS_RANGE, KeyType: 'RANGE' },
        ],
        Projection: OPEN_JOBS_PROJECTION,
      },
    ]);
  });

  it('is an Express state machine defined by the ASL file, logging to its own log group', () => {
    const p = resources.StateMachine.Properties!;
    expect(p.Type).toBe('EXPRESS');
    expect(join(ROOT, 'AutoScaler', p.DefinitionUri)).toBe(ASL_PATH);
    expect(p.Logging.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn).toEqual({ 'Fn::GetAtt': ['StateMachineLogGroup', 'Arn'] });
  });

  it('builds every function the state machine calls from dist/AutoScaler/<name>/ (nodejs22.x, arm64)', () => {
    const functions = resourcesOfType(template, 'AWS::Serverless::Function');
    expect(functions).toHaveLength(TASK_STATES.length);
    for (const [, fn] of functions) {
      expect(fn.Properties!.CodeUri).toMatch(/^\.\.\/dist\/AutoScaler\/[a-z-]+\/$/);
      const dir = (fn.Properties!.CodeUri as string).split('/')[3];
      expect(readFileSync(join(ROOT, 'AutoScaler', 'functions', dir, 'handler.ts'), 'utf8')).toContain('createTaskHandler');
    }
    expect((template.Globals as Record<string, any>).Function).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Handler: 'index.handler' });
  });

  it('starts executions for served workflow_job actions only, and marks the schedule as the reconcile', () => {
    const events = resources.StateMachine.Properties!.Events as Record<string, any>;
    const pattern = resolveIntrinsics(events.WorkflowJob.Properties.Pattern, { ...parameterDefaults(template), ...runnerLabelsImport(template, ['self-hosted', 'linux', 'x64']) }) as EventPattern;
    const envelope = (overrides: Record<string, unknown>) => {
      const e = jobEvent('queued', 1);
      return { ...e, detail: { ...e.detail, ...overrides } };
    };
    for (const action of ['queued', 'in_progress', 'completed']) expect(matchesEventPattern(pattern, envelope({ action }))).toBe(true);
    expect(matchesEventPattern(pattern, envelope({ action: 'waiting' }))).toBe(false);
    expect(matchesEventPattern(pattern, envelope({ labels: ['windows', 'gpu'] }))).toBe(false);
    expect(matchesEventPattern(pattern, envelope({ labels: [] }))).toBe(false);
    expect(matchesEventPattern(pattern, { ...envelope({}), source: 'someone.else' })).toBe(false);
    expect(events.WorkflowJob.Properties.EventBusName).toEqual({ 'Fn::ImportValue': { 'Fn::Sub': '${InfrastructureStackName}-EventBusName' } });
    expect(events.Reconcile).toMatchObject({ Type: 'Schedule', Properties: { Schedule: { 'Fn::Sub': 'rate(${ReconcileMinutes} minutes)' } } });
    expect(JSON.parse(events.Reconcile.Properties.Input)).toEqual({ trigger: 'reconcile' });
    expect(template.Parameters!.ReconcileMinutes.Default).toBe(15);
  });

  it('grants each function only what it calls: no wildcard actions, Resource "*" only for unscoped Describe/log-delivery actions', () => {
    const unscopable = new Set(['autoscaling:DescribeAutoScalingGroups', 'autoscaling:DescribeScalingActivities', 'ec2:DescribeInstances', 'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery', 'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups']);
    const actionsOf = (role: string) =>
      (resources[role].Properties!.Policies as any[]).flatMap((p) => p.PolicyDocument.Statement.filter((s: any) => s.Effect).flatMap((s: any) => [s.Action].flat()));
    for (const [id, role] of resourcesOfType(template, 'AWS::IAM::Role')) {
      for (const policy of role.Properties!.Policies as any[]) {
        for (const statement of policy.PolicyDocument.Statement as any[]) {
          const body = statement['Fn::If'] ? statement['Fn::If'][1] : statement;
          for (const action of [body.Action].flat()) expect(`${id}:${action}`).not.toMatch(/\*/);
          if (body.Resource === '*') for (const action of [body.Action].flat()) expect(unscopable.has(action)).toBe(true);
        }
      }
    }
    expect(actionsOf('DecideRole')).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(actionsOf('ScaleOutRole')).toContain('autoscaling:SetDesiredCapacity');
    expect(actionsOf('ScaleOutRole')).not.toContain('autoscaling:TerminateInstanceInAutoScalingGroup');
    expect(actionsOf('ScaleInRole')).toContain('autoscaling:TerminateInstanceInAutoScalingGroup');
    expect(actionsOf('ScaleInRole')).not.toContain('autoscaling:SetDesiredCapacity');
    // Only the reconcile reads the scaling activities (the boot-failure check).
    expect(actionsOf('ReconcileRole')).toContain('autoscaling:DescribeScalingActivities');
    expect(actionsOf('ObserveRole')).not.toContain('autoscaling:DescribeScalingActivities');
    expect(actionsOf('RecordEventRole')).not.toContain('ssm:GetParameter');
    const scaleStatement = (resources.ScaleInRole.Properties!.Policies as any[])[0].PolicyDocument.Statement.find((s: any) => s.Sid === 'ScaleOwnGroupOnly');
    expect(JSON.stringify(scaleStatement.Resource)).toContain(':autoScalingGroup:*:autoScalingGroupName/${GroupName}');
  });

  it('puts only names in the environment, and the parameter defaults make a valid function config', () => {
    const variables = (template.Globals as Record<string, any>).Function.Environment.Variables as Record<string, unknown>;
    expect(variables.GITHUB_CREDENTIALS_PARAMETER).toEqual({ Ref: 'GitHubCredentialsParameterName' });
    expect(Object.keys(variables).some((k) => /TOKEN|SECRET|KEY$/.test(k))).toBe(false);
    const defaults = Object.fromEntries(Object.entries(template.Parameters!).map(([name, p]) => [name, p.Default]));
    const config = autoScalerConfigSchema.parse({
      TABLE_NAME: 'runner-autoscaler-Table-ABC',
      POOL: defaults.PoolName,
      AUTO_SCALING_GROUP_NAME: 'runner-autoscaler-runners',
      GITHUB_SCOPE: 'org:acme',
      GITHUB_API_URL: defaults.GitHubApiUrl,
      GITHUB_CREDENTIALS_PARAMETER: defaults.GitHubCredentialsParameterName,
      POWERTOOLS_SERVICE_NAME: 'observe',
      RUNNER_LABELS: 'self-hosted,linux,x64', // the Infrastructure export the template imports
    });
    expect(config).toMatchObject({ POOL: 'default', GITHUB_API_URL: undefined, GITHUB_CREDENTIALS_PARAMETER: '/runner-autoscaler/github-credentials', RUNNER_LABELS: ['self-hosted', 'linux', 'x64'] });
  });
});

describeWithTool('cfn-lint', 'AutoScaler/template.yaml passes cfn-lint', (cfnLint) => {
  it('has no errors or warnings', async () => {
    const result = await promisify(execFile)(cfnLint, [templatePath], { timeout: 120000 }).then(
      () => ({ code: 0, output: '' }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 120000);
});
