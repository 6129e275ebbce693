import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { CloudFormationClient, DescribeStacksCommand, type Stack } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DEFAULT_POOL } from '../lib/settings';

/** Exit codes: 0 ok, 1 invalid input or a failed check, 2 conflicting concurrent edit, 3 cannot reach or find the deployment. */
export const EXIT = { ok: 0, invalid: 1, conflict: 2, unreachable: 3 } as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.unreachable,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface GlobalOptions {
  region?: string;
  profile?: string;
  endpoint?: string;
  stackPrefix: string;
  table?: string;
  pool: string;
  json: boolean;
  /** A running local mode (`npm start`): its base URL; /api/state gives the DynamoDB endpoint, table and GitHub URL. */
  local?: string;
  githubUrl?: string;
}

export const DEFAULT_STACK_PREFIX = 'runner-autoscaler';

export function stackNames(prefix: string): { infrastructure: string; autoScaler: string; runners: string } {
  return { infrastructure: `${prefix}-infrastructure`, autoScaler: `${prefix}-autoscaler`, runners: `${prefix}-runners` };
}

/** What local mode's GET /api/state returns (the part the CLI reads). */
export interface LocalState {
  time: string;
  pool: string;
  tableName: string;
  group: { name: string; min: number; max: number; desired: number };
  instances: Array<{ id: string; lifecycle: string; market: string; instanceType?: string; status: string; jobId: number | null; launchedAt: string }>;
  jobs?: { queued: number; inProgress: number; completed: number };
  decisions?: Array<{ trigger: string; time: string; action: string; target: number | null; current: number | null; reason: string | null; status?: string; error?: string }>;
  settings?: Record<string, unknown>;
  endpoints: { dynamodb: string; github?: string; webhook?: string; dashboard?: string; state?: string };
  rules?: Array<{ name: string; kind: string; schedule?: string }>;
  mode?: string;
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname;
    return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
  } catch {
    return false;
  }
}

/**
 * Builds the AWS clients and finds the table from the global options, lazily:
 * `settings` never touches CloudFormation when --table is given, and nothing
 * reads credentials until a command needs them.
 */
export class CliContext {
  private readonly clients = new Map<string, unknown>();
  private localStatePromise: Promise<LocalState> | undefined;
  private readonly stackCache = new Map<string, Promise<Stack | null>>();

  constructor(
    readonly options: GlobalOptions,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  get pool(): string {
    return this.options.pool || DEFAULT_POOL;
  }

  get stacks() {
    return stackNames(this.options.stackPrefix || DEFAULT_STACK_PREFIX);
  }

  /** Local mode's /api/state (cached for the command's lifetime). */
  localState(): Promise<LocalState> {
    const base = this.options.local;
    if (!base) return Promise.reject(new CliError('no --local URL given'));
    this.localStatePromise ??= (async () => {
      const url = new URL('/api/state', base).toString();
      let response: Response;
      try {
        response = await this.fetchImpl(url, { signal: AbortSignal.timeout(5000) });
      } catch (error) {
        throw new CliError(`cannot reach local mode at ${url} (${(error as Error).message}); is \`npm start\` running?`);
      }
      if (!response.ok) throw new CliError(`local mode at ${url} answered ${response.status}`);
      return (await response.json()) as LocalState;
    })();
    return this.localStatePromise;
  }

  /** --endpoint wins; with --local alone, DynamoDB is local mode's dynalite. */
  private async dynamoEndpoint(): Promise<string | undefined> {
    if (this.options.endpoint) return this.options.endpoint;
    if (this.options.local) return (await this.localState()).endpoints.dynamodb;
    return undefined;
  }

  private async clientConfig(endpoint?: string) {
    const resolved = endpoint ?? this.options.endpoint;
    return {
      region: this.options.region ?? (resolved ? 'us-east-1' : undefined),
      ...(this.options.profile ? { profile: this.options.profile } : {}),
      ...(resolved ? { endpoint: resolved } : {}),
      // Emulators on this machine (dynalite, moto) accept any key; never look for real ones for them.
      ...(resolved && isLoopback(resolved) && !this.options.profile ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
      maxAttempts: 4,
    };
  }

  private async client<T>(name: string, make: () => Promise<T>): Promise<T> {
    if (!this.clients.has(name)) this.clients.set(name, make());
    return (await this.clients.get(name)) as T;
  }

  doc(): Promise<DynamoDBDocumentClient> {
    return this.client('dynamodb', async () =>
      DynamoDBDocumentClient.from(new DynamoDBClient(await this.clientConfig(await this.dynamoEndpoint())), {
        marshallOptions: { removeUndefinedValues: true },
      }),
    );
  }

  cloudFormation(): Promise<CloudFormationClient> {
    return this.client('cloudformation', async () => new CloudFormationClient(await this.clientConfig()));
  }

  ssm(): Promise<SSMClient> {
    return this.client('ssm', async () => new SSMClient(await this.clientConfig()));
  }

  autoScaling(): Promise<AutoScalingClient> {
    return this.client('autoscaling', async () => new AutoScalingClient(await this.clientConfig()));
  }

  ec2(): Promise<EC2Client> {
    return this.client('ec2', async () => new EC2Client(await this.clientConfig()));
  }

  eventBridge(): Promise<EventBridgeClient> {
    return this.client('eventbridge', async () => new EventBridgeClient(await this.clientConfig()));
  }

  /** The stack, or null when it does not exist. Other errors (credentials, network) propagate. */
  describeStack(name: string): Promise<Stack | null> {
    if (!this.stackCache.has(name)) {
      this.stackCache.set(
        name,
        (async () => {
          const cfn = await this.cloudFormation();
          try {
            const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: name }));
            return Stacks?.[0] ?? null;
          } catch (error) {
            if (/does not exist/i.test((error as Error).message ?? '')) return null;
            throw error;
          }
        })(),
      );
    }
    return this.stackCache.get(name)!;
  }

  async stackOutputs(name: string): Promise<Record<string, string> | null> {
    const stack = await this.describeStack(name);
    if (!stack) return null;
    return Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
  }

  /** --table, else local mode's table, else the AutoScaler stack's table output. */
  async tableName(): Promise<string> {
    if (this.options.table) return this.options.table;
    if (this.options.local && !this.options.endpoint) return (await this.localState()).tableName;
    const stack = this.stacks.autoScaler;
    let outputs: Record<string, string> | null;
    try {
      outputs = await this.stackOutputs(stack);
    } catch (error) {
      throw new CliError(
        `cannot read stack ${stack} to find the table (${(error as Error).message}); pass --table NAME, or check --region/--profile/--stack-prefix`,
      );
    }
    if (!outputs) throw new CliError(`stack ${stack} does not exist; pass --table NAME or the right --stack-prefix/--region`);
    const table = tableOutput(outputs);
    if (!table) throw new CliError(`stack ${stack} has no table output (looked for TableName); pass --table NAME`);
    return table;
  }

  destroy(): void {
    for (const client of this.clients.values()) {
      void Promise.resolve(client)
        .then((c) => (c as { destroy?: () => void }).destroy?.())
        .catch(() => undefined);
    }
  }
}

/** The AutoScaler stack's table output: `TableName`, or any output whose key ends in `TableName`/`Table`. */
export function tableOutput(outputs: Record<string, string>): string | undefined {
  if (outputs.TableName) return outputs.TableName;
  const key = Object.keys(outputs).find((k) => /Table(Name)?$/.test(k));
  return key ? outputs[key] : undefined;
}
