import { sign } from '@octokit/webhooks-methods';
import type { ApiState } from '../../local/stack';

/** Polls until `probe` returns something truthy; fails with `what` after the deadline (a bound, not a timing assertion). */
export async function until<T>(probe: () => Promise<T | undefined | false | null> | T | undefined | false | null, what: string, ms = 20000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as T;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function getState(url: string): Promise<ApiState> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return (await response.json()) as ApiState;
}

export async function queueJobs(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

export async function postWebhook(url: string, body: string | Buffer, headers: Record<string, string>): Promise<{ status: number; message: string }> {
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  let message = text;
  try {
    message = JSON.parse(text).message ?? text;
  } catch {
    /* not JSON */
  }
  return { status: response.status, message };
}

export async function signed(secret: string, body: string): Promise<string> {
  return sign(secret, body);
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const AUTOSCALER_PARTS = ['AutoScaler/template.yaml', 'AutoScaler/src/handlers.ts'];

/** The local stack runs the AutoScaler's own template and handlers; until they exist, say so and skip. */
export function describeWithAutoScaler(title: string, body: () => void): void {
  const missing = AUTOSCALER_PARTS.filter((part) => !existsSync(join(ROOT, part)));
  if (missing.length > 0) {
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED "${title}": ${missing.join(', ')} not in this tree yet`);
    describe.skip(`${title} [skipped: ${missing.join(', ')} missing]`, () => {
      it('needs the AutoScaler stack', () => undefined);
    });
    return;
  }
  describe(title, body);
}
