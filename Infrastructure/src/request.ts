import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/**
 * Turns an API Gateway HTTP API (payload v2) event into the plain facts the
 * webhook decision needs. The signature covers the exact bytes GitHub sent, so
 * the raw body is kept as it arrived (base64 decoded when API Gateway encoded it)
 * and only parsed after the signature has been checked.
 */

/** GitHub caps deliveries at 25 MB; workflow_job payloads are a few KB. Anything above this is not ours. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface WebhookRequest {
  method: string;
  headers: Record<string, string>;
  rawBody: Buffer;
}

export function readRequest(event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded' | 'headers'> & {
  requestContext?: { http?: { method?: string } };
}): WebhookRequest {
  const method = (event.requestContext?.http?.method ?? 'POST').toUpperCase();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (typeof value !== 'string') continue;
    const key = name.toLowerCase();
    // API Gateway joins repeated headers with a comma; local servers may hand both copies over separately.
    headers[key] = key in headers ? `${headers[key]},${value}` : value;
  }
  const body = event.body ?? '';
  const rawBody = event.isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8');
  return { method, headers, rawBody };
}

/** Case-insensitive header lookup; an empty or whitespace-only value counts as missing. */
export function header(headers: Record<string, string>, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() === wanted) return value.trim() === '' ? undefined : value.trim();
  }
  return undefined;
}

export type ContentKind = 'json' | 'form';

/**
 * GitHub offers two content types for a webhook. A missing header is read as
 * JSON (that is what GitHub sends by default); anything else is refused.
 */
export function contentKind(contentType: string | undefined): ContentKind | null {
  if (contentType === undefined) return 'json';
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  if (mediaType === 'application/json') return 'json';
  if (mediaType === 'application/x-www-form-urlencoded') return 'form';
  return null;
}

export type ParsedBody = { ok: true; payload: Record<string, unknown> } | { ok: false; reason: string };

/**
 * Parses the verified body. Form deliveries carry the JSON document in the
 * `payload` field; the signature was computed over the form-encoded bytes.
 */
export function parseBody(rawBody: string, kind: ContentKind): ParsedBody {
  let json = rawBody;
  if (kind === 'form') {
    const payload = new URLSearchParams(rawBody).get('payload');
    if (payload === null) return { ok: false, reason: 'form-encoded body has no payload field' };
    json = payload;
  }
  if (json.trim() === '') return { ok: false, reason: 'body is empty' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return { ok: false, reason: 'body is not valid JSON' };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { ok: false, reason: 'body is not a JSON object' };
  }
  return { ok: true, payload: parsed as Record<string, unknown> };
}
