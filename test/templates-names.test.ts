import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTemplate, resolveIntrinsics, type CfnTemplate } from '../lib/cfn-template';

/**
 * Names the templates set explicitly must fit their services' limits for every stack name CloudFormation
 * accepts (up to 128 characters: CloudFormation CreateStack API reference, StackName). A name derived from
 * `${AWS::StackName}` that can pass a limit fails the deployment of a long-named stack, so these names are
 * left to CloudFormation (which generates names that fit) unless the limit is far above 128.
 *
 * Limits, from each service's API reference:
 * - Lambda CreateFunction FunctionName: 64 characters for a plain name;
 * - Step Functions CreateStateMachine name: 1-80;
 * - CloudWatch Logs CreateLogGroup logGroupName: 1-512;
 * - Auto Scaling CreateAutoScalingGroup AutoScalingGroupName: 1-255;
 * - EventBridge PutRule Name: 64; CreateEventBus Name: 256;
 * - IAM CreateRole RoleName: 64; DynamoDB CreateTable TableName: 3-255; SQS CreateQueue QueueName: 80.
 */
const ROOT = join(__dirname, '..');
const STACKS = ['Infrastructure', 'AutoScaler', 'Runners'];
const LONGEST_STACK_NAME = 'a'.repeat(128);

const NAME_LIMITS: Record<string, Record<string, number>> = {
  'AWS::Serverless::Function': { FunctionName: 64 },
  'AWS::Lambda::Function': { FunctionName: 64 },
  'AWS::Serverless::StateMachine': { Name: 80 },
  'AWS::StepFunctions::StateMachine': { StateMachineName: 80 },
  'AWS::Logs::LogGroup': { LogGroupName: 512 },
  'AWS::AutoScaling::AutoScalingGroup': { AutoScalingGroupName: 255 },
  'AWS::Events::Rule': { Name: 64 },
  'AWS::Events::EventBus': { Name: 256 },
  'AWS::IAM::Role': { RoleName: 64 },
  'AWS::DynamoDB::Table': { TableName: 255 },
  'AWS::SQS::Queue': { QueueName: 80 },
};

interface ExplicitName {
  stack: string;
  resource: string;
  property: string;
  value: string;
  limit: number;
}

/** Every explicitly set name, resolved with the longest stack name and the parameters' defaults. */
export function explicitNames(stack: string, template: CfnTemplate, stackName: string): ExplicitName[] {
  const defaults = Object.fromEntries(Object.entries(template.Parameters ?? {}).map(([name, p]) => [name, p.Default ?? '']));
  const names = { ...defaults, 'AWS::StackName': stackName, 'AWS::Region': 'ap-southeast-2', 'AWS::AccountId': '123456789012', 'AWS::Partition': 'aws' };
  const found: ExplicitName[] = [];
  for (const [resource, definition] of Object.entries(template.Resources)) {
    for (const [property, limit] of Object.entries(NAME_LIMITS[definition.Type] ?? {})) {
      const raw = definition.Properties?.[property];
      if (raw === undefined) continue;
      const value = resolveIntrinsics(raw, names);
      found.push({ stack, resource, property, value: typeof value === 'string' ? value : JSON.stringify(value), limit });
    }
  }
  return found;
}

describe('explicit resource names', () => {
  const all = STACKS.flatMap((stack) => explicitNames(stack, loadTemplate(join(ROOT, stack, 'template.yaml')), LONGEST_STACK_NAME));

  it('fit their service limits for a 128-character stack name', () => {
    const tooLong = all.filter((name) => name.value.length > name.limit).map((n) => `${n.stack}/${n.resource}.${n.property}: ${n.value.length} > ${n.limit}`);
    expect(tooLong).toEqual([]);
  });

  it('the check finds a name that is too long', () => {
    const template: CfnTemplate = { Resources: { F: { Type: 'AWS::Serverless::Function', Properties: { FunctionName: { 'Fn::Sub': '${AWS::StackName}-jit-config' } } } } };
    const [name] = explicitNames('T', template, LONGEST_STACK_NAME);
    expect(name.value.length).toBe(139);
    expect(name.value.length).toBeGreaterThan(name.limit);
  });

  it('every function log group is still named after the stack, so operators can find it', () => {
    const logGroups = all.filter((name) => name.property === 'LogGroupName').map((name) => name.value);
    expect(logGroups.length).toBeGreaterThanOrEqual(11);
    for (const group of logGroups) expect(group).toContain(LONGEST_STACK_NAME);
  });
});

describe('Lambda environment', () => {
  // `--enable-source-maps` makes Node read and parse source maps on every stack trace; the bundles carry none
  // (scripts/build.mjs builds with sourcemap: false), so the flag would only cost time.
  const build = readFileSync(join(ROOT, 'scripts/build.mjs'), 'utf8');
  const bundlesHaveSourceMaps = /sourcemap:\s*(true|'inline'|'linked'|'external'|'both')/.test(build);

  it.each(STACKS)('%s sets --enable-source-maps only when the bundles carry source maps', (stack) => {
    const text = readFileSync(join(ROOT, stack, 'template.yaml'), 'utf8');
    if (!bundlesHaveSourceMaps) expect(text).not.toMatch(/--enable-source-maps/);
  });
});
