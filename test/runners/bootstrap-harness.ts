import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs the real Runners/bootstrap/runner-bootstrap.sh on a pretend image: a stub /etc/os-release,
 * stub package managers (dnf, rpm, apt-get, dpkg-query, snap) that "install" by adding to a list and
 * dropping the tools a package provides (git, nft) into PATH, stub ldconfig (libicu visible once a
 * libicu package is installed), and stub aws, curl, nft, uname, shutdown and run.sh. PATH holds only
 * those stubs and a few host basics, so nothing of the test machine leaks in. Every stub logs its argv.
 */
export const SCRIPT = join(__dirname, '../../Runners/bootstrap/runner-bootstrap.sh');
export const INSTANCE_ID = 'i-0123456789abcdef0';
export const PREFIX = '/runner-autoscaler/runners';
export const BOOT_LOG_GROUP = '/runner-autoscaler/runners-test/boot';
export const JIT = 'eyJTRU5USU5FTCI6ImppdC1jb25maWctc2VjcmV0LTkxNzMifQ==SENTINEL';

/** What the images' /etc/os-release say (the fields the bootstrap reads are ID and VERSION_ID). */
export const OS_RELEASE = {
  'amzn-2023': 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\nPLATFORM_ID="platform:al2023"\n',
  'ubuntu-24.04': 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n',
  'debian-12': 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
} as const;
export type Image = keyof typeof OS_RELEASE;

/** Everything the bootstrap installs on either supported image: a "baked" image has all of it. */
export const ALL_PACKAGES = [
  ...['libicu', 'krb5-libs', 'openssl-libs', 'zlib', 'tar', 'gzip', 'git', 'nftables'],
  ...['libicu74', 'libkrb5-3', 'libssl3t64', 'zlib1g'],
];

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
  "logs create-log-stream") exit 0 ;;
  "logs put-log-events")
    n=$(ls "$STUB_DIR"/report-*.json 2>/dev/null | wc -l)
    for arg in "$@"; do [[ "$arg" == file://* ]] && cp "\${arg#file://}" "$STUB_DIR/report-$n.json"; done
    echo '{"nextSequenceToken":"1"}'; exit 0 ;;
esac
echo "unexpected aws call" >&2; exit 2
`;

const CURL_STUB = `#!/usr/bin/env bash
echo "curl $*" >> "$STUB_LOG"
case "$*" in
  *--connect-timeout*latest/api/token*) # the runner user's probe: refused while the block holds
    [[ "\${STUB_IMDS_REACHABLE:-0}" == 1 ]] || { echo "curl: (7) Failed to connect to 169.254.169.254 port 80" >&2; exit 7; } ;;
  *latest/api/token*) printf 'IMDS-TOKEN' ;;
  *meta-data/instance-id*) printf '${INSTANCE_ID}' ;;
  *github.com/actions/runner/releases/latest*)
    [[ -n "\${STUB_LATEST:-}" ]] || exit 22
    printf 'https://github.com/actions/runner/releases/tag/v%s' "$STUB_LATEST" ;;
  *github.com/actions/runner/releases/download/*)
    while [[ $# -gt 0 ]]; do if [[ "$1" == "-o" ]]; then cp "$STUB_DIR/runner.tar.gz" "$2"; fi; shift; done ;;
  *) exit 22 ;;
esac
`;

/** dnf and apt-get: the first word that is not an option is the verb, the rest are packages. */
const PACKAGE_MANAGER_STUB = `#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$STUB_LOG"
verb=""; packages=()
while [[ $# -gt 0 ]]; do
  case "$1" in -o) shift ;; -*) ;; *) if [[ -z "$verb" ]]; then verb="$1"; else packages+=("$1"); fi ;; esac
  shift
done
[[ "$verb" == install ]] || exit 0
if [[ "\${STUB_INSTALL_FAIL:-0}" == 1 ]]; then echo "Error: Unable to find a match: \${packages[0]}" >&2; exit 1; fi
for p in "\${packages[@]}"; do
  [[ " \${STUB_INSTALL_NOOP:-} " == *" $p "* ]] && continue # claims success, installs nothing
  echo "$p" >> "$STUB_DIR/installed"
  case "$p" in git) cp "$STUB_DIR/tools/git" "$STUB_BIN/git" ;; nftables) cp "$STUB_DIR/tools/nft" "$STUB_BIN/nft" ;; esac
done
`;

