import { copyFileSync, writeFileSync } from 'node:fs';
import {
  BOOT_LOG_GROUP,
  expectConfigNeverShown,
  indexOf,
  INSTANCE_ID,
  outcomes,
  run,
  runnerStarted,
  setup,
  terminateCalls,
  type Image,
  type Run,
} from './bootstrap-harness';

/**
 * The runner's operating system, on the supported images, with stub package managers (./bootstrap-harness.ts).
 * Why each package: the runner's .NET needs ICU (without it run.sh dies "Couldn't find a valid ICU package",
 * actions/runner#2511), and actions/runner's installdependencies.sh exits 1 on Amazon Linux 2023 (it knows only
 * /etc/debian_version, /etc/redhat-release and ID_LIKE=suse; src/Misc/layoutbin/installdependencies.sh). AL2023
 * installs neither libicu (amazonlinux/amazon-linux-2023#201) nor iptables (aws/eks-hybrid#37). Ubuntu 24.04 has
 * libicu74 (actions/runner#3150) and no awscli package; the AWS CLI is the aws-cli snap.
 */
const stock: Record<'amzn-2023' | 'ubuntu-24.04', string[]> = {
  'amzn-2023': ['krb5-libs', 'openssl-libs', 'zlib', 'tar', 'gzip'],
  'ubuntu-24.04': ['libkrb5-3', 'libssl3t64', 'zlib1g', 'tar', 'gzip'],
};
const installs = (result: Run) => result.calls.filter((call) => /^(dnf|apt-get|snap) /.test(call));
const started = (result: Run) => indexOf(result.calls, 'run.sh');
const imdsRules = (result: Run) => result.calls.filter((call) => call.startsWith('nft add rule'));

function expectStoppedBeforeTheRunner(result: Run, stage: string, reason: RegExp): void {
  expect(result.status).toBe(1);
  expect(runnerStarted(result.calls)).toBe(false);
  expect(result.calls.some((call) => call.startsWith('aws ssm get-parameter'))).toBe(false); // the config stays for nobody
  expect(terminateCalls(result.calls)).toHaveLength(1);
  const last = outcomes(result).at(-1)!;
  expect(last).toMatchObject({ outcome: 'boot-failed', stage, instanceId: INSTANCE_ID });
  expect(String(last.reason)).toMatch(reason);
  expectConfigNeverShown(result);
}

describe.each([
  ['amzn-2023', 'x86_64', 'x64'],
  ['amzn-2023', 'aarch64', 'arm64'],
  ['ubuntu-24.04', 'x86_64', 'x64'],
  ['ubuntu-24.04', 'aarch64', 'arm64'],
] as const)('on a stock %s %s image', (image, arch, runnerArch) => {
  it('installs exactly what is missing, blocks the metadata service, then starts the runner', () => {
    const ubuntu = image === 'ubuntu-24.04';
    const s = setup({ image, installed: stock[image], baked: false, tarball: true, awsOnPath: !ubuntu });
    const result = run(s, { STUB_ARCH: arch, BLOCK_IMDS_FOR_RUNNER: 'true', RUNNER_USER: 'runner' });
    expect(installs(result)).toEqual(
      ubuntu
        ? [
            'apt-get -o DPkg::Lock::Timeout=300 update -q',
            'apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends libicu74 git nftables',
            'snap wait system seed.loaded',
            'snap install aws-cli --classic',
          ]
        : ['dnf install -y libicu git nftables'],
    );
    expect(result.stderr).toContain(`${image.replace('-', ' ')} ${arch}`); // what it detected
    expect(result.calls.find((call) => call.includes('releases/download'))).toContain(`/v2.329.0/actions-runner-linux-${runnerArch}-2.329.0.tar.gz`);
    expect(imdsRules(result)).toEqual([
      'nft add rule inet runner_bootstrap output meta skuid runner ip daddr 169.254.169.254 reject',
      'nft add rule inet runner_bootstrap output meta skuid runner ip6 daddr fd00:ec2::254 reject',
    ]);
    expect(result.calls).toContain('nft list chain inet runner_bootstrap output');
    // Installed and blocked before the runner starts; on Ubuntu every AWS call is the snap's CLI (no aws on PATH).
    expect(indexOf(result.calls, 'nft list')).toBeLessThan(started(result));
    expect(result.calls.filter((call) => call.startsWith('run.sh'))).toHaveLength(1);
    expect(result.calls.some((call) => call.startsWith('aws ssm get-parameter'))).toBe(true);
    expect(result.status).toBe(0);
    expectConfigNeverShown(result);
  });
});

