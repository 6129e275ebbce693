import {
  checkGroupPolicy,
  checkLabelsMatchRule,
  checkSettings,
  checkSsmParameters,
  checkStackOutputs,
  checkStacksExist,
  checkWebhookDeliveries,
  instanceTypeCount,
  runChecks,
  type DoctorFacts,
  type GroupFact,
  type StackFact,
} from '../../cli/checks';
import { renderChecks } from '../../cli/commands/doctor';
import { EVENT_SOURCE } from '../../lib/events';
import { DEFAULT_SETTINGS } from '../../lib/settings';
import { memoryOutput } from '../../cli/output';

function stack(name: string, outputs: Record<string, string>, parameters: Record<string, string> = {}, status = 'CREATE_COMPLETE'): StackFact {
  return { name, exists: true, status, outputs, parameters };
}

const rulePattern = {
  source: [EVENT_SOURCE],
  'detail-type': ['workflow_job'],
  detail: { action: ['queued', 'in_progress', 'completed'], labels: ['self-hosted'] },
};

function healthy(): DoctorFacts {
  return {
    mode: 'aws',
    stackPrefix: 'runner-autoscaler',
    stacks: {
      ok: true,
      value: {
        infrastructure: stack('runner-autoscaler-infrastructure', {
          EventBusName: 'runner-autoscaler',
          WebhookUrl: 'https://abc.execute-api.us-east-1.amazonaws.com/webhook',
          WebhookSecretParameterName: '/runner-autoscaler/webhook-secret',
          GitHubCredentialsParameterName: '/runner-autoscaler/github-credentials',
        }),
        autoScaler: stack('runner-autoscaler-autoscaler', { TableName: 'ra-table' }, { EventBusName: 'runner-autoscaler', AutoScalingGroupName: 'ra-group' }),
        runners: stack('runner-autoscaler-runners', { AutoScalingGroupName: 'ra-group' }, { Floor: '1' }),
      },
    },
    ssm: {
      ok: true,
      value: [
        { name: '/runner-autoscaler/webhook-secret', purpose: 'webhook secret', exists: true, type: 'SecureString' },
        { name: '/runner-autoscaler/github-credentials', purpose: 'GitHub credentials', exists: true, type: 'SecureString' },
      ],
    },
    deliveries: { ok: true, value: { hook: 'hook 1', recent: [{ id: 2, statusCode: 202 }, { id: 1, statusCode: 200 }] } },
    group: {
      ok: true,
      value: {
        name: 'ra-group',
        minSize: 1,
        maxSize: 10,
        desired: 1,
        mixedInstancesPolicy: { onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 0, spotAllocationStrategy: 'price-capacity-optimized', instanceTypes: 3 },
        newInstancesProtectedFromScaleIn: true,
        unprotectedInstances: [],
      },
    },
    settings: { ok: true, value: { exists: true, settings: DEFAULT_SETTINGS, problems: [] } },
    rules: { ok: true, value: { source: 'EventBridge bus runner-autoscaler', rules: [{ name: 'workflow-job', pattern: rulePattern }], labels: ['self-hosted', 'linux', 'x64'] } },
  };
}

function withGroup(patch: Partial<GroupFact>): DoctorFacts {
  const facts = healthy();
  facts.group = { ok: true, value: { ...(facts.group as { ok: true; value: GroupFact }).value, ...patch } };
  return facts;
}