const NFT_STUB = `#!/usr/bin/env bash
echo "nft $*" >> "$STUB_LOG"
if [[ "$1" == list ]]; then [[ "\${STUB_NFT_LOSE_RULES:-0}" == 1 ]] || cat "$STUB_DIR/nft-rules" 2>/dev/null; exit 0; fi
if [[ "\${STUB_NFT_FAIL:-0}" == 1 ]]; then echo "Error: Could not process rule: No such file or directory" >&2; exit 1; fi
if [[ "$1 $2" == "add rule" ]]; then echo "\${*:5}" >> "$STUB_DIR/nft-rules"; fi
`;

const STUBS: Record<string, string> = {
  rpm: '#!/usr/bin/env bash\ngrep -qx "${@: -1}" "$STUB_DIR/installed"\n',
  'dpkg-query': '#!/usr/bin/env bash\ngrep -qx "${@: -1}" "$STUB_DIR/installed" && printf "install ok installed"\n',
  // Like the real cache: the ICU line early, then far more than a pipe buffer holds.
  ldconfig:
    '#!/usr/bin/env bash\nif grep -q "^libicu" "$STUB_DIR/installed"; then printf "\\tlibicuuc.so.74 (libc6,x86-64) => /usr/lib64/libicuuc.so.74\\n"; fi\n' +
    'for i in $(seq 1 4000); do printf "\\tlibother%s.so.1 (libc6,x86-64) => /usr/lib64/libother%s.so.1 padding-padding-padding\\n" $i $i; done\n',
  snap: '#!/usr/bin/env bash\necho "snap $*" >> "$STUB_LOG"\nif [[ "$1 $2" == "install aws-cli" ]]; then mkdir -p "$SNAP_BIN" && cp "$STUB_DIR/tools/aws" "$SNAP_BIN/aws"; fi\n',
  uname: '#!/usr/bin/env bash\nif [[ "$1" == -m ]]; then echo "${STUB_ARCH:-x86_64}"; else echo Linux; fi\n',
  shutdown: '#!/usr/bin/env bash\necho "shutdown $*" >> "$STUB_LOG"\n',
  curl: CURL_STUB,
  dnf: PACKAGE_MANAGER_STUB,
  'apt-get': PACKAGE_MANAGER_STUB,
};
const TOOLS: Record<string, string> = {
  aws: AWS_STUB,
  git: '#!/usr/bin/env bash\necho "git version 2.47.1"\n',
  nft: NFT_STUB,
  iptables: '#!/usr/bin/env bash\necho "$(basename "$0") $*" >> "$STUB_LOG"\n[[ "$1" != -C || "${STUB_IPTABLES_LOST:-0}" != 1 ]]\n',
};
const HOST_BASICS = ['bash', 'env', 'date', 'cat', 'tail', 'head', 'grep', 'mkdir', 'rm', 'tar', 'gzip', 'sha256sum', 'sleep', 'id', 'chown', 'mktemp', 'cut', 'tr', 'cp', 'chmod', 'ls', 'wc', 'basename', 'sed', 'sort', 'seq', 'iconv'];

/** Records a digest of the config it was given, never the config; can write _diag logs like the runner. */
const RUN_SH = `#!/usr/bin/env bash
digest=$(printf '%s' "$2" | sha256sum | cut -d' ' -f1)
echo "run.sh $1 sha256:$digest cwd:$(pwd)" >> "$STUB_LOG"
mkdir -p _diag
printf '[2026-12-02 10:00:00Z INFO Runner] Runner is starting, args %s\\n%s\\n' "$2" "\${STUB_DIAG:-}" > _diag/Runner_20261202-100000-utc.log
if [[ "\${STUB_DIAG_CUT:-0}" == 1 ]]; then printf 'cut mid-character \\xe2\\x82' >> _diag/Runner_20261202-100000-utc.log; fi
if [[ "\${STUB_RAN_JOB:-1}" == 1 ]]; then echo "[Worker] Job completed." > _diag/Worker_20261202-100010-utc.log; fi
exit "\${STUB_RUNNER_EXIT:-0}"
`;

export interface Setup {
  dir: string;
  bin: string;
  runnerDir: string;
}