describe('the runner operating system', () => {
  it.each<Image>(['amzn-2023', 'ubuntu-24.04'])('pays for no install on a baked %s image', (image) => {
    const result = run(setup({ image }), { BLOCK_IMDS_FOR_RUNNER: 'true' });
    expect(installs(result)).toEqual([]);
    expect(result.calls.some((call) => call.includes('releases/'))).toBe(false);
    expect(result.stderr).toContain('already installed');
    expect(runnerStarted(result.calls)).toBe(true);
  });

  it('stops before the runner and leaves the group when the install fails, after bounded retries', () => {
    const result = run(setup({ installed: stock['amzn-2023'] }), { STUB_INSTALL_FAIL: '1' });
    expect(installs(result)).toEqual(Array(3).fill('dnf install -y libicu git nftables'));
    expectStoppedBeforeTheRunner(result, 'dependencies', /dependencies could not be installed/);
    // The installer's own error reaches the boot log.
    expect(result.reports.at(-1)!.join('\n')).toContain('Unable to find a match: libicu');
  });

  it('stops before the runner when an install "succeeds" but libicu is still not loadable', () => {
    const result = run(setup({ installed: stock['amzn-2023'] }), { STUB_INSTALL_NOOP: 'libicu' });
    expectStoppedBeforeTheRunner(result, 'dependencies', /dependencies/);
    expect(result.stderr).toContain('missing on this image: libicu');
  });

  it('on an unsupported image installs nothing and starts only if the image has everything', () => {
    const bare = run(setup({ image: 'debian-12', installed: ['tar', 'gzip'] }));
    expect(installs(bare)).toEqual([]);
    expect(bare.stderr).toContain('debian 12 is not a supported image');
    expectStoppedBeforeTheRunner(bare, 'dependencies', /dependencies/);
    expect(bare.stderr).toContain('missing on this image: libicu git');

    const complete = run(setup({ image: 'debian-12', installed: ['libicu72', 'git', 'nftables'] }));
    expect(installs(complete)).toEqual([]);
    expect(runnerStarted(complete.calls)).toBe(true);
  });

  it('never starts the runner when the metadata block cannot be set up', () => {
    const result = run(setup(), { BLOCK_IMDS_FOR_RUNNER: 'true', STUB_NFT_FAIL: '1' });
    expectStoppedBeforeTheRunner(result, 'metadata-block', /metadata service could not be blocked/);
  });

  it('never starts the runner when the block does not read back as in place', () => {
    const result = run(setup(), { BLOCK_IMDS_FOR_RUNNER: 'true', STUB_NFT_LOSE_RULES: '1' });
    expectStoppedBeforeTheRunner(result, 'metadata-block', /metadata service/);
  });

  it('never starts the runner when the runner user still reaches the metadata service despite the rules', () => {
    const result = run(setup(), { BLOCK_IMDS_FOR_RUNNER: 'true', STUB_IMDS_REACHABLE: '1' });
    expect(result.calls.filter((call) => call.startsWith('nft add rule'))).toHaveLength(2);
    expect(result.calls).toContainEqual(expect.stringMatching(/^curl .*--connect-timeout 2 .*-X PUT .*latest\/api\/token/));
    expectStoppedBeforeTheRunner(result, 'metadata-block', /metadata service/);
    expect(result.stderr).toContain('still reaches the metadata service');
  });

  it('never starts the runner without any packet filter', () => {
    const packages = ['libicu', 'git', 'tar', 'gzip', 'krb5-libs', 'openssl-libs', 'zlib'];
    const result = run(setup({ installed: packages }), { BLOCK_IMDS_FOR_RUNNER: 'true', STUB_INSTALL_NOOP: 'nftables' });
    expectStoppedBeforeTheRunner(result, 'dependencies', /dependencies/);
    expect(result.stderr).toContain('missing on this image: nft or iptables');
  });

  it('uses iptables (and ip6tables) on an image that has only those, and checks the rules landed', () => {
    const s = setup({ image: 'debian-12', installed: ['libicu72', 'git'], tools: ['iptables'] });
    copyFileSync(`${s.bin}/iptables`, `${s.bin}/ip6tables`);
    const result = run(s, { BLOCK_IMDS_FOR_RUNNER: 'true', RUNNER_USER: 'runner' });
    expect(result.calls.filter((call) => /^ip6?tables /.test(call))).toEqual([
      'iptables -I OUTPUT -d 169.254.169.254 -m owner --uid-owner runner -j REJECT',
      'iptables -C OUTPUT -d 169.254.169.254 -m owner --uid-owner runner -j REJECT',
      'ip6tables -I OUTPUT -d fd00:ec2::254 -m owner --uid-owner runner -j REJECT',
      'ip6tables -C OUTPUT -d fd00:ec2::254 -m owner --uid-owner runner -j REJECT',
    ]);
    expect(runnerStarted(result.calls)).toBe(true);

    const lost = run(setup({ image: 'debian-12', installed: ['libicu72', 'git'], tools: ['iptables'] }), { BLOCK_IMDS_FOR_RUNNER: 'true', STUB_IPTABLES_LOST: '1' });
    expectStoppedBeforeTheRunner(lost, 'metadata-block', /metadata service/);
  });

  it('with BLOCK_IMDS_FOR_RUNNER=false sets up no block, says so, and starts the runner', () => {
    const result = run(setup(), { BLOCK_IMDS_FOR_RUNNER: 'false' });
    expect(result.calls.some((call) => call.startsWith('nft '))).toBe(false);
    expect(result.stderr).toContain('jobs can reach the instance role');
    expect(runnerStarted(result.calls)).toBe(true);
  });
});

