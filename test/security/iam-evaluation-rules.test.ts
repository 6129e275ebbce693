import { toIamRequests, type Environment, type Operation } from '../support/iam-actions';
import { cliOperation } from '../support/iam-cli';
import { evaluate } from '../support/iam-evaluate';
import {
  ACCOUNT,
  describeWithSamTranslator,
  KMS_KEY_ARN,
  NAMES,
  principalsOf,
  REGION,
  transformStack,
  type Principal,
} from '../support/iam-templates';

/**
 * The pieces of the IAM evaluation on their own: the mapping from requests to
 * IAM actions and ARNs (Service Authorization Reference data), the CLI table of
 * the bootstrap, and the conditions of the instance role, each shown to deny
 * what it must deny, so the evaluation's "0 denials" is not a tautology.
 */
const INSTANCE = 'i-0123456789abcdef0';
const OTHER = 'i-0fedcba9876543210';
const instanceArn = (id: string) => `arn:aws:ec2:${REGION}:${ACCOUNT}:instance/${id}`;
const parameterArn = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:parameter${name}`;

/** `source` null: credentials that are not an instance's (no ec2:SourceInstanceARN). */
function env(tags: Record<string, string> = {}, source: string | null = instanceArn(INSTANCE)): Environment {
  return {
    region: REGION,
    account: ACCOUNT,
    kmsKeyArn: KMS_KEY_ARN,
    groupOfInstance: (id) => (id === INSTANCE ? NAMES.group : undefined),
    principalContext: (principal): Record<string, string> =>
      principal === 'InstanceRole' && source ? { 'ec2:SourceInstanceARN': source } : {},
    resourceContext: (arn): Record<string, string> =>
      arn.includes(':parameter/')
        ? Object.fromEntries(Object.entries(tags).map(([k, v]) => [`ssm:resourceTag/${k}`, v]))
        : {},
  };
}
const op = (
  service: string,
  operation: string,
  params: Record<string, unknown>,
  principal = 'JitConfigFunction',
): Operation => ({ principal, service, operation, params, source: `${service} ${operation}` });

describe('from a request to IAM requests (iam-data)', () => {
  it('BatchGetItem addresses each table it names', async () => {
    const requests = await toIamRequests(
      op('dynamodb', 'BatchGetItem', { RequestItems: { a: {}, b: {} } }),
      env(),
    );
    expect(requests.map((r) => `${r.action} ${r.resource}`)).toEqual([
      `dynamodb:BatchGetItem arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/a`,
      `dynamodb:BatchGetItem arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/b`,
    ]);
  });

  it('a Query on an index is authorized on the index and on the table', async () => {
    const requests = await toIamRequests(
      op('dynamodb', 'Query', { TableName: 't', IndexName: 'open-jobs' }),
      env(),
    );
    expect(requests.map((r) => r.resource).sort()).toEqual([
      `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/t`,
      `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/t/index/open-jobs`,
    ]);
  });

  it('TerminateInstanceInAutoScalingGroup is authorized on the group of the instance it names', async () => {
    const [request] = await toIamRequests(
      op('autoscaling', 'TerminateInstanceInAutoScalingGroup', { InstanceId: INSTANCE }),
      env(),
    );
    expect(request.resource).toMatch(
      new RegExp(
        `^arn:aws:autoscaling:${REGION}:${ACCOUNT}:autoScalingGroup:[0-9a-f-]+:autoScalingGroupName/${NAMES.group}$`,
      ),
    );
  });

  it('a tagged SecureString under a customer key also needs ssm:AddTagsToResource and kms:Encrypt through SSM', async () => {
    const name = `${NAMES.runnerConfigPrefix}/${INSTANCE}`;
    const requests = await toIamRequests(
      op('ssm', 'PutParameter', {
        Name: name,
        Type: 'SecureString',
        KeyId: KMS_KEY_ARN,
        Tags: [{ Key: 'RunnerInstanceArn', Value: 'x' }],
      }),
      env(),
    );
    expect(requests.map((r) => r.action).sort()).toEqual([
      'kms:Encrypt',
      'ssm:AddTagsToResource',
      'ssm:PutParameter',
    ]);
    expect(requests.find((r) => r.action === 'kms:Encrypt')?.context).toEqual({
      'kms:ViaService': `ssm.${REGION}.amazonaws.com`,
      'kms:EncryptionContext:PARAMETER_ARN': parameterArn(name),
    });
  });

  it('an advanced-tier SecureString is encrypted with a data key (kms:GenerateDataKey through SSM)', async () => {
    const name = `${NAMES.runnerConfigPrefix}/${INSTANCE}`;
    const requests = await toIamRequests(
      op('ssm', 'PutParameter', { Name: name, Type: 'SecureString', Tier: 'Advanced', KeyId: KMS_KEY_ARN }),
      env(),
    );
    expect(requests.map((r) => r.action).sort()).toEqual(['kms:GenerateDataKey', 'ssm:PutParameter']);
  });

  it('wildcard-only actions are requested on "*"', async () => {
    const [request] = await toIamRequests(
      op('ec2', 'DescribeInstances', { 'InstanceId.1': INSTANCE }),
      env(),
    );
    expect(request.resource).toBe('*');
  });

  it('an operation that is no IAM action fails instead of being guessed', async () => {
    await expect(toIamRequests(op('ssm', 'GetParameterz', { Name: '/x' }), env())).rejects.toThrow(
      'ssm:GetParameterz is not an IAM action',
    );
  });

  it('a resource type without a filler fails and says where to add it', async () => {
    await expect(toIamRequests(op('sqs', 'SendMessage', { QueueUrl: 'q' }), env())).rejects.toThrow(
      /no filler for resource type sqs:queue of sqs:SendMessage — add it to FILLERS/,
    );
  });
});

describe("the bootstrap's aws calls", () => {
  it('an aws call the table does not know fails by name', () => {
    expect(() =>
      cliOperation('InstanceRole', ['logs', 'describe-log-streams', '--log-group-name', 'g']),
    ).toThrow(
      'unmapped aws call: logs describe-log-streams — add it to the table in test/support/iam-cli.ts',
    );
  });

  it.each(['create-log-stream', 'put-log-events'])(
    'logs %s is authorized on the log stream it writes',
    async (command) => {
      const operation = cliOperation('InstanceRole', [
        'logs',
        command,
        '--log-group-name',
        '/runner-autoscaler/boot',
        '--log-stream-name',
        INSTANCE,
        '--log-events',
        'file:///tmp/e.json',
      ]);
      const [request] = await toIamRequests(operation, env());
      expect(request.resource).toBe(
        `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:/runner-autoscaler/boot:log-stream:${INSTANCE}`,
      );
    },
  );

  it('ssm get-parameter --with-decryption is GetParameter plus the KMS Decrypt SSM makes', async () => {
    const name = `${NAMES.runnerConfigPrefix}/${INSTANCE}`;
    const operation = cliOperation('InstanceRole', [
      'ssm',
      'get-parameter',
      '--name',
      name,
      '--with-decryption',
      '--query',
      'Parameter.Value',
      '--output',
      'text',
    ]);
    expect(operation.params).toEqual({ Name: name, WithDecryption: true });
    expect((await toIamRequests(operation, env())).map((r) => r.action)).toEqual([
      'ssm:GetParameter',
      'kms:Decrypt',
    ]);
  });
});

describeWithSamTranslator("the instance role's conditions, evaluated", () => {
  let principals: Map<string, Principal>;
  beforeAll(() => {
    principals = new Map(principalsOf('Runners', transformStack('Runners')).map((p) => [p.name, p]));
  });
  const own = `${NAMES.runnerConfigPrefix}/${INSTANCE}`;
  const results = async (operation: Operation, environment: Environment) =>
    Promise.all(
      (await toIamRequests(operation, environment)).map(
        async (r) => `${r.action} ${(await evaluate(r, principals)).result}`,
      ),
    );
  const getOwn = (name = own) =>
    cliOperation('InstanceRole', ['ssm', 'get-parameter', '--name', name, '--with-decryption']);

  it('reads its own runner config (the tag jit-config wrote names this instance)', async () => {
    expect(await results(getOwn(), env({ RunnerInstanceArn: instanceArn(INSTANCE) }))).toEqual([
      'ssm:GetParameter Allowed',
      'kms:Decrypt Allowed',
    ]);
  });

  it("cannot read another instance's config", async () => {
    expect(
      await results(
        getOwn(`${NAMES.runnerConfigPrefix}/${OTHER}`),
        env({ RunnerInstanceArn: instanceArn(OTHER) }),
      ),
    ).toEqual(['ssm:GetParameter ImplicitlyDenied', 'kms:Decrypt Allowed']);
  });

  it('cannot read a config without the tag, nor with credentials that are not an instance’s', async () => {
    expect((await results(getOwn(), env({})))[0]).toBe('ssm:GetParameter ImplicitlyDenied');
    expect((await results(getOwn(), env({ RunnerInstanceArn: instanceArn(INSTANCE) }, null)))[0]).toBe(
      'ssm:GetParameter ImplicitlyDenied',
    );
  });

  it('cannot have SSM decrypt a parameter outside the runner config prefix with the key', async () => {
    expect(
      await results(getOwn(NAMES.credentials), env({ RunnerInstanceArn: instanceArn(INSTANCE) })),
    ).toEqual(['ssm:GetParameter ImplicitlyDenied', 'kms:Decrypt ImplicitlyDenied']);
  });

  it('cannot use the key directly, outside SSM', async () => {
    const direct = op(
      'kms',
      'Decrypt',
      { KeyId: KMS_KEY_ARN, context: { 'kms:EncryptionContext:PARAMETER_ARN': parameterArn(own) } },
      'InstanceRole',
    );
    expect(await results(direct, env())).toEqual(['kms:Decrypt ImplicitlyDenied']);
  });
});

describeWithSamTranslator('the evaluator refuses requests it would not evaluate as sent', () => {
  it('a context key IAM does not use for the action is an error, not a silent allow or deny', async () => {
    const principals = new Map(principalsOf('Runners', transformStack('Runners')).map((p) => [p.name, p]));
    const [request] = await toIamRequests(op('ssm', 'GetParameter', { Name: NAMES.credentials }), env());
    const verdict = await evaluate({ ...request, context: { 'ssm:NoSuchKey': 'x' } }, principals);
    expect(verdict).toMatchObject({
      result: 'Error',
      detail: expect.stringContaining('context keys not evaluated for ssm:GetParameter: ssm:NoSuchKey'),
    });
  });
});
