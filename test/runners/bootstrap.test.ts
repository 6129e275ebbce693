import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithTool } from '../support/tools';
import { expectConfigNeverShown, INSTANCE_ID, JIT, PREFIX, run, SCRIPT, setup, terminateCalls } from './bootstrap-harness';

/**
 * The real Runners/bootstrap/runner-bootstrap.sh against stubs (./bootstrap-harness.ts), on an image
 * that has everything: the config's life cycle and leaving the group. The operating system side
 * (installs, metadata block, runner version, boot report) is in bootstrap-os.test.ts.
 */
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('runner bootstrap script', () => {
  it('waits for its config, deletes it, runs the runner once with it, then leaves the group with decrement', () => {
    const result = run(setup(), { STUB_CONFIG_AFTER: '3' });
    expect(result.status).toBe(0);
    const gets = result.calls.filter((call) => call.startsWith('aws ssm get-parameter'));
    expect(gets).toHaveLength(3);
    expect(gets[0]).toContain(`--name ${PREFIX}/${INSTANCE_ID} --with-decryption`);
    expect(result.calls).toContain(`aws ssm delete-parameter --name ${PREFIX}/${INSTANCE_ID}`);
    expect(existsSync(join(result.dir, 'parameter'))).toBe(false);
    const runs = result.calls.filter((call) => call.startsWith('run.sh'));
    expect(runs).toEqual([`run.sh --jitconfig sha256:${sha(JIT)} cwd:${join(result.dir, 'actions-runner')}`]);
    // Deleted before the runner starts, removed after it ends.
    const order = (prefix: string) => result.calls.findIndex((call) => call.startsWith(prefix));
    expect(order('aws ssm delete-parameter')).toBeLessThan(order('run.sh'));
    expect(order('run.sh')).toBeLessThan(order('aws autoscaling'));
    expect(terminateCalls(result.calls)).toEqual([
      `aws autoscaling terminate-instance-in-auto-scaling-group --instance-id ${INSTANCE_ID} --should-decrement-desired-capacity`,
    ]);
    // IMDSv2: a token first, then the metadata read with it.
    expect(result.calls[0]).toMatch(/^curl .*-X PUT .*latest\/api\/token/);
    expect(result.calls[1]).toMatch(/X-aws-ec2-metadata-token: IMDS-TOKEN .*meta-data\/instance-id/);
    expectConfigNeverShown(result);
  });

  it('terminates without decrement when the group refuses to go below its minimum', () => {
    const result = run(setup(), { STUB_REFUSE_DECREMENT: '1' });
    expect(result.status).toBe(0);
    expect(terminateCalls(result.calls)).toEqual([
      `aws autoscaling terminate-instance-in-auto-scaling-group --instance-id ${INSTANCE_ID} --should-decrement-desired-capacity`,
      `aws autoscaling terminate-instance-in-auto-scaling-group --instance-id ${INSTANCE_ID} --no-should-decrement-desired-capacity`,
    ]);
    expect(result.stderr).toContain('without decrement');
    expectConfigNeverShown(result);
  });

  it('leaves the group even when the job fails', () => {
    const result = run(setup(), { STUB_RUNNER_EXIT: '3' });
    expect(result.stderr).toContain('runner exited with status 3');
    expect(terminateCalls(result.calls)).toHaveLength(1);
    expectConfigNeverShown(result);
  });

  it('gives up waiting after the bound, never starts a runner, and leaves the group', () => {
    const setupResult = setup();
    rmSync(join(setupResult.dir, 'parameter'));
    const result = run(setupResult, { CONFIG_WAIT_SECONDS: '1' });
    expect(result.status).toBe(1);
    expect(result.calls.some((call) => call.startsWith('run.sh'))).toBe(false);
    expect(result.calls.filter((call) => call.startsWith('aws ssm get-parameter')).length).toBeGreaterThan(1);
    expect(terminateCalls(result.calls)).toHaveLength(1);
    expect(result.stderr).toContain('no runner config');
  });

  it('shuts down as a last resort when the group cannot be left, after bounded retries', () => {
    const result = run(setup(), { STUB_REFUSE_ALL: '1' });
    expect(terminateCalls(result.calls)).toHaveLength(6); // 3 attempts x (decrement, no decrement)
    expect(result.calls).toContain('shutdown -h now');
    expect(result.status).not.toBe(0);
    expectConfigNeverShown(result);
  });

  it('downloads the runner when it is not baked in, verifying its checksum', () => {
    const setupResult = setup({ baked: false, tarball: true });
    const digest = sha256File(join(setupResult.dir, 'runner.tar.gz'));
    const result = run(setupResult, { RUNNER_SHA256: digest });
    expect(result.status).toBe(0);
    const download = result.calls.find((call) => call.includes('releases/download'));
    expect(download).toMatch(/v2\.329\.0\/actions-runner-linux-(x64|arm64)-2\.329\.0\.tar\.gz/);
    expect(result.calls.filter((call) => call.startsWith('run.sh'))).toHaveLength(1);
  });

  it('refuses a runner archive whose checksum does not match, and runs nothing', () => {
    const result = run(setup({ baked: false, tarball: true }), { RUNNER_SHA256: '0'.repeat(64) });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('checksum mismatch');
    expect(result.calls.some((call) => call.startsWith('run.sh'))).toBe(false);
    expect(result.calls.some((call) => call.startsWith('aws ssm get-parameter'))).toBe(false);
    expect(terminateCalls(result.calls)).toHaveLength(1);
  });

  it('blocks the metadata service for the runner user before the job starts', () => {
    const result = run(setup(), { BLOCK_IMDS_FOR_RUNNER: 'true', RUNNER_USER: 'runner' });
    const block = result.calls.indexOf('nft add rule inet runner_bootstrap output meta skuid runner ip daddr 169.254.169.254 reject');
    expect(block).toBeGreaterThanOrEqual(0);
    expect(block).toBeLessThan(result.calls.findIndex((call) => call.startsWith('run.sh')));
  });

  it('refuses to start without the values the user data header sets', () => {
    const result = run(setup(), { RUNNER_CONFIG_PREFIX: '' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('RUNNER_CONFIG_PREFIX');
    expect(result.calls.filter((call) => call.startsWith('aws'))).toEqual([]);
  });
});

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describeWithTool('shellcheck', 'runner bootstrap script passes shellcheck', (shellcheck) => {
  it('has no findings', () => {
    const result = spawnSync(shellcheck, ['--severity=style', SCRIPT], { encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});