describe('the runner version', () => {
  it('resolves "latest" through the github.com releases/latest redirect and downloads that release', () => {
    const result = run(setup({ baked: false, tarball: true }), { RUNNER_VERSION: 'latest', STUB_LATEST: '2.330.1' });
    const resolve = result.calls.find((call) => call.includes('releases/latest'));
    expect(resolve).toContain("-w %{redirect_url} https://github.com/actions/runner/releases/latest");
    expect(resolve).not.toContain('api.github.com');
    expect(result.calls.find((call) => call.includes('releases/download'))).toContain('/v2.330.1/actions-runner-linux-x64-2.330.1.tar.gz');
    expect(runnerStarted(result.calls)).toBe(true);
    expect(outcomes(result)[0]).toMatchObject({ outcome: 'runner-started', runnerVersion: '2.330.1' });
  });

  it('fails the boot visibly when the latest release cannot be resolved', () => {
    const result = run(setup({ baked: false, tarball: true }), { RUNNER_VERSION: 'latest' });
    expectStoppedBeforeTheRunner(result, 'runner-install', /runner latest could not be installed/);
    expect(result.stderr).toContain('could not resolve the latest runner release');
  });

  it('refuses a checksum with "latest": one archive cannot be every future release', () => {
    const result = run(setup({ baked: false, tarball: true }), { RUNNER_VERSION: 'latest', STUB_LATEST: '2.330.1', RUNNER_SHA256: 'a'.repeat(64) });
    expectStoppedBeforeTheRunner(result, 'runner-install', /could not be installed/);
    expect(result.calls.some((call) => call.includes('releases/'))).toBe(false);
  });

  it('needs no resolution when the runner is baked into the image', () => {
    const result = run(setup(), { RUNNER_VERSION: 'latest' });
    expect(result.calls.some((call) => call.includes('releases/'))).toBe(false);
    expect(runnerStarted(result.calls)).toBe(true);
  });
});

describe('the boot report in CloudWatch Logs', () => {
  it('sends the boot log when the runner starts and how it ended, to the stream named after the instance', () => {
    const result = run(setup(), { STUB_RAN_JOB: '1' });
    const puts = result.calls.filter((call) => call.startsWith('aws logs'));
    expect(puts[0]).toBe(`aws logs create-log-stream --log-group-name ${BOOT_LOG_GROUP} --log-stream-name ${INSTANCE_ID}`);
    expect(puts.slice(1).every((call) => call.startsWith(`aws logs put-log-events --log-group-name ${BOOT_LOG_GROUP} --log-stream-name ${INSTANCE_ID} --log-events file://`))).toBe(true);
    expect(puts).toHaveLength(3); // the stream once, then one batch before and one after the runner
    expect(indexOf(result.calls, 'aws logs put-log-events')).toBeLessThan(started(result));
    expect(outcomes(result)).toEqual([
      expect.objectContaining({ outcome: 'runner-started', stage: 'runner', os: 'amzn 2023', arch: 'x86_64' }),
      expect.objectContaining({ outcome: 'runner-exited', exitStatus: 0, ranJob: true }),
    ]);
    expect(result.reports[0][0]).toContain(`instance ${INSTANCE_ID} of group runners-test`);
    // A clean run sends no diagnostic log.
    expect(result.reports[1].some((message) => message.includes('runner diagnostic log'))).toBe(false);
    expectConfigNeverShown(result);
  });

  it('includes the tail of the runner diagnostic log when the runner fails, with the JIT config redacted', () => {
    const diag = "Process terminated. Couldn't find a valid ICU package installed on the system.";
    const result = run(setup(), { STUB_RUNNER_EXIT: '134', STUB_RAN_JOB: '0', STUB_DIAG: diag, STUB_DIAG_CUT: '1' });
    const last = result.reports.at(-1)!;
    const runnerLog = last.find((message) => message.startsWith('runner diagnostic log Runner_20261202-100000-utc.log'));
    expect(runnerLog).toContain(diag);
    expect(runnerLog).toContain('[redacted]'); // the stub runner wrote its config into the log
    expect(outcomes(result).at(-1)).toMatchObject({ outcome: 'runner-exited', exitStatus: 134, ranJob: false });
    expect(terminateCalls(result.calls)).toHaveLength(1);
    expectConfigNeverShown(result);
  });

  it('still leaves the group when the report cannot be sent', () => {
    const s = setup();
    writeFileSync(`${s.bin}/aws-wrapper`, '#!/usr/bin/env bash\n[[ "$1" == logs ]] && exit 254\nexec aws "$@"\n', { mode: 0o755 });
    const result = run(s, { AWS_CLI: 'aws-wrapper' });
    expect(result.stderr).toContain(`could not send the boot report to ${BOOT_LOG_GROUP}`);
    expect(terminateCalls(result.calls)).toHaveLength(1);
  });
});
