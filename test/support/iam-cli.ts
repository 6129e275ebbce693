import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Operation } from './iam-actions';

/**
 * The `aws` CLI calls the runner bootstrap makes, as API operations. The CLI
 * command is the API operation in kebab case and its options are the request
 * parameters (AWS CLI reference); this table is written out per command so that
 * a call nobody mapped FAILS instead of being guessed, and names what to add.
 */
type Args = Record<string, string | true>;
const CLI_CALLS: Record<
  string,
  { service: string; operation: string; params(args: Args): Record<string, unknown> }
> = {
  'ssm get-parameter': {
    service: 'ssm',
    operation: 'GetParameter',
    params: (a) => ({ Name: a['--name'], WithDecryption: a['--with-decryption'] === true }),
  },
  'ssm delete-parameter': {
    service: 'ssm',
    operation: 'DeleteParameter',
    params: (a) => ({ Name: a['--name'] }),
  },
  'autoscaling terminate-instance-in-auto-scaling-group': {
    service: 'autoscaling',
    operation: 'TerminateInstanceInAutoScalingGroup',
    params: (a) => ({ InstanceId: a['--instance-id'] }),
  },
  'autoscaling complete-lifecycle-action': {
    service: 'autoscaling',
    operation: 'CompleteLifecycleAction',
    params: (a) => ({ AutoScalingGroupName: a['--auto-scaling-group-name'] }),
  },
  // The boot log (boot outcome and the runner's diagnostic log, issue 13).
  'logs create-log-stream': {
    service: 'logs',
    operation: 'CreateLogStream',
    params: (a) => ({ logGroupName: a['--log-group-name'], logStreamName: a['--log-stream-name'] }),
  },
  'logs put-log-events': {
    service: 'logs',
    operation: 'PutLogEvents',
    params: (a) => ({ logGroupName: a['--log-group-name'], logStreamName: a['--log-stream-name'] }),
  },
};

/** Global options that take a value (AWS CLI "global options"); they say nothing about the request. */
const GLOBAL_WITH_VALUE = new Set([
  '--region',
  '--output',
  '--query',
  '--profile',
  '--endpoint-url',
  '--cli-read-timeout',
  '--cli-connect-timeout',
  '--color',
]);

export function parseCliArgs(argv: string[]): { command: string; args: Args } {
  const words: string[] = [];
  const args: Args = {};
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (!word.startsWith('--')) {
      words.push(word);
      continue;
    }
    const [key, inline] = word.split(/=(.*)/s, 2);
    if (inline !== undefined) args[key] = inline;
    else if (GLOBAL_WITH_VALUE.has(key) || (i + 1 < argv.length && !argv[i + 1].startsWith('--')))
      args[key] = argv[++i];
    else args[key] = true;
  }
  return { command: words.slice(0, 2).join(' '), args };
}

export function cliOperation(principal: string, argv: string[]): Operation {
  const { command, args } = parseCliArgs(argv);
  const mapped = CLI_CALLS[command];
  if (!mapped)
    throw new Error(`unmapped aws call: ${command} — add it to the table in test/support/iam-cli.ts`);
  return {
    principal,
    service: mapped.service,
    operation: mapped.operation,
    params: mapped.params(args),
    source: `aws ${command}`,
  };
}

/**
 * A recording `aws`: writes each argv as one JSON line and answers like the
 * CLI would for the calls the bootstrap waits on (the config, then success).
 * Any other call succeeds silently, so that it is recorded and reaches the
 * mapping above, where an unknown one fails the test by name.
 */
export function writeRecordingAws(bin: string, jitConfig: string): void {
  mkdirSync(bin, { recursive: true });
  const path = join(bin, 'aws');
  writeFileSync(
    path,
    `#!/usr/bin/env bash
python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' "$@" >> "$AWS_RECORD"
case "$1 $2" in
  "ssm get-parameter") printf '%s\\n' '${jitConfig}' ;;
  "autoscaling terminate-instance-in-auto-scaling-group") echo '{"Activity":{"StatusCode":"InProgress"}}' ;;
esac
exit 0
`,
  );
  chmodSync(path, 0o755);
}

export function readRecordedCli(file: string): string[][] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as string[]);
}

/** The instance around the bootstrap: IMDSv2 (token, instance id) and a runner that runs its one job and exits. */
export function writeInstanceStubs(bin: string, runnerDir: string, instanceId: string): void {
  mkdirSync(runnerDir, { recursive: true });
  const write = (path: string, text: string) => {
    writeFileSync(path, text);
    chmodSync(path, 0o755);
  };
  write(
    join(bin, 'curl'),
    `#!/usr/bin/env bash
case "$*" in
  *latest/api/token*) printf 'IMDS-TOKEN' ;;
  *meta-data/instance-id*) printf '${instanceId}' ;;
  *) exit 22 ;;
esac
`,
  );
  write(join(runnerDir, 'run.sh'), '#!/usr/bin/env bash\nexit 0\n');
}
