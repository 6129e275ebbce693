import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithTool } from '../support/tools';

/**
 * Runs the real Runners/bootstrap/runner-bootstrap.sh with stub `aws`, `curl`,
 * `shutdown` and `run.sh` first on PATH. The stubs log their argv; the fake SSM
 * holds the JIT config in a file that delete-parameter removes.
 */
const SCRIPT = join(__dirname, '../../Runners/bootstrap/runner-bootstrap.sh');
const INSTANCE_ID = 'i-0123456789abcdef0';
const PREFIX = '/runner-autoscaler/runners';
const JIT = 'eyJTRU5USU5FTCI6ImppdC1jb25maWctc2VjcmV0LTkxNzMifQ==SENTINEL';
const sha = (text: string) => createHash('sha256').update(text).digest('hex');

const AWS_STUB = `#!/usr/bin/env bash
echo "aws $*" >> "$STUB_LOG"
case "$1 $2" in
  "ssm get-parameter")
    n=$(( $(cat "$STUB_DIR/get-count" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$STUB_DIR/get-count"
    if [[ -f "$STUB_DIR/parameter" && "$n" -ge "\${STUB_CONFIG_AFTER:-1}" ]]; then cat "$STUB_DIR/parameter"; echo; exit 0; fi
    echo "An error occurred (ParameterNotFound) when calling the GetParameter operation:" >&2; exit 254 ;;
  "ssm delete-parameter")
    rm -f "$STUB_DIR/parameter"; exit 0 ;;
  "autoscaling terminate-instance-in-auto-scaling-group")
    if [[ "$*" == *"--should-decrement-desired-capacity"* && "\${STUB_REFUSE_DECREMENT:-0}" == 1 ]]; then
      echo "An error occurred (ValidationError): Currently, desiredSize equals minSize (1). Terminating instance without replacement will violate group's min size constraint." >&2
      exit 254
    fi
    if [[ "\${STUB_REFUSE_ALL:-0}" == 1 ]]; then echo "An error occurred (Throttling)" >&2; exit 254; fi
    echo '{"Activity":{"StatusCode":"InProgress"}}'; exit 0 ;;
esac
echo "unexpected aws call" >&2; exit 2
`;

const CURL_STUB = `#!/usr/bin/env bash
echo "curl $*" >> "$STUB_LOG"
case "$*" in
  *latest/api/token*) printf 'IMDS-TOKEN' ;;
  *meta-data/instance-id*) printf '${INSTANCE_ID}' ;;
  *github.com/actions/runner/releases/download/*)
    while [[ $# -gt 0 ]]; do if [[ "$1" == "-o" ]]; then cp "$STUB_DIR/runner.tar.gz" "$2"; fi; shift; done ;;
  *) exit 22 ;;
esac
`;

// Records a digest of the config it was given, never the config itself.
const RUN_SH = `#!/usr/bin/env bash
digest=$(printf '%s' "$2" | sha256sum | cut -d' ' -f1)
echo "run.sh $1 sha256:$digest cwd:$(pwd)" >> "$STUB_LOG"
exit "\${STUB_RUNNER_EXIT:-0}"
`;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[];
  dir: string;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function setup(options: { baked?: boolean; tarball?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'bootstrap-'));
  dirs.push(dir);
  const bin = join(dir, 'bin');
  const runnerDir = join(dir, 'actions-runner');
  mkdirSync(bin);
  const write = (path: string, text: string) => {
    writeFileSync(path, text);
    chmodSync(path, 0o755);
  };
  write(join(bin, 'aws'), AWS_STUB);
  write(join(bin, 'curl'), CURL_STUB);
  write(join(bin, 'shutdown'), '#!/usr/bin/env bash\necho "shutdown $*" >> "$STUB_LOG"\n');
  if (options.baked !== false) {
    mkdirSync(runnerDir);
    write(join(runnerDir, 'run.sh'), RUN_SH);
  }
  if (options.tarball) {
    const content = join(dir, 'tarball-content');
    mkdirSync(content);
    write(join(content, 'run.sh'), RUN_SH);
    execFileSync('tar', ['-czf', join(dir, 'runner.tar.gz'), '-C', content, 'run.sh']);
  }
  writeFileSync(join(dir, 'parameter'), JIT);
  return { dir, bin, runnerDir };
}

function run(setupResult: ReturnType<typeof setup>, env: Record<string, string> = {}): Run {
  const { dir, bin, runnerDir } = setupResult;
  const log = join(dir, 'calls.log');
  const result = spawnSync('bash', [SCRIPT], {
    encoding: 'utf8',
    timeout: 20000,
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      HOME: dir,
      STUB_LOG: log,
      STUB_DIR: dir,
      AWS_REGION: 'eu-west-1',
      RUNNER_CONFIG_PREFIX: PREFIX,
      RUNNER_VERSION: '2.329.0',
      AUTO_SCALING_GROUP_NAME: 'runners-test',
      RUNNER_DIR: runnerDir,
      RUN_AS: 'env',
      CREATE_RUNNER_USER: 'false',
      BLOCK_IMDS_FOR_RUNNER: 'false',
      POLL_INTERVAL_SECONDS: '0.05',
      ...env,
    },
  });
  const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls, dir };
}

function expectConfigNeverShown(result: Run): void {
  const logText = result.calls.join('\n');
  for (const text of [result.stdout, result.stderr, logText]) {
    expect(text).not.toContain(JIT);
    expect(text).not.toContain('SENTINEL');
  }
}

const terminateCalls = (calls: string[]) => calls.filter((call) => call.includes('terminate-instance-in-auto-scaling-group'));

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
    const setupResult = setup();
    writeFileSync(join(setupResult.bin, 'iptables'), '#!/usr/bin/env bash\necho "iptables $*" >> "$STUB_LOG"\n');
    chmodSync(join(setupResult.bin, 'iptables'), 0o755);
    const result = run(setupResult, { BLOCK_IMDS_FOR_RUNNER: 'true', RUNNER_USER: 'runner' });
    const block = result.calls.findIndex((call) => call === 'iptables -I OUTPUT -d 169.254.169.254 -m owner --uid-owner runner -j REJECT');
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
