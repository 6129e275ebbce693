import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/**
 * The three templates as CloudFormation deploys them: transformed by the real
 * aws-sam-translator (test/support/sam-transform.py), parameters, conditions,
 * pseudo parameters and the other stacks' exports resolved. Evaluated with a
 * customer managed KMS key and a settings table so that every conditional
 * statement is present (the configuration with the most to check).
 */
const ROOT = join(__dirname, '..', '..');
export const REGION = 'us-east-1';
export const ACCOUNT = '123456789012';
export const KMS_KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
export const STACKS = {
  Infrastructure: 'runner-autoscaler-infrastructure',
  AutoScaler: 'runner-autoscaler-autoscaler',
  Runners: 'runner-autoscaler-runners',
} as const;
export type StackName = keyof typeof STACKS;

export const NAMES = {
  webhookSecret: '/runner-autoscaler/webhook-secret',
  webhookSecretPrevious: '/runner-autoscaler/webhook-secret-previous',
  credentials: '/runner-autoscaler/github-credentials',
  runnerConfigPrefix: '/runner-autoscaler/runners',
  eventBus: 'runner-autoscaler',
  group: STACKS.Runners,
  table: 'runner-autoscaler-table',
  pool: 'default',
  labels: 'self-hosted,linux,x64',
};

const PARAMETERS: Record<StackName, Record<string, string>> = {
  Infrastructure: { KmsKeyArn: KMS_KEY_ARN, WebhookSecretPreviousParameterName: NAMES.webhookSecretPrevious },
  AutoScaler: { GitHubScope: 'org:acme', KmsKeyArn: KMS_KEY_ARN },
  Runners: {
    GitHubScope: 'org:acme',
    VpcId: 'vpc-0123456789abcdef0',
    SubnetIds: 'subnet-0123456789abcdef0',
    KmsKeyArn: KMS_KEY_ARN,
  },
};

const EXPORTS = {
  [`${STACKS.Infrastructure}-EventBusName`]: NAMES.eventBus,
  [`${STACKS.Infrastructure}-GitHubCredentialsParameterName`]: NAMES.credentials,
  [`${STACKS.Infrastructure}-RunnerLabels`]: NAMES.labels,
  [`${STACKS.Runners}-AutoScalingGroupName`]: NAMES.group,
};

/**
 * AWS managed policies a role of these templates may carry, with their documents as AWS publishes them. SAM attaches
 * AWSLambdaBasicExecutionRole to the role it generates for a function without `Role`
 * (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSLambdaBasicExecutionRole.html).
 */
const MANAGED_POLICIES: Record<string, PolicyDocument> = {
  'service-role/AWSLambdaBasicExecutionRole': {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: '*',
      },
    ],
  },
};

export interface PolicyDocument {
  Version?: string;
  Statement: Array<Record<string, any>>;
}

/** One principal the evaluation knows: a function's execution role, or the runner instance role. */
export interface Principal {
  /** The function's logical id (e.g. JitConfigFunction), or the role's for the instance (InstanceRole). */
  name: string;
  stack: StackName | string;
  roleLogicalId: string;
  roleArn: string;
  policies: Array<{ name: string; policy: PolicyDocument }>;
  /** Where the Lambda runtime writes the function's logs with its role (absent for the instance). */
  logGroupName?: string;
}

export type Transformed = Record<string, any>;

/** `dropStatements`: [role, Sid] pairs removed from the template as written, before the transform. */
export function transformStack(stack: StackName, dropStatements: Array<[string, string]> = []): Transformed {
  return transformTemplate(
    join(ROOT, stack, 'template.yaml'),
    PARAMETERS[stack],
    STACKS[stack],
    dropStatements,
  );
}

/** Any SAM template, transformed and resolved as the three stacks are (the rule tests use small ones). */
export function transformTemplate(
  path: string,
  parameters: Record<string, string>,
  stackName: string,
  dropStatements: Array<[string, string]> = [],
): Transformed {
  const options = {
    dropStatements,
    parameters,
    exports: EXPORTS,
    physicalIds: { Table: NAMES.table },
    region: REGION,
    account: ACCOUNT,
    stackName,
  };
  const out = execFileSync('python3', [join(__dirname, 'sam-transform.py'), path, JSON.stringify(options)], {
    encoding: 'utf8',
    maxBuffer: 32 * 1024 * 1024,
  });
  const template = JSON.parse(out) as Transformed;
  const unresolved = JSON.stringify(template.Resources).match(/"Unresolved":\{[^}]*\}/g);
  if (unresolved) throw new Error(`${path}: unresolved after the transform: ${unresolved.join(', ')}`);
  return template;
}

