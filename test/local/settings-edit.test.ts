import { readSettings, writeSettings } from '../../lib/settings-store';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { describeWithAutoScaler, getState, until } from './support';

/** Settings edits reach the next decision locally exactly as deployed: through the settings item in DynamoDB. */
describeWithAutoScaler('local stack, settings edits', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, bootSeconds: 0.2, reconcileSeconds: 0.5, logLevel: 'SILENT', settings: { floor: 1, max: 5, headroom: 0 } });
  }, 30000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('uses a new headroom written to the table on the next decision, and reports an invalid edit without stopping', async () => {
    await until(async () => (await getState(stack.urls.state)).lastDecision !== null, 'a first reconcile decision');
    expect((await getState(stack.urls.state)).desiredCapacity).toBe(1);

    // What the operator CLI does: read the item with its version, validate, write with the version condition.
    const current = await readSettings(stack.doc, stack.tableName, stack.pool);
    await writeSettings(stack.doc, stack.tableName, stack.pool, { ...current.settings, headroom: 2 }, current.version, 'test');

    // The decision is logged when its execution ends, a moment after the group changed.
    const state = await until(async () => {
      const s = await getState(stack.urls.state);
      return s.desiredCapacity === 2 && s.decisions.some((d) => d.action === 'scale_out' && d.target === 2) ? s : undefined;
    }, 'the next decision to keep two idle runners above demand');
    expect(state.settings.headroom).toBe(2);

    // A typo in the stored item: reported, the last valid value is used, scaling goes on.
    const { UpdateCommand } = await import('@aws-sdk/lib-dynamodb');
    await stack.doc.send(new UpdateCommand({ TableName: stack.tableName, Key: { pk: `SETTINGS#${stack.pool}` }, UpdateExpression: 'SET headroom = :h', ExpressionAttributeValues: { ':h': 'lots' } }));
    const reported = await until(async () => {
      const s = await getState(stack.urls.state);
      return s.settingsProblems.length > 0 ? s : undefined;
    }, 'the invalid headroom to be reported');
    expect(reported.settingsProblems.join(' ')).toMatch(/headroom/);
    expect(reported.settings.headroom).toBe(2);
    expect(reported.desiredCapacity).toBe(2);
  }, 30000);
});
