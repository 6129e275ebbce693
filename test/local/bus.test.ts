import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTemplate, parameterDefaults } from '../../lib/cfn-template';
import { LocalBus, rulesFromTemplate, schedulePeriodMs } from '../../local/bus';
import { createLocalStateMachine, loadStateMachine, substitute } from '../../local/state-machine';

/** A template in the shapes SAM allows: a rule resource targeting the machine, and SAM `Events` on it. */
const TEMPLATE = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  PoolLabel:
    Type: String
    Default: self-hosted
  BusName:
    Type: String
    Default: runner-autoscaler
Resources:
  Machine:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      DefinitionUri: machine.asl.json
      DefinitionSubstitutions:
        DecideArn: !GetAtt DecideFunction.Arn
        Greeting: !Sub "hello-\${PoolLabel}"
      Events:
        Reconcile:
          Type: Schedule
          Properties:
            Schedule: rate(15 minutes)
            Input: '{"trigger":"reconcile"}'
        Disabled:
          Type: Schedule
          Properties:
            Schedule: rate(1 minute)
            Enabled: false
  JobRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref BusName
      EventPattern:
        source: [runner-autoscaler.github]
        detail-type: [workflow_job]
        detail:
          action: [queued, in_progress, completed]
          labels: [{ equals-ignore-case: !Ref PoolLabel }]
      Targets:
        - Id: machine
          Arn: !GetAtt Machine.Arn
  OtherRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern: { source: [elsewhere] }
      Targets:
        - Id: queue
          Arn: !GetAtt SomeQueue.Arn
