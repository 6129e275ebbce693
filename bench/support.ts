import { createHmac, randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import type { IncomingMessage } from 'node:http';
import { percentile as sortedPercentile } from '../sim/simulate';

/** Shared helpers of the benchmark modules (bench/lambdas.ts, bench/ingress.ts, bench/pipeline.ts). */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  node: string;
  platform: string;
  arch: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return { cpuModel: list[0]?.model?.trim() ?? 'unknown', cores: list.length, node: process.version, platform: process.platform, arch: process.arch };
}

/** Nearest-rank percentile of unsorted values (p in 0..100); 0 for none. The simulator's definition. */
export function percentile(values: readonly number[], p: number): number {
  return sortedPercentile([...values].sort((a, b) => a - b), p);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

/** GitHub's `X-Hub-Signature-256` for a body. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const examples = require('@octokit/webhooks-examples') as Array<{ name: string; examples: Array<Record<string, any>> }>;

/** A real queued `workflow_job` example payload (@octokit/webhooks-examples), with the job id, run id and labels given. */
export function workflowJobPayload(jobId: number, labels: readonly string[], action: 'queued' | 'in_progress' | 'completed' = 'queued'): Record<string, any> {
  const template = examples.find((d) => d.name === 'workflow_job')?.examples.find((e) => e.action === 'queued' && e.installation);
  if (!template) throw new Error('@octokit/webhooks-examples has no queued workflow_job example');
  const payload = structuredClone(template);
  payload.action = action;
  delete payload.deployment;
  payload.workflow_job = { ...payload.workflow_job, id: jobId, run_id: 1_000_000 + jobId, run_attempt: 1, labels: [...labels], status: action, created_at: new Date().toISOString() };
  return payload;
}

export interface SignedDelivery {
  body: string;
  headers: Record<string, string>;
}

export function signedDelivery(secret: string, payload: unknown, deliveryId: string = randomUUID()): SignedDelivery {
  const body = JSON.stringify(payload);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/bench',
      'x-github-event': 'workflow_job',
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': signBody(secret, body),
    },
  };
}

export async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Runs `main` and prints its JSON result when the module is the entry point (`npx tsx bench/<name>.ts`). */
export function runStandalone(module: NodeJS.Module | undefined, main: () => Promise<unknown>): void {
  if (module && require.main === module) {
    main().then(
      (result) => {
        console.log(JSON.stringify(result, null, 2));
        process.exit(0);
      },
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  }
}
