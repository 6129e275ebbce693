import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { IamRequest } from './iam-actions';
import { ACCOUNT, type PolicyDocument, type Principal } from './iam-templates';

/**
 * Evaluates IAM requests against the principals' identity policies with
 * @cloud-copilot/iam-simulate, a real policy evaluator (every condition
 * operator, policy variables, explicit and implicit deny). Same-account
 * requests with no resource policy: the identity policy alone decides, as IAM
 * does for DynamoDB tables, SSM parameters, Auto Scaling groups, log groups
 * and event buses without resource policies. KMS is the exception: a key
 * policy must allow too. The templates take the key as a parameter, so the
 * key is evaluated with the default key policy, which lets the account's IAM
 * policies decide (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
 */
const DEFAULT_KEY_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Enable IAM User Permissions',
      Effect: 'Allow',
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: 'kms:*',
      Resource: '*',
    },
  ],
};

export interface Verdict {
  request: IamRequest;
  result: 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied' | 'Error';
  detail?: string;
  /** The identity statements (by Sid, or position without one) that allowed it. */
  allowedBy?: string[];
}

/**
 * iam-simulate 0.1.x drops request context keys whose variable part follows a
 * ':' (it matches "aws:PrincipalTag/x"-style keys only), so
 * kms:EncryptionContext:PARAMETER_ARN, which Parameter Store sends to KMS and
 * which kms:Decrypt lists among its condition keys, would be ignored and every
 * statement conditioned on it would look denied. Such a key is renamed, in the
 * policies' conditions and in the request alike, to a '/'-style key the
 * evaluator accepts for the action; the operators and values are untouched.
 */
const ALIASES: Array<[RegExp, (name: string) => string]> = [
  [/^kms:EncryptionContext:(.+)$/i, (name) => `aws:ResourceTag/kms-encryption-context-${name}`],
];
const alias = (key: string) => {
  for (const [pattern, rename] of ALIASES) {
    const match = pattern.exec(key);
    if (match) return rename(match[1]);
  }
  return key;
};
function aliasPolicy(policy: PolicyDocument): PolicyDocument {
  return {
    ...policy,
    Statement: policy.Statement.map((statement) =>
      statement.Condition
        ? {
            ...statement,
            Condition: Object.fromEntries(
              Object.entries(statement.Condition as Record<string, Record<string, unknown>>).map(
                ([op, block]) => [
                  op,
                  Object.fromEntries(Object.entries(block).map(([k, v]) => [alias(k), v])),
                ],
              ),
            ),
          }
        : statement,
    ),
  };
}

export async function evaluate(request: IamRequest, principals: Map<string, Principal>): Promise<Verdict> {
  const principal = principals.get(request.principal);
  if (!principal)
    return {
      request,
      result: 'Error',
      detail: `no role for principal ${request.principal} in the templates`,
    };
  const response = await runSimulation(
    {
      identityPolicies: principal.policies.map(({ name, policy }) => ({
        name,
        policy: aliasPolicy(policy) as any,
      })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(request.action.startsWith('kms:') ? { resourcePolicy: DEFAULT_KEY_POLICY } : {}),
      request: {
        action: request.action,
        principal: principal.roleArn,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables: Object.fromEntries(Object.entries(request.context).map(([k, v]) => [alias(k), v])),
      },
    },
    {},
  );
  if (response.resultType === 'error')
    return { request, result: 'Error', detail: JSON.stringify(response.errors) };
  // A context key the evaluator did not take would make the verdict about another request than the one sent.
  const ignored = response.resultType === 'single' ? (response.result.ignoredContextKeys ?? []) : [];
  if (ignored.length)
    return {
      request,
      result: 'Error',
      detail: `context keys not evaluated for ${request.action}: ${ignored.join(', ')}`,
    };
  const allows =
    response.resultType === 'single'
      ? (response.result.analysis.identityAnalysis?.allowStatements ?? [])
      : [];
  return {
    request,
    result: response.overallResult as Verdict['result'],
    allowedBy: allows.map((a) => a.explain.identifier),
  };
}

export function describeVerdict(v: Verdict): string {
  return `${v.result}: ${v.request.principal} ${v.request.action} on ${v.request.resource} (from ${v.request.source}${Object.keys(v.request.context).length ? `; context ${JSON.stringify(v.request.context)}` : ''})${v.detail ? ` — ${v.detail}` : ''}`;
}

/** Distinct (principal, action, resource) triples: what the test counts and prints. */
export function distinct(requests: IamRequest[]): IamRequest[] {
  const seen = new Map<string, IamRequest>();
  for (const r of requests)
    seen.set(`${r.principal}|${r.action}|${r.resource}|${JSON.stringify(r.context)}`, r);
  return [...seen.values()];
}
