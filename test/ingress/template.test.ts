import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadTemplate, resourcesOfType } from '../../lib/cfn-template';
import { webhookConfigSchema } from '../../Infrastructure/src/config';
import { loadConfig } from '../../lib/config';
import { describeWithTool } from '../support/tools';

const templatePath = join(__dirname, '..', '..', 'Infrastructure', 'template.yaml');
const template = loadTemplate(templatePath);

describeWithTool('cfn-lint', 'Infrastructure/template.yaml passes cfn-lint', (cfnLint) => {
  it('has no errors or warnings', async () => {
    const result = await promisify(execFile)(cfnLint, [templatePath], { timeout: 60000 }).then(
      () => ({ code: 0, output: '' }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, output: error.stdout + error.stderr }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 60000);
});

describe('Infrastructure/template.yaml', () => {
  const [[functionId, webhook]] = resourcesOfType(template, 'AWS::Serverless::Function');
  const props = webhook.Properties!;

  it('defines the webhook function as the build lays it out (runtime, architecture, short timeout)', () => {
    expect(resourcesOfType(template, 'AWS::Serverless::Function')).toHaveLength(1);
    expect(functionId).toBe('WebhookFunction');
    expect(props).toMatchObject({
      CodeUri: '../dist/Infrastructure/webhook/',
      Handler: 'index.handler',
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
    });
    expect(props.Timeout).toBeLessThanOrEqual(5);
    expect(props.MemorySize).toBeLessThanOrEqual(256);
  });

  it('routes only POST /webhook of the HTTP API to it, with payload format 2.0', () => {
    const events = Object.values(props.Events as Record<string, { Type: string; Properties: Record<string, unknown> }>);
    expect(events).toEqual([
      expect.objectContaining({ Type: 'HttpApi', Properties: expect.objectContaining({ Method: 'POST', Path: '/webhook', PayloadFormatVersion: '2.0' }) }),
    ]);
    expect(resourcesOfType(template, 'AWS::Serverless::HttpApi')).toHaveLength(1);
  });

  it('puts only parameter names in the environment, and that environment satisfies the function config schema', () => {
    const variables = props.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(variables).sort()).toEqual(
      ['EVENT_BUS_NAME', 'POWERTOOLS_LOG_LEVEL', 'POWERTOOLS_SERVICE_NAME', 'RUNNER_LABELS', 'WEBHOOK_SECRET_PARAMETER', 'WEBHOOK_SECRET_PREVIOUS_PARAMETER'],
    );
    expect(variables.WEBHOOK_SECRET_PARAMETER).toEqual({ Ref: 'WebhookSecretParameterName' });
    expect(JSON.stringify(variables)).not.toMatch(/secret"\s*:\s*"[^/]/i);
    // The parameter defaults, substituted as CloudFormation would, make a valid config.
    const defaults = Object.fromEntries(Object.entries(template.Parameters!).map(([name, p]) => [name, p.Default]));
    const config = loadConfig(webhookConfigSchema, {
      EVENT_BUS_NAME: String(defaults.EventBusName),
      WEBHOOK_SECRET_PARAMETER: String(defaults.WebhookSecretParameterName),
      WEBHOOK_SECRET_PREVIOUS_PARAMETER: String(defaults.WebhookSecretPreviousParameterName),
      RUNNER_LABELS: String(defaults.RunnerLabels),
      POWERTOOLS_SERVICE_NAME: 'webhook',
    });
    expect(config).toEqual({
      EVENT_BUS_NAME: 'runner-autoscaler',
      WEBHOOK_SECRET_PARAMETER: '/runner-autoscaler/webhook-secret',
      WEBHOOK_SECRET_PREVIOUS_PARAMETER: undefined,
      RUNNER_LABELS: ['self-hosted', 'linux', 'x64'],
      POWERTOOLS_SERVICE_NAME: 'webhook',
    });
  });

  it('grants least privilege: named resources only, no wildcard actions, KMS only through SSM', () => {
    const role = template.Resources.WebhookRole.Properties!;
    expect(props.Role).toEqual({ 'Fn::GetAtt': ['WebhookRole', 'Arn'] });
    expect(props.Policies).toBeUndefined();
    expect(role.ManagedPolicyArns).toBeUndefined();
    const statements = role.Policies.flatMap((policy: any) => policy.PolicyDocument.Statement).map((statement: any) =>
      statement['Fn::If'] ? statement['Fn::If'][1] : statement,
    );
    const text = JSON.stringify(statements);
    expect(text).not.toMatch(/"\*"/);
    expect(text).not.toMatch(/"[a-z0-9-]+:\*"/);
    const byAction = Object.fromEntries(statements.map((statement: any) => [[statement.Action].flat().join(','), statement]));
    expect(byAction['events:PutEvents'].Resource).toEqual({ 'Fn::GetAtt': ['EventBus', 'Arn'] });
    expect(JSON.stringify(byAction['ssm:GetParameter'].Resource)).toContain('parameter${WebhookSecretParameterName}');
    expect(JSON.stringify(byAction['ssm:GetParameter'].Resource)).toContain('parameter${WebhookSecretPreviousParameterName}');
    expect(byAction['kms:Decrypt']).toMatchObject({
      Resource: { Ref: 'KmsKeyArn' },
      Condition: { StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' } } },
    });
    expect(byAction['logs:CreateLogStream,logs:PutLogEvents'].Resource).toEqual({ 'Fn::GetAtt': ['WebhookLogGroup', 'Arn'] });
    expect(Object.keys(byAction).sort()).toEqual(['events:PutEvents', 'kms:Decrypt', 'logs:CreateLogStream,logs:PutLogEvents', 'ssm:GetParameter']);
  });

  it('exports what the other stacks import, under ${AWS::StackName}-<Name>', () => {
    const outputs = template.Outputs as Record<string, { Export?: { Name: unknown } }>;
    for (const name of ['EventBusName', 'EventBusArn', 'WebhookUrl', 'ApiUrl', 'GitHubCredentialsParameterName', 'WebhookSecretParameterName', 'KmsKeyArn', 'RunnerLabels']) {
      expect(outputs[name]?.Export).toEqual({ Name: { 'Fn::Sub': `\${AWS::StackName}-${name}` } });
    }
    expect(template.Parameters!.GitHubCredentialsParameterName.Default).toBe('/runner-autoscaler/github-credentials');
    expect(template.Parameters!.RunnerLabels).toMatchObject({ Type: 'CommaDelimitedList', Default: 'self-hosted,linux,x64' });
  });

  it('creates the secret parameters nowhere: they are names, set by the operator out of band', () => {
    expect(resourcesOfType(template, 'AWS::SSM::Parameter')).toHaveLength(0);
    for (const resource of Object.values(template.Resources)) expect(resource.Type).not.toMatch(/SecretsManager/);
  });
});

describe('webhook function config', () => {
  it('refuses a bad environment listing every problem, and never asks for a secret value', () => {
    expect(() =>
      loadConfig(webhookConfigSchema, { WEBHOOK_SECRET_PARAMETER: 'webhook-secret', WEBHOOK_SECRET_PREVIOUS_PARAMETER: 'x', RUNNER_LABELS: ' , ' }),
    ).toThrow(/EVENT_BUS_NAME.*WEBHOOK_SECRET_PARAMETER: must be an SSM parameter name.*WEBHOOK_SECRET_PREVIOUS_PARAMETER.*RUNNER_LABELS: at least one label/);
    expect(Object.keys(webhookConfigSchema.shape).filter((key) => /SECRET/.test(key) && !/_PARAMETER$/.test(key))).toEqual([]);
  });
});
