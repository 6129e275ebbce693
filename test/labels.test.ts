import { join } from 'node:path';
import fc from 'fast-check';
import { createWebhookHandler } from '../Infrastructure/src/webhook';
import { loadTemplate, parameterDefaults, resolveIntrinsics, runnerLabelsImport, type CfnTemplate } from '../lib/cfn-template';
import { matchesEventPattern, type EventPattern } from '../lib/event-pattern';
import { DEFAULT_POOL_LABELS, runnerCanTakeJob } from '../lib/labels';
import type { BusEntry } from '../lib/ports';
import { settingsFields } from '../lib/settings';
import { startLocalStack, type LocalStack } from '../local/stack';
import { delivery, queuedJob, TEST_SECRET } from './ingress/support';
import { describeWithAutoScaler, postWebhook, signed, until } from './local/support';

/**
 * Issue 13, defect 6: a pool's labels are set in one place, the Infrastructure stack's RunnerLabels.
 * The webhook filters on that parameter; the AutoScaler rule's pattern, the AutoScaler functions and the
 * runners' registration all take the stack's RunnerLabels export. Before, the AutoScaler had its own
 * RunnerLabels parameter and the runners read `labels` from the settings item, so the three could
 * disagree, and the rule (case-sensitive, EventBridge) could miss jobs the webhook had lower-cased.
 */
const ROOT = join(__dirname, '..');
const infrastructure = loadTemplate(join(ROOT, 'Infrastructure', 'template.yaml'));
const autoScaler = loadTemplate(join(ROOT, 'AutoScaler', 'template.yaml'));
const runners = loadTemplate(join(ROOT, 'Runners', 'template.yaml'));

/** `!ImportValue { Fn::Sub: '${InfrastructureStackName}-RunnerLabels' }`, however the template spells the Sub. */
const INFRASTRUCTURE_LABELS = { 'Fn::ImportValue': { 'Fn::Sub': '${InfrastructureStackName}-RunnerLabels' } };

const env = (template: CfnTemplate, fn: string) => template.Resources[fn].Properties!.Environment.Variables as Record<string, unknown>;
const rulePattern = () => (autoScaler.Resources.StateMachine.Properties!.Events as Record<string, any>).WorkflowJob.Properties.Pattern as Record<string, any>;