/** Every role of a transformed template that a function or the instance profile uses. */
export function principalsOf(stack: StackName | string, template: Transformed): Principal[] {
  const resources = template.Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
  const principal = (name: string, roleLogicalId: string, logGroupName?: string): Principal => {
    const role = resources[roleLogicalId];
    if (role?.Type !== 'AWS::IAM::Role')
      throw new Error(`${stack}: ${name} uses ${roleLogicalId}, which is not a role of the template`);
    const managed = (role.Properties.ManagedPolicyArns ?? []).map((arn: string) => {
      const document = MANAGED_POLICIES[String(arn).replace(/^arn:aws[a-z-]*:iam::aws:policy\//, '')];
      if (!document)
        throw new Error(
          `${stack}: ${roleLogicalId} has the managed policy ${arn}; add its document to MANAGED_POLICIES in test/support/iam-templates.ts`,
        );
      return { name: String(arn), policy: document };
    });
    return {
      name,
      stack,
      roleLogicalId,
      roleArn: `arn:aws:iam::${ACCOUNT}:role/${roleLogicalId}`,
      policies: [
        ...(role.Properties.Policies ?? []).map(
          (p: { PolicyName: string; PolicyDocument: PolicyDocument }) => ({
            name: p.PolicyName,
            policy: p.PolicyDocument,
          }),
        ),
        ...managed,
      ],
      logGroupName,
    };
  };
  const roleName = (arn: unknown) => String(arn).slice(String(arn).lastIndexOf('/') + 1);
  const out: Principal[] = [];
  for (const [logical, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::Lambda::Function') {
      const roleLogicalId = roleName(resource.Properties.Role);
      // Without LoggingConfig.LogGroup, Lambda writes to /aws/lambda/<function name>.
      out.push(
        principal(
          logical,
          roleLogicalId,
          resource.Properties.LoggingConfig?.LogGroup ?? `/aws/lambda/${resource.Properties.FunctionName}`,
        ),
      );
    }
    // Step Functions invokes the Task states' functions with the state machine's role; EventBridge starts it with each rule target's.
    if (resource.Type === 'AWS::StepFunctions::StateMachine')
      out.push(principal(logical, roleName(resource.Properties.RoleArn)));
    if (resource.Type === 'AWS::Events::Rule') {
      for (const target of resource.Properties.Targets ?? [])
        if (target.RoleArn) out.push(principal(logical, roleName(target.RoleArn)));
    }
    if (resource.Type === 'AWS::IAM::InstanceProfile') {
      for (const role of resource.Properties.Roles) out.push(principal(String(role), String(role)));
    }
  }
  return out;
}

let cache: Record<StackName, Transformed> | undefined;
export function transformAll(): Record<StackName, Transformed> {
  return (cache ??= {
    Infrastructure: transformStack('Infrastructure'),
    AutoScaler: transformStack('AutoScaler'),
    Runners: transformStack('Runners'),
  });
}

/** Why the real SAM transform cannot run here, or undefined when python3 has aws-sam-translator. */
export function samTranslatorMissing(): string | undefined {
  try {
    execFileSync('python3', ['-c', 'import samtranslator'], { stdio: 'ignore', timeout: 20_000 });
    return undefined;
  } catch {
    return 'python3 with aws-sam-translator is not installed (pip install aws-sam-translator; it is on CI machines)';
  }
}

/** `describe` that skips, saying why, without the SAM translator. */
export function describeWithSamTranslator(title: string, body: () => void): void {
  const missing = samTranslatorMissing();
  if (!missing) return describe(title, body);
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED "${title}": ${missing}`);
  describe.skip(`${title} [skipped: ${missing}]`, () => it('needs aws-sam-translator', () => undefined));
}
