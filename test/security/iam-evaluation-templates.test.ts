import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toIamRequests, type Environment, type Operation } from '../support/iam-actions';
import { describeVerdict, evaluate } from '../support/iam-evaluate';
import { evaluateInvocation, invocationsOf } from '../support/iam-invocations';
import {
  ACCOUNT,
  describeWithSamTranslator,
  principalsOf,
  REGION,
  transformStack,
  transformTemplate,
} from '../support/iam-templates';

/**
 * What the IAM evaluation reads from templates beyond the three stacks' own roles: roles SAM generates (policy
 * templates expanded by the transform, AWSLambdaBasicExecutionRole) and the resource-based policies that let rules
 * and routes invoke the functions.
 */
const env: Environment = {
  region: REGION,
  account: ACCOUNT,
  groupOfInstance: () => undefined,
  principalContext: () => ({}),
  resourceContext: () => ({}),
};
const op = (service: string, operation: string, params: Record<string, unknown>): Operation => ({
  principal: 'Fn',
  service,
  operation,
  params,
  source: `${service} ${operation}`,
});

describeWithSamTranslator('a role SAM generates for a function without Role', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sam-role-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is evaluated with its expanded policy templates and AWSLambdaBasicExecutionRole', async () => {
    const path = join(dir, 'template.yaml');
    writeFileSync(
      path,
      [
        'Transform: AWS::Serverless-2016-10-31',
        'Resources:',
        '  Fn:',
        '    Type: AWS::Serverless::Function',
        '    Properties: { FunctionName: fn, Runtime: nodejs22.x, Handler: index.handler, CodeUri: ../dist/fn/, Policies: [{ DynamoDBReadPolicy: { TableName: t } }] }',
      ].join('\n'),
    );
    const principals = new Map(
      principalsOf('Small', transformTemplate(path, {}, 'small')).map((p) => [p.name, p]),
    );
    const check = async (operation: Operation) =>
      Promise.all(
        (await toIamRequests(operation, env)).map(
          async (r) => `${r.action} ${(await evaluate(r, principals)).result}`,
        ),
      );
    expect(await check(op('dynamodb', 'GetItem', { TableName: 't' }))).toEqual(['dynamodb:GetItem Allowed']);
    expect(await check(op('dynamodb', 'PutItem', { TableName: 't' }))).toEqual([
      'dynamodb:PutItem ImplicitlyDenied',
    ]);
    expect(await check(op('dynamodb', 'GetItem', { TableName: 'other' }))).toEqual([
      'dynamodb:GetItem ImplicitlyDenied',
    ]);
    const logs = op('logs', 'PutLogEvents', { logGroupName: '/aws/lambda/fn', logStreamName: 's' });
    expect(await check(logs)).toEqual(['logs:PutLogEvents Allowed']);
  });
});

describeWithSamTranslator('functions invoked by rules and routes (resource-based policies)', () => {
  const templates = () =>
    (['Infrastructure', 'AutoScaler', 'Runners'] as const).map((stack) => transformStack(stack));

  it('every rule and HTTP API route that targets a function may invoke it', async () => {
    const invocations = templates().flatMap((t) => invocationsOf(t));
    expect(invocations.map((i) => `${i.principal} ${i.resource.split(':').pop()}`).sort()).toEqual([
      'apigateway.amazonaws.com runner-autoscaler-infrastructure-WebhookFunction-GENERATED001',
      'events.amazonaws.com runner-autoscaler-runners-InterruptionFunction-GENERATED001',
      'events.amazonaws.com runner-autoscaler-runners-JitConfigFunction-GENERATED001',
    ]);
    const verdicts = await Promise.all(invocations.map(evaluateInvocation));
    expect(verdicts.filter((v) => v.result !== 'Allowed').map(describeVerdict)).toEqual([]);
  });

  it('is denied without its permission, or from another rule', async () => {
    const [runners] = templates().slice(2);
    const jit = invocationsOf(runners).find((i) => i.resource.includes('-JitConfigFunction-'))!;
    const withoutPermission = { ...jit, functionPolicy: { ...jit.functionPolicy, Statement: [] } };
    expect((await evaluateInvocation(withoutPermission)).result).toBe('ImplicitlyDenied');
    const otherRule = {
      ...jit,
      context: {
        ...jit.context,
        'aws:SourceArn': `arn:aws:events:${REGION}:${ACCOUNT}:rule/InterruptionRule`,
      },
    };
    expect((await evaluateInvocation(otherRule)).result).toBe('ImplicitlyDenied');
  });
});
