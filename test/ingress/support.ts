import { sign } from '@octokit/webhooks-methods';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import examples from '@octokit/webhooks-examples';
import type { WebhookLogger } from '../../Infrastructure/src/webhook';

export const TEST_SECRET = 'test-secret-4f9a1c0e7b';
export const PREVIOUS_SECRET = 'previous-secret-8d2e6b';

export interface DeliveryOptions {
  event?: string | null;
  delivery?: string | null;
  secret?: string;
  /** Overrides the computed signature; null leaves the header out. */
  signature?: string | null;
  contentType?: string | null;
  /** Send the body base64-encoded, as API Gateway does for binary media types. */
  base64?: boolean;
  method?: string;
  extraHeaders?: Record<string, string>;
}

/** An API Gateway HTTP API (v2) event as GitHub's delivery would produce it. */
export async function delivery(body: string, options: DeliveryOptions = {}): Promise<APIGatewayProxyEventV2> {
  const headers: Record<string, string> = { 'user-agent': 'GitHub-Hookshot/test', ...options.extraHeaders };
  if (options.event !== null) headers['x-github-event'] = options.event ?? 'workflow_job';
  if (options.delivery !== null) headers['x-github-delivery'] = options.delivery ?? '72d3162e-cc78-11e3-81ab-4c9367dc0958';
  if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
  const signature = options.signature === undefined ? await sign(options.secret ?? TEST_SECRET, body) : options.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  return {
    version: '2.0',
    routeKey: 'POST /webhook',
    rawPath: '/webhook',
    rawQueryString: '',
    headers,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method: options.method ?? 'POST', path: '/webhook', protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'GitHub-Hookshot/test' },
      requestId: 'req',
      routeKey: 'POST /webhook',
      stage: '$default',
      time: '23/Nov/2026:03:00:00 +0000',
      timeEpoch: 0,
    },
    body: options.base64 ? Buffer.from(body, 'utf8').toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
  };
}

/** GitHub's form-encoded delivery: `payload=<url-encoded JSON>`, signed over those bytes. */
export function formBody(json: string): string {
  return new URLSearchParams({ payload: json }).toString();
}

type Example = Record<string, any>;

export function examplesOf(name: string): Example[] {
  const entry = (examples as unknown as Array<{ name: string; examples: Example[] }>).find((item) => item.name === name);
  if (!entry) throw new Error(`no ${name} examples in @octokit/webhooks-examples`);
  return entry.examples;
}

/** A valid queued workflow_job payload for a self-hosted linux x64 job, to derive bad cases from. */
export function queuedJob(overrides: { labels?: string[] } = {}): Example {
  const base = structuredClone(examplesOf('workflow_job').find((example) => example.action === 'queued')!);
  base.workflow_job.labels = overrides.labels ?? ['self-hosted', 'Linux', 'x64'];
  return base;
}

export interface LogRecorder extends WebhookLogger {
  lines: Array<Record<string, unknown>>;
}

/** Records log lines as the Powertools logger would emit them (message + persistent keys + extras). */
export function recordingLogger(): LogRecorder {
  const keys: Record<string, unknown> = {};
  const lines: Array<Record<string, unknown>> = [];
  const write = (level: string) => (message: string, ...extra: Record<string, unknown>[]) =>
    lines.push({ level, message, ...keys, ...Object.assign({}, ...extra) });
  return {
    lines,
    info: write('INFO'),
    warn: write('WARN'),
    error: write('ERROR'),
    appendKeys: (added) => Object.assign(keys, added),
    removeKeys: (removed) => removed.forEach((key) => delete keys[key]),
  };
}
