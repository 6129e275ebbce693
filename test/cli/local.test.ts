import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { readSettings } from '../../lib/settings-store';
import { keys } from '../../lib/table';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { describeWithAutoScaler, getState, queueJobs, until } from '../local/support';
import { cli } from './support';

/**
 * The CLI against the running local mode (`npm start`): everything found from
 * --local URL alone (DynamoDB endpoint, table, simulated GitHub), edits picked
 * up by the next decision of the real state machine.
 */
describeWithAutoScaler('CLI against the local mode', () => {
  const ROOT = join(__dirname, '..', '..');
  let stack: LocalStack;
  let base: string;

  beforeAll(async () => {
    stack = await startLocalStack({
      port: 0,
      bootSeconds: 0.3,
      reconcileSeconds: 1,
      logLevel: 'SILENT',
      sampleMs: 200,
      settings: { floor: 1, max: 4, headroom: 0, scaleInCooldownSeconds: 1 },
    });
    base = stack.urls.dashboard.replace(/\/$/, '');
  }, 30_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('a valid edit through --local is what the next decision uses; an invalid one changes nothing', async () => {
    await until(async () => (await getState(stack.urls.state)).lastDecision?.reason, 'a first decision');
    expect((await getState(stack.urls.state)).desiredCapacity).toBe(1);
    // Headroom only acts through a decision: the next reconcile (every second here) must use it.
    const edit = await cli(['settings', 'set', 'headroom=2', '--local', base]);
    expect(edit.code).toBe(0);
    expect(edit.stdout).toMatch(/headroom\s+0\s+->\s+2/);
    const decided = await until(
      async () => (await getState(stack.urls.state)).decisions.find((d) => d.action === 'scale_out' && /headroom 2/.test(d.reason ?? '')),
      'a decision that uses headroom 2',
      15_000,
    );
    expect(decided.target).toBe(2);
    await until(async () => (await getState(stack.urls.state)).desiredCapacity === 2, 'desired capacity 2', 15_000);

    const before = await readSettings(stack.doc, stack.tableName, stack.pool);
    const refused = await cli(['settings', 'set', 'floor=9', 'max=3', '--local', base]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/max \(3\) must be >= floor \(9\)/);
    const after = await readSettings(stack.doc, stack.tableName, stack.pool);
    expect(after.version).toBe(before.version);
    expect(after.settings).toEqual(before.settings);
  }, 40_000);

  it('status reads group, runners, ledger and decisions from the local mode', async () => {
    await queueJobs(stack.urls.simJobs, { labels: ['self-hosted', 'linux', 'x64'], durationSeconds: 5, count: 2 });
    await until(async () => (await getState(stack.urls.state)).instances.some((i) => i.status === 'busy'), 'a busy runner', 15_000);
    const status = await cli(['status', '--local', base, '--decisions', '20']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^Reconcile\s+last \d+s ago$/m);
    // Decisions since the edit carry the new headroom in their reason.
    expect(status.stdout).toMatch(/^\s+\S+Z\s+.*\s+(none|scale_out|scale_in)\s+\d+ -> \d+\s+.*headroom 2/m);
    expect(status.stdout).toMatch(new RegExp(`^Pool "default" \\(table ${stack.tableName}\\)`, 'm'));
    expect(status.stdout).toMatch(/^Group\s+\S+: desired \d+, min 1, max 4/m);
    expect(status.stdout).toMatch(/^Runners\s+idle \d+, busy [1-9]\d*, offline \d+\s+\(GitHub via local simulated GitHub\)$/m);
    expect(status.stdout).toMatch(/^Open jobs\s+\d+ /m);
    expect(status.stdout).toMatch(/^Last decisions:$/m);
    // The reconcile's boot check: every instance that left ran its job.
    expect(status.stdout).toMatch(/^Boots\s+0 left without a job while jobs waited, 0 without a job in all, of \d+ that left/m);
  }, 40_000);

  it('doctor passes the healthy local setup and fails a broken one (wrong webhook secret, invalid settings, labels the rule ignores)', async () => {
    const healthy = await cli(['doctor', '--local', base, '--template-dir', ROOT]);
    expect(healthy.stdout).not.toMatch(/^FAIL/m);
    expect(healthy.code).toBe(0);
    expect(healthy.stdout).toMatch(/^WARN {2}stacks exist: skipped: local mode/m);
    expect(healthy.stdout).toMatch(/^PASS {2}webhook deliveries: \d+ recent deliveries on hook 1/m);
    expect(healthy.stdout).toMatch(/^PASS {2}settings: valid$/m);
    expect(healthy.stdout).toMatch(/^PASS {2}labels vs. rule pattern: /m);
    expect(healthy.stdout).toMatch(/^PASS {2}runner boot: no crash loop at the last reconcile/m);

    // Break it: GitHub signs with another secret, and an operator's console edit leaves a typo and labels the rule does not serve.
    stack.sim.setWebhook(stack.urls.webhook, 'not-the-secret');
    await queueJobs(stack.urls.simJobs, { labels: ['self-hosted', 'linux', 'x64'], durationSeconds: 0.1, count: 1 });
    await stack.sim.settled();
    const item = (await readSettings(stack.doc, stack.tableName, stack.pool)).item!;
    await stack.doc.send(new PutCommand({ TableName: stack.tableName, Item: { ...item, pk: keys.settings(stack.pool), headroom: 'two', labels: ['gpu'] } }));

    const broken = await cli(['doctor', '--local', base, '--template-dir', ROOT]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^FAIL {2}webhook deliveries: \d+ of \d+ recent deliveries on hook 1 .*failed \(401\)/m);
    expect(broken.stdout).toMatch(/^FAIL {2}settings: stored item is invalid .*headroom: /m);
    // Labels are not a setting any more: the item's are reported and cannot make the rule and the runners disagree.
    expect(broken.stdout).toMatch(/^FAIL {2}settings: stored item is invalid .*labels: not a setting/m);
    expect(broken.stdout).toMatch(/^PASS {2}labels vs. rule pattern: jobs with \[self-hosted, linux, x64\] match StateMachineWorkflowJob/m);
    expect((await cli(['settings', 'validate', '--local', base])).code).toBe(1);
  }, 40_000);
});