describe('doctor checks (pure, over gathered facts)', () => {
  it('a healthy deployment passes every check', () => {
    const results = runChecks(healthy());
    expect(results.filter((r) => r.status !== 'PASS')).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(9);
  });

  it('fails a missing or rolled-back stack, with the deploy command as the fix', () => {
    const facts = healthy();
    const stacks = (facts.stacks as { ok: true; value: Record<string, StackFact> }).value;
    stacks.runners = { name: 'runner-autoscaler-runners', exists: false, outputs: {}, parameters: {} };
    stacks.autoScaler.status = 'UPDATE_ROLLBACK_COMPLETE';
    const results = checkStacksExist(facts);
    expect(results.map((r) => r.status)).toEqual(['PASS', 'FAIL', 'FAIL']);
    expect(results[2].fix).toMatch(/sam deploy --template-file Runners\/template.yaml --stack-name runner-autoscaler-runners/);
    expect(results[1].message).toMatch(/UPDATE_ROLLBACK_COMPLETE/);
    expect(checkStackOutputs(facts)[0].status).toBe('WARN');
  });

  it('fails when a consumer stack was deployed against another bus or group than the producers export', () => {
    const facts = healthy();
    const stacks = (facts.stacks as { ok: true; value: Record<string, StackFact> }).value;
    stacks.autoScaler.parameters.EventBusName = 'old-bus';
    delete stacks.infrastructure.outputs.WebhookUrl;
    const [result] = checkStackOutputs(facts);
    expect(result.status).toBe('FAIL');
    expect(result.message).toMatch(/runner-autoscaler-autoscaler parameter EventBusName=old-bus but runner-autoscaler-infrastructure output EventBusName=runner-autoscaler/);
    expect(result.message).toMatch(/has no output WebhookUrl/);
  });

  it('fails when the AutoScaler imports from other stacks than the ones deployed, or the stacks serve different pools', () => {
    const facts = healthy();
    const stacks = (facts.stacks as { ok: true; value: Record<string, StackFact> }).value;
    stacks.autoScaler.parameters.InfrastructureStackName = 'runner-autoscaler-infrastructure';
    stacks.autoScaler.parameters.RunnersStackName = 'old-runners';
    stacks.autoScaler.outputs.PoolName = 'default';
    stacks.runners.outputs.PoolName = 'arm';
    const [result] = checkStackOutputs(facts);
    expect(result.status).toBe('FAIL');
    expect(result.message).toMatch(/parameter RunnersStackName=old-runners, so it imports from old-runners, not runner-autoscaler-runners/);
    expect(result.message).not.toMatch(/InfrastructureStackName/);
    expect(result.message).toMatch(/the stacks serve different pools/);
  });

  it('counts instance types from explicit overrides and attribute-based AllowedInstanceTypes', () => {
    expect(instanceTypeCount([{ InstanceType: 'm7i.large' }, { InstanceType: 'm6i.large' }])).toBe(2);
    expect(instanceTypeCount([{ InstanceRequirements: { AllowedInstanceTypes: ['m7i.large', 'm6a.large', 'c7i.large'] } }])).toBe(3);
    expect(instanceTypeCount(undefined)).toBe(0);
  });

  it('judges a group read from the template by its structure, not by the settings sizes', () => {
    const facts = withGroup({ fromTemplate: true, minSize: 1, maxSize: 10, mixedInstancesPolicy: { onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 0, instanceTypes: 8 } });
    facts.settings = { ok: true, value: { exists: true, settings: { ...DEFAULT_SETTINGS, floor: 3, max: 50 }, problems: [] } };
    expect(checkGroupPolicy(facts).map((r) => r.status)).toEqual(['PASS']);
    const skewed = withGroup({ fromTemplate: true, minSize: 2, mixedInstancesPolicy: { onDemandBaseCapacity: 1, onDemandPercentageAboveBaseCapacity: 0, instanceTypes: 8 } });
    expect(checkGroupPolicy(skewed)[0]).toMatchObject({ status: 'FAIL', message: expect.stringMatching(/OnDemandBaseCapacity \(1\) and MinSize \(2\) differ/) });
  });

  it('fails a missing parameter and one stored as plain String', () => {
    const facts = healthy();
    facts.ssm = { ok: true, value: [{ name: '/a', purpose: 'webhook secret', exists: false }, { name: '/b', purpose: 'GitHub credentials', exists: true, type: 'String' }] };
    const results = checkSsmParameters(facts);
    expect(results.map((r) => r.status)).toEqual(['FAIL', 'FAIL']);
    expect(results[0].fix).toMatch(/put-parameter --type SecureString --name \/a/);
    expect(results[1].message).toMatch(/type is String, not SecureString/);
  });

  it('judges webhook deliveries: failures FAIL with a cause-specific fix, none WARN, skipped WARN', () => {
    const facts = healthy();
    facts.deliveries = { ok: true, value: { hook: 'hook 7', recent: [{ id: 9, statusCode: 401, deliveredAt: '2026-11-23T01:00:00Z' }, { id: 8, statusCode: 200 }] } };
    const [failed] = checkWebhookDeliveries(facts);
    expect(failed.status).toBe('FAIL');
    expect(failed.message).toMatch(/1 of 2 recent deliveries on hook 7 failed \(401\); newest failed: #9/);
    expect(failed.fix).toMatch(/webhook secret at GitHub differs/);
    facts.deliveries = { ok: true, value: { hook: 'hook 7', recent: [{ id: 4, statusCode: 0, status: 'pending' }, { id: 2, statusCode: 200 }] } };
    expect(checkWebhookDeliveries(facts)[0]).toMatchObject({ status: 'PASS', message: '1 recent deliveries on hook 7 all succeeded' });
    facts.deliveries = { ok: true, value: { hook: 'hook 7', recent: [{ id: 3, statusCode: 0 }] } };
    expect(checkWebhookDeliveries(facts)[0]).toMatchObject({ status: 'FAIL', message: expect.stringMatching(/no response/) });
    facts.deliveries = { ok: true, value: { hook: 'hook 7', recent: [] } };
    expect(checkWebhookDeliveries(facts)[0].status).toBe('WARN');
    facts.deliveries = { skipped: 'no credentials' };
    expect(checkWebhookDeliveries(facts)[0]).toMatchObject({ status: 'WARN', message: 'skipped: no credentials' });
  });

  it('fails a group without the mixed instances policy, with on-demand above the base, or unprotected', () => {
    expect(checkGroupPolicy(withGroup({ mixedInstancesPolicy: undefined }))[0]).toMatchObject({ status: 'FAIL', message: expect.stringMatching(/no MixedInstancesPolicy/) });
    const results = checkGroupPolicy(
      withGroup({
        mixedInstancesPolicy: { onDemandBaseCapacity: 2, onDemandPercentageAboveBaseCapacity: 100, instanceTypes: 1 },
        newInstancesProtectedFromScaleIn: false,
        unprotectedInstances: ['i-1'],
        minSize: 0,
        maxSize: 4,
      }),
    );
    const messages = results.map((r) => `${r.status} ${r.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^FAIL OnDemandBaseCapacity is 2, settings floor is 1/),
        expect.stringMatching(/^FAIL OnDemandPercentageAboveBaseCapacity is 100, must be 0/),
        expect.stringMatching(/^WARN only 1 instance type/),
        expect.stringMatching(/^FAIL NewInstancesProtectedFromScaleIn is off/),
        expect.stringMatching(/^FAIL instances without scale-in protection: i-1/),
        expect.stringMatching(/^WARN MinSize is 0, settings floor is 1/),
        expect.stringMatching(/^WARN MaxSize 4 is below settings max 10/),
      ]),
    );
  });

  it('fails invalid settings with every problem and warns when there is no item', () => {
    const facts = healthy();
    facts.settings = { ok: true, value: { exists: true, settings: DEFAULT_SETTINGS, problems: ['floor: bad (allowed 0..1000)', 'max: bad'] } };
    expect(checkSettings(facts)[0]).toMatchObject({ status: 'FAIL', message: expect.stringMatching(/floor: bad .*; max: bad/), fix: expect.stringMatching(/settings set/) });
    facts.settings = { ok: true, value: { exists: false, settings: DEFAULT_SETTINGS, problems: [] } };
    expect(checkSettings(facts)[0].status).toBe('WARN');
    facts.settings = { ok: false, error: 'AccessDeniedException: no' };
    expect(checkSettings(facts)[0]).toMatchObject({ status: 'FAIL', message: 'could not check: AccessDeniedException: no' });
  });

  it('fails when jobs with the labels the webhook forwards would not match the rule, naming the actions', () => {
    const facts = healthy();
    facts.rules = { ok: true, value: { source: 't', rules: [{ name: 'workflow-job', pattern: rulePattern }], labels: ['gpu'] } };
    const [result] = checkLabelsMatchRule(facts);
    expect(result.status).toBe('FAIL');
    expect(result.message).toMatch(/\[gpu\] does not match workflow-job .* for: queued, in_progress, completed/);

    // A rule that forgot `completed`: scale-in would never be triggered by events.
    const partial = healthy();
    partial.rules = { ok: true, value: { source: 't', rules: [{ name: 'r', pattern: { ...rulePattern, detail: { ...rulePattern.detail, action: ['queued'] } } }], labels: ['self-hosted', 'linux', 'x64'] } };
    expect(checkLabelsMatchRule(partial)[0].message).toMatch(/for: in_progress, completed/);

    const none = healthy();
    none.rules = { ok: true, value: { source: 't', rules: [], labels: ['self-hosted', 'linux', 'x64'] } };
    expect(checkLabelsMatchRule(none)[0]).toMatchObject({ status: 'FAIL', message: expect.stringMatching(/no workflow_job rule/) });
  });

  it('renders one PASS/WARN/FAIL line per check with a fix line, and a summary', () => {
    const facts = healthy();
    facts.ssm = { skipped: 'local mode' };
    facts.settings = { ok: true, value: { exists: true, settings: DEFAULT_SETTINGS, problems: ['max: bad'] } };
    const lines = renderChecks(runChecks(facts), memoryOutput());
    expect(lines).toContain('WARN  SSM parameters: skipped: local mode');
    expect(lines.some((l) => /^FAIL {2}settings: stored item is invalid/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {6}fix: runner-autoscaler settings set/.test(l))).toBe(true);
    expect(lines[lines.length - 1]).toMatch(/^\d+ passed, 1 warnings, 1 failed$/);
  });
});
