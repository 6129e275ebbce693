import { join } from 'node:path';
import { loadTemplate } from '../../lib/cfn-template';
import { retrierWaits, taskWorstCase, type TaskState } from '../../lib/retry-budget';
import { loadDefinition, ROOT } from './support/fakes';

/**
 * Defect 7 (issue 13): every Task's worst case, retries included, must leave
 * the execution the time to run RecordFailure, or a failing step ends in an
 * execution timeout that nothing records. Computed from the very ASL file and
 * template that are deployed. Each attempt is counted at the Task's
 * TimeoutSeconds, which is above the function's own timeout (checked below),
 * so the bound holds whatever ends an attempt. The bound is per Task: a whole
 * path of steps that each run long can still outlast the execution (one
 * attempt of each Task on the reconcile path to ScaleIn, at TimeoutSeconds,
 * is 280 s; with retries a path passes 300 s), which is what
 * TimedOutExecutionsAlarm is for.
 */
const template = loadTemplate(join(ROOT, 'AutoScaler', 'template.yaml'));
const definition = loadDefinition();
const tasks = Object.entries(definition.States as Record<string, TaskState>).filter(([, state]) => state.Type === 'Task');
const executionTimeout = definition.TimeoutSeconds as number;
const lambdaTimeout = (name: string) => template.Resources[`${name}Function`].Properties!.Timeout as number;

describe('retry budget (lib/retry-budget.ts)', () => {
  it('follows Step Functions retrier semantics: capped exponential waits, defaults 1 s x 2.0, 3 attempts', () => {
    expect(retrierWaits({ ErrorEquals: ['X'], IntervalSeconds: 1, MaxAttempts: 4, BackoffRate: 2, MaxDelaySeconds: 5 })).toEqual([1, 2, 4, 5]);
    expect(retrierWaits({ ErrorEquals: ['X'] })).toEqual([1, 2, 4]);
    expect(retrierWaits({ ErrorEquals: ['X'], MaxAttempts: 0 })).toEqual([]);
    // Two retriers count separately (the guide's "complex retry scenarios"): 1 + 2 + 1 attempts.
    expect(taskWorstCase('T', { Type: 'Task', TimeoutSeconds: 10, Retry: [{ ErrorEquals: ['A'], MaxAttempts: 2 }, { ErrorEquals: ['B'], MaxAttempts: 1, IntervalSeconds: 5 }] })).toEqual({
      attempts: 4,
      backoffSeconds: 1 + 2 + 5,
      totalSeconds: 4 * 10 + 8,
    });
    expect(() => taskWorstCase('T', { Type: 'Task' })).toThrow(/TimeoutSeconds/);
  });
});

describe('statemachine/autoscaler.asl.json fits its execution timeout', () => {
  it('is an Express execution of at most 5 minutes (the Express limit: Step Functions Developer Guide, "Choosing workflow type")', () => {
    expect(template.Resources.StateMachine.Properties!.Type).toBe('EXPRESS');
    expect(executionTimeout).toBeGreaterThan(0);
    expect(executionTimeout).toBeLessThanOrEqual(300);
  });

  it.each(tasks.map(([name]) => name))('%s: the function times out before the Task does', (name) => {
    // Then a slow function ends as the function's own error (Lambda.Unknown / Sandbox.Timedout), not as a
    // States.Timeout that leaves it running while Step Functions moves on.
    const state = Object.fromEntries(tasks)[name];
    expect(lambdaTimeout(name)).toBeLessThan(state.TimeoutSeconds!);
  });

  it.each(tasks.map(([name]) => name))('%s: never retries States.Timeout (the timed-out attempt may still be running)', (name) => {
    const state = Object.fromEntries(tasks)[name];
    expect((state.Retry ?? []).flatMap((r) => r.ErrorEquals)).not.toContain('States.Timeout');
    expect((state.Retry ?? []).flatMap((r) => r.ErrorEquals)).not.toContain('States.ALL');
  });

  it.each(tasks.map(([name]) => name))('%s: worst case plus RecordFailure\'s worst case fits the execution timeout', (name) => {
    const state = Object.fromEntries(tasks)[name];
    const own = taskWorstCase(name, state);
    const recordFailure = taskWorstCase('RecordFailure', Object.fromEntries(tasks).RecordFailure);
    const needed = own.totalSeconds + (name === 'RecordFailure' ? 0 : recordFailure.totalSeconds);
    expect({ name, needed, executionTimeout, fits: needed <= executionTimeout }).toEqual({ name, needed, executionTimeout, fits: true });
  });
});

describe('AutoScaler/template.yaml alarms on what RecordFailure cannot record', () => {
  it('alarms on timed-out executions of the state machine (AWS/States ExecutionsTimedOut, CloudWatch Step Functions metrics)', () => {
    const alarm = template.Resources.TimedOutExecutionsAlarm;
    expect(alarm.Type).toBe('AWS::CloudWatch::Alarm');
    expect(alarm.Properties).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsTimedOut',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: 'StateMachine' } }],
      Statistic: 'Sum',
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });
});
