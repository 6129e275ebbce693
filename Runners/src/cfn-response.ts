import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/**
 * The CloudFormation custom resource protocol, provider side. CloudFormation
 * sends a request (Create, Update or Delete) and then waits for one JSON
 * document PUT to the request's ResponseURL, a presigned S3 URL; without one it
 * waits until the resource's ServiceTimeout (1 to 3600 s, default 3600) and then
 * fails the operation ("Custom resource request and response reference",
 * docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref.html). The
 * body is at most 4096 bytes; PhysicalResourceId must be non-empty and the same
 * for every response of one resource: a different one on Update makes
 * CloudFormation treat it as a replacement and send a Delete for the old id
 * (crpg-ref-responses.html). After a FAILED Create, CloudFormation's rollback
 * sends a Delete with the id of that FAILED response (as aws-cdk#5525 relies on).
 * CloudFormation invokes the function asynchronously (Lambda developer guide,
 * services-cloudformation.html), so a thrown error makes Lambda invoke it again.
 */
export interface CustomResourceRequest {
  RequestType: 'Create' | 'Update' | 'Delete';
  RequestId: string;
  ResponseURL: string;
  ResourceType: string;
  LogicalResourceId: string;
  StackId: string;
  PhysicalResourceId?: string;
  ResourceProperties: Record<string, unknown>;
  OldResourceProperties?: Record<string, unknown>;
}

export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  NoEcho?: boolean;
  Data?: Record<string, string>;
}

export const MAX_RESPONSE_BYTES = 4096;

/** The response for one request; a long Reason is shortened so the body stays within CloudFormation's 4096 bytes. */
export function responseFor(
  request: CustomResourceRequest,
  outcome: { status: 'SUCCESS' | 'FAILED'; physicalResourceId: string; reason?: string; data?: Record<string, string> },
): CustomResourceResponse {
  const response: CustomResourceResponse = {
    Status: outcome.status,
    PhysicalResourceId: outcome.physicalResourceId,
    StackId: request.StackId,
    RequestId: request.RequestId,
    LogicalResourceId: request.LogicalResourceId,
    NoEcho: false,
    ...(outcome.reason ? { Reason: outcome.reason } : {}),
    ...(outcome.data ? { Data: outcome.data } : {}),
  };
  const overflow = Buffer.byteLength(JSON.stringify(response)) - MAX_RESPONSE_BYTES;
  if (overflow > 0 && response.Reason) response.Reason = `${response.Reason.slice(0, Math.max(0, response.Reason.length - overflow - 3))}...`;
  return response;
}

export type PutResponse = (url: string, body: string) => Promise<void>;

/**
 * PUTs the body to the presigned URL. The Content-Type header is sent empty,
 * as AWS's own cfn-response module does: the ResponseURL is a signature
 * version 2 presigned URL (AWSAccessKeyId, Expires, Signature in the example
 * of services-cloudformation.html), whose signature covers the Content-Type,
 * so any other value would be refused.
 */
export const putResponse: PutResponse = (url, body) =>
  new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'http:' ? httpRequest : httpsRequest;
    const req = send(
      target,
      { method: 'PUT', headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) }, timeout: 10_000 },
      (res) => {
        res.resume();
        res.on('end', () =>
          (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`response URL answered HTTP ${res.statusCode}`)),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('response URL did not answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });

/**
 * Sends the response, retrying a failed PUT with backoff. If every attempt
 * fails it throws: Lambda then retries the asynchronous invocation (twice), and
 * the handler, being idempotent, does its work again and answers again.
 */
export async function sendResponse(
  url: string,
  response: CustomResourceResponse,
  options: { put?: PutResponse; attempts?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const { put = putResponse, attempts = 4, sleep = (ms) => new Promise((r) => setTimeout(r, ms)) } = options;
  const body = JSON.stringify(response);
  for (let attempt = 1; ; attempt += 1) {
    try {
      await put(url, body);
      return;
    } catch (error) {
      if (attempt >= attempts) throw error;
      await sleep(500 * 2 ** (attempt - 1));
    }
  }
}