describe('pool labels: one source (Infrastructure RunnerLabels)', () => {
  it('the webhook filters on the parameter; the rule pattern, the AutoScaler functions and the runners import its export', () => {
    const parameter = { 'Fn::Join': [',', { Ref: 'RunnerLabels' }] };
    expect(env(infrastructure, 'WebhookFunction').RUNNER_LABELS).toEqual(parameter);
    expect(infrastructure.Outputs!.RunnerLabels).toMatchObject({ Value: parameter, Export: { Name: { 'Fn::Sub': '${AWS::StackName}-RunnerLabels' } } });

    expect(rulePattern().detail.labels).toEqual({ 'Fn::Split': [',', INFRASTRUCTURE_LABELS] });
    expect((autoScaler.Globals as Record<string, any>).Function.Environment.Variables.RUNNER_LABELS).toEqual(INFRASTRUCTURE_LABELS);
    expect(env(runners, 'JitConfigFunction').RUNNER_LABELS).toEqual(INFRASTRUCTURE_LABELS);

    // Nowhere else: no second parameter, no label literal, no settings key that could disagree.
    for (const template of [autoScaler, runners]) {
      expect(Object.keys(template.Parameters ?? {})).not.toContain('RunnerLabels');
      expect(JSON.stringify(template)).not.toMatch(/self-hosted,linux/i);
    }
    expect(Object.keys(settingsFields)).not.toContain('labels');
    expect(String(parameterDefaults(infrastructure).RunnerLabels).split(',')).toEqual([...DEFAULT_POOL_LABELS]);
  });

  it('any labels the parameter accepts: a job asking for them in any case is forwarded by the webhook and matched by the rule', async () => {
    const allowed = new RegExp(infrastructure.Parameters!.RunnerLabels.AllowedPattern as string);
    const label = fc.constantFrom('self-hosted', 'Self-Hosted', 'linux', 'Linux', 'x64', 'X64', 'ARM64', 'arm64', 'gpu', 'GPU-A10');
    const caseOf = (text: string, upper: boolean[]) => [...text].map((c, i) => (upper[i % upper.length] ? c.toUpperCase() : c.toLowerCase())).join('');
    // Labels CloudFormation refuses never reach a template; Self-Hosted is one of them.
    expect(allowed.test('Self-Hosted')).toBe(false);
    expect(allowed.test('self-hosted')).toBe(true);
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(label, { minLength: 1, maxLength: 4 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }), async (labels, upper) => {
        fc.pre(labels.every((l) => allowed.test(l)));
        const value = labels.join(',');
        // As CloudFormation resolves them: the parameter in the webhook, the export (or, in older templates, a parameter) in the rule.
        const pattern = resolveIntrinsics(rulePattern(), { ...parameterDefaults(autoScaler), ...runnerLabelsImport(autoScaler, labels), RunnerLabels: value }) as EventPattern;
        const entries: BusEntry[] = [];
        const webhook = createWebhookHandler({ secrets: async () => [TEST_SECRET], bus: { putEvents: async (e) => (entries.push(...e), { failedCount: 0 }) }, servedLabels: labels });
        const body = JSON.stringify(queuedJob({ labels: labels.map((l) => caseOf(l, upper)) }));
        const answer = await webhook(await delivery(body));
        expect(answer.statusCode).toBe(202);
        expect(entries).toHaveLength(1);
        const event = { source: entries[0].source, 'detail-type': entries[0].detailType, detail: entries[0].detail };
        expect(matchesEventPattern(pattern, event)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describeWithAutoScaler('pool labels in the local pipeline', () => {
  let stack: LocalStack;
  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, bootSeconds: 0.2, reconcileSeconds: 60, logLevel: 'SILENT', settings: { floor: 0, max: 3 } });
  }, 30000);
  afterAll(async () => {
    await stack?.stop();
  });

  it('runs-on: [Self-Hosted, Linux, X64] is delivered, routed by the rule and served by a runner registered with the Infrastructure labels', async () => {
    expect(stack.labels).toEqual(['self-hosted', 'linux', 'x64']);
    const body = JSON.stringify(queuedJob({ labels: ['Self-Hosted', 'Linux', 'X64'] }));
    const delivered = await postWebhook(stack.urls.webhook, body, {
      'content-type': 'application/json',
      'x-github-event': 'workflow_job',
      'x-github-delivery': 'labels-case-1',
      'x-hub-signature-256': await signed(stack.webhookSecret, body),
    });
    expect(delivered.status).toBe(202);
    expect(delivered.message).not.toMatch(/ignored/);
    // Routed: the rule started an execution that recorded the job and scaled out for it.
    const execution = await until(async () => stack.bus.executions.find((e) => e.status !== 'RUNNING'), 'an execution started by the rule');
    expect(execution).toMatchObject({ rule: 'StateMachineWorkflowJob', status: 'SUCCEEDED' });
    expect(execution.output).toMatchObject({ job: { action: 'queued', ledger: 'new job: queued' }, decision: { action: 'scale_out', target: 1 } });
    // Served: the new runner registers with the pool's labels, which GitHub's rule accepts for the job.
    const runner = await until(async () => (await stack.github.listRunners())[0], 'the runner to register');
    expect(runner.labels.map((l) => l.toLowerCase()).sort()).toEqual(['linux', 'self-hosted', 'x64']);
    expect(runnerCanTakeJob(runner.labels, ['Self-Hosted', 'Linux', 'X64'])).toBe(true);
  }, 30000);
});