export interface SetupOptions {
  baked?: boolean; // the runner is in RUNNER_DIR already (default true)
  tarball?: boolean; // the download serves a runner archive
  image?: Image | 'none';
  installed?: string[]; // packages present on the image (default: all, a baked image)
  tools?: Array<keyof typeof TOOLS>; // extra tools on PATH; git/nft follow `installed` unless listed
  awsOnPath?: boolean; // default true
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function writeExecutable(path: string, text: string): void {
  writeFileSync(path, text);
  chmodSync(path, 0o755);
}

export function setup(options: SetupOptions = {}): Setup {
  const dir = mkdtempSync(join(tmpdir(), 'bootstrap-'));
  dirs.push(dir);
  const bin = join(dir, 'bin');
  const runnerDir = join(dir, 'actions-runner');
  for (const sub of ['bin', 'sys', 'tools']) mkdirSync(join(dir, sub));
  for (const [name, text] of Object.entries(STUBS)) writeExecutable(join(bin, name), text);
  for (const [name, text] of Object.entries(TOOLS)) writeExecutable(join(dir, 'tools', name), text);
  for (const name of HOST_BASICS) {
    const path = execFileSync('bash', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    symlinkSync(path, join(dir, 'sys', name));
  }
  const installed = options.installed ?? ALL_PACKAGES;
  writeFileSync(join(dir, 'installed'), installed.map((p) => `${p}\n`).join(''));
  const tools = new Set(options.tools ?? []);
  if (installed.includes('git')) tools.add('git');
  if (installed.includes('nftables')) tools.add('nft');
  if (options.awsOnPath !== false) tools.add('aws');
  for (const tool of tools) writeExecutable(join(bin, tool), TOOLS[tool]);
  const image = options.image ?? 'amzn-2023';
  if (image !== 'none') writeFileSync(join(dir, 'os-release'), OS_RELEASE[image]);
  if (options.baked !== false) {
    mkdirSync(runnerDir);
    writeExecutable(join(runnerDir, 'run.sh'), RUN_SH);
  }
  if (options.tarball) {
    const content = join(dir, 'tarball-content');
    mkdirSync(content);
    writeExecutable(join(content, 'run.sh'), RUN_SH);
    execFileSync('tar', ['-czf', join(dir, 'runner.tar.gz'), '-C', content, 'run.sh']);
  }
  writeFileSync(join(dir, 'parameter'), JIT);
  return { dir, bin, runnerDir };
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[];
  dir: string;
  /** The CloudWatch Logs batches the instance sent, in order: each a list of messages. */
  reports: string[][];
}

export function run(s: Setup, env: Record<string, string> = {}): Run {
  const log = join(s.dir, 'calls.log');
  const result = spawnSync('bash', [SCRIPT], {
    encoding: 'utf8',
    timeout: 20000,
    env: {
      PATH: `${s.bin}:${join(s.dir, 'sys')}`,
      HOME: s.dir,
      TMPDIR: s.dir,
      STUB_LOG: log,
      STUB_DIR: s.dir,
      STUB_BIN: s.bin,
      SNAP_BIN: join(s.dir, 'snap-bin'),
      OS_RELEASE_FILE: join(s.dir, 'os-release'),
      AWS_REGION: 'eu-west-1',
      RUNNER_CONFIG_PREFIX: PREFIX,
      RUNNER_VERSION: '2.329.0',
      AUTO_SCALING_GROUP_NAME: 'runners-test',
      BOOT_LOG_GROUP,
      RUNNER_DIR: s.runnerDir,
      RUN_AS: 'env',
      CREATE_RUNNER_USER: 'false',
      BLOCK_IMDS_FOR_RUNNER: 'false',
      POLL_INTERVAL_SECONDS: '0.05',
      INSTALL_RETRY_SECONDS: '0',
      ...env,
    },
  });
  const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
  const reports = readdirSync(s.dir)
    .filter((name) => /^report-\d+\.json$/.test(name))
    .sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]))
    .map((name) => readFileSync(join(s.dir, name)))
    .map((bytes) => {
      // The CLI reads the batch as UTF-8: a byte sequence that does not survive decoding would be refused.
      expect(Buffer.from(bytes.toString('utf8'), 'utf8').equals(bytes)).toBe(true);
      return bytes;
    })
    .map((bytes) => (JSON.parse(bytes.toString('utf8')) as Array<{ timestamp: number; message: string }>).map((e) => e.message));
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls, dir: s.dir, reports };
}

/** The last line of each batch: the JSON summary a metric filter matches. */
export const outcomes = (result: Run) => result.reports.map((batch) => JSON.parse(batch[batch.length - 1]) as Record<string, unknown>);

export function expectConfigNeverShown(result: Run): void {
  const texts = [result.stdout, result.stderr, result.calls.join('\n'), JSON.stringify(result.reports)];
  for (const text of texts) {
    expect(text).not.toContain(JIT);
    expect(text).not.toContain('SENTINEL');
  }
}

export const terminateCalls = (calls: string[]) => calls.filter((call) => call.includes('terminate-instance-in-auto-scaling-group'));
export const runnerStarted = (calls: string[]) => calls.some((call) => call.startsWith('run.sh'));
export const indexOf = (calls: string[], prefix: string) => calls.findIndex((call) => call.startsWith(prefix));