`;

const ASL = {
  StartAt: 'Decide',
  States: {
    Decide: { Type: 'Task', Resource: '${DecideArn}', ResultPath: '$.decision', Next: 'Greet' },
    Greet: { Type: 'Pass', Parameters: { 'greeting': '${Greeting}', 'decision.$': '$.decision' }, End: true },
  },
};

function fixture() {
  const dir = mkdtempSync(join(tmpdir(), 'bus-'));
  const templatePath = join(dir, 'template.yaml');
  writeFileSync(templatePath, TEMPLATE);
  writeFileSync(join(dir, 'machine.asl.json'), JSON.stringify(ASL));
  const template = parseTemplate(TEMPLATE);
  return { template, templatePath, names: parameterDefaults(template) };
}

describe('rules and state machine from the template', () => {
  it('reads pattern rules targeting the machine and enabled schedules, with Refs resolved', () => {
    const { template, names } = fixture();
    const rules = rulesFromTemplate(template, 'Machine', names);
    expect(rules.map((r) => r.name).sort()).toEqual(['JobRule', 'MachineReconcile']);
    const job = rules.find((r) => r.name === 'JobRule')!;
    expect(job.busName).toBe('runner-autoscaler');
    expect(job.pattern).toEqual({
      source: ['runner-autoscaler.github'],
      'detail-type': ['workflow_job'],
      detail: { action: ['queued', 'in_progress', 'completed'], labels: [{ 'equals-ignore-case': 'self-hosted' }] },
    });
    const reconcile = rules.find((r) => r.name === 'MachineReconcile')!;
    expect(reconcile.schedule).toEqual({ expression: 'rate(15 minutes)', periodMs: 900000 });
    expect(reconcile.input).toEqual({ trigger: 'reconcile' });
  });

  it('parses rate expressions', () => {
    expect(schedulePeriodMs('rate(1 minute)')).toBe(60000);
    expect(schedulePeriodMs('rate(2 hours)')).toBe(7200000);
    expect(schedulePeriodMs('cron(0 12 * * ? *)')).toBeUndefined();
  });

  it('runs the ASL with substitutions applied and Task states answered by name', async () => {
    const { template, templatePath, names } = fixture();
    const loaded = loadStateMachine(template, templatePath, names);
    expect(loaded.taskStates).toEqual(['Decide']);
    expect(loaded.definition.States.Decide.Resource).toBe('arn:aws:lambda:us-east-1:000000000000:function:DecideFunction');
    const seen: unknown[] = [];
    const machine = createLocalStateMachine(loaded, { Decide: async (input: unknown) => (seen.push(input), { action: 'none' }) });
    await expect(machine.run({ trigger: 'x' })).resolves.toEqual({ greeting: 'hello-self-hosted', decision: { action: 'none' } });
    expect(seen).toEqual([{ trigger: 'x' }]);
  });

  it('refuses to start when a Task state has no handler', () => {
    const { template, templatePath, names } = fixture();
    expect(() => createLocalStateMachine(loadStateMachine(template, templatePath, names), {})).toThrow(/no local handler for Task state\(s\) Decide/);
  });

  it('leaves unknown placeholders alone', () => {
    expect(substitute('${A}-${B}', { A: 'x' })).toBe('x-${B}');
  });
});

describe('LocalBus', () => {
  function busWith(started: Array<{ input: unknown; rule: string }>, fail = false) {
    const { template, names } = fixture();
    return new LocalBus({
      rules: rulesFromTemplate(template, 'Machine', names),
      busName: 'runner-autoscaler',
      schedulePeriodMs: 20,
      startExecution: async (input, rule) => {
        started.push({ input, rule: rule.name });
        if (fail) throw new Error('boom');
        return { ok: true };
      },
    });
  }

  it('starts one execution per matching rule with the EventBridge envelope as input', async () => {
    const started: Array<{ input: any; rule: string }> = [];
    const bus = busWith(started);
    const detail = { action: 'queued', jobId: 7, labels: ['Self-Hosted', 'linux'] };
    await expect(bus.putEvents([{ source: 'runner-autoscaler.github', detailType: 'workflow_job', detail }])).resolves.toEqual({ failedCount: 0 });
    await bus.putEvents([{ source: 'runner-autoscaler.github', detailType: 'workflow_job', detail: { ...detail, action: 'waiting' } }]);
    await bus.putEvents([{ source: 'runner-autoscaler.github', detailType: 'workflow_job', detail: { ...detail, labels: ['ubuntu-latest'] } }]);
    await bus.idle();
    expect(started).toHaveLength(1);
    expect(started[0].rule).toBe('JobRule');
    expect(started[0].input).toMatchObject({ version: '0', source: 'runner-autoscaler.github', 'detail-type': 'workflow_job', detail, account: '000000000000' });
    expect(bus.executions).toHaveLength(1);
    expect(bus.executions[0]).toMatchObject({ status: 'SUCCEEDED', trigger: 'workflow_job queued job 7', output: { ok: true } });
    expect(bus.delivered.map((d) => d.matched)).toEqual([['JobRule'], [], []]);
    await bus.stop();
  });

  it('fires schedule rules on the configured period with their constant input, and stops cleanly', async () => {
    const started: Array<{ input: unknown; rule: string }> = [];
    const bus = busWith(started);
    bus.startSchedules();
    const deadline = Date.now() + 5000;
    while (started.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await bus.stop();
    const count = started.length;
    expect(count).toBeGreaterThanOrEqual(2);
    expect(started.every((s) => s.rule === 'MachineReconcile' && (s.input as { trigger: string }).trigger === 'reconcile')).toBe(true);
    await new Promise((r) => setTimeout(r, 60));
    expect(started.length).toBe(count);
    await expect(bus.putEvents([{ source: 'x', detailType: 'y', detail: {} }])).resolves.toEqual({ failedCount: 1 });
  });

  it('records a failed execution with its error', async () => {
    const bus = busWith([], true);
    await bus.putEvents([{ source: 'runner-autoscaler.github', detailType: 'workflow_job', detail: { action: 'completed', labels: ['self-hosted'] } }]);
    await bus.idle();
    expect(bus.executions[0]).toMatchObject({ status: 'FAILED', error: 'Error: boom' });
    await bus.stop();
  });
});
