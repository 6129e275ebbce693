import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { IamRequest } from './iam-actions';
import type { Verdict } from './iam-evaluate';
import { ACCOUNT, REGION, type Transformed } from './iam-templates';

/**
 * How the functions the scenarios ran are invoked in AWS: by EventBridge rules
 * (jit-config, interruption) and by the HTTP API (webhook), each a service
 * principal allowed only by the function's resource-based policy, which
 * CloudFormation builds from the AWS::Lambda::Permission resources (Lambda
 * AddPermission: Principal, Action, SourceArn as aws:SourceArn, SourceAccount
 * as aws:SourceAccount). A rule or route without a matching permission is a
 * function that is never invoked.
 */
export interface Invocation extends IamRequest {
  /** The function's resource-based policy, as the template's permissions make it. */
  functionPolicy: { Version: string; Statement: Array<Record<string, unknown>> };
}

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;
const functionArn = (nameOrArn: string) =>
  nameOrArn.startsWith('arn:') ? nameOrArn : `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${nameOrArn}`;

function functionPolicy(resources: Resources, arn: string): Invocation['functionPolicy'] {
  const statements = Object.values(resources)
    .filter(
      (r) => r.Type === 'AWS::Lambda::Permission' && functionArn(String(r.Properties.FunctionName)) === arn,
    )
    .map(({ Properties: p }) => ({
      Effect: 'Allow',
      Principal: { Service: p.Principal },
      Action: p.Action,
      Resource: arn,
      ...(p.SourceArn || p.SourceAccount
        ? {
            Condition: {
              ...(p.SourceArn ? { ArnLike: { 'aws:SourceArn': p.SourceArn } } : {}),
              ...(p.SourceAccount ? { StringEquals: { 'aws:SourceAccount': p.SourceAccount } } : {}),
            },
          }
        : {}),
    }));
  return { Version: '2012-10-17', Statement: statements };
}

/** Every invocation of a function by a rule or an API route of a transformed template. */
export function invocationsOf(template: Transformed): Invocation[] {
  const resources = template.Resources as Resources;
  const out: Invocation[] = [];
  const push = (principal: string, target: string, sourceArn: string, source: string) => {
    out.push({
      principal,
      action: 'lambda:InvokeFunction',
      resource: target,
      context: { 'aws:SourceArn': sourceArn, 'aws:SourceAccount': ACCOUNT },
      source,
      functionPolicy: functionPolicy(resources, target),
    });
  };
  for (const [logical, resource] of Object.entries(resources)) {
    if (resource.Type === 'AWS::Events::Rule') {
      // A rule on the default bus; its Ref is the name the resolver gave it (the logical id when unnamed).
      const ruleArn = `arn:aws:events:${REGION}:${ACCOUNT}:rule/${resource.Properties.Name ?? logical}`;
      for (const target of resource.Properties.Targets ?? []) {
        if (!target.RoleArn && String(target.Arn).startsWith('arn:aws:lambda:'))
          push('events.amazonaws.com', target.Arn, ruleArn, `EventBridge rule ${logical}`);
      }
    }
    if (resource.Type === 'AWS::ApiGatewayV2::Api') {
      // HTTP API routes as SAM writes them: OpenAPI paths whose integration URI names the function.
      for (const [path, methods] of Object.entries<Record<string, any>>(
        resource.Properties.Body?.paths ?? {},
      )) {
        for (const [method, operation] of Object.entries<Record<string, any>>(methods)) {
          const uri = String(operation['x-amazon-apigateway-integration']?.uri ?? '');
          const match = /functions\/(arn:aws:lambda:[^/]+)\/invocations$/.exec(uri);
          if (match)
            push(
              'apigateway.amazonaws.com',
              match[1],
              `arn:aws:execute-api:${REGION}:${ACCOUNT}:${logical}/$default/${method.toUpperCase()}${path}`,
              `HTTP API ${method.toUpperCase()} ${path}`,
            );
        }
      }
    }
  }
  return out;
}

export async function evaluateInvocation(invocation: Invocation): Promise<Verdict> {
  const response = await runSimulation(
    {
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: invocation.functionPolicy as any,
      request: {
        action: invocation.action,
        principal: invocation.principal,
        resource: { resource: invocation.resource, accountId: ACCOUNT },
        contextVariables: invocation.context,
      },
    },
    {},
  );
  if (response.resultType === 'error')
    return { request: invocation, result: 'Error', detail: JSON.stringify(response.errors) };
  return { request: invocation, result: response.overallResult as Verdict['result'] };
}
