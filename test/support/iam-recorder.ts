import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A recording reverse proxy in front of moto and dynalite. The product's
 * clients are pointed at it (AWS_ENDPOINT_URL), so what is recorded is what
 * the SDK really put on the wire, from sources or from a bundle alike, and no
 * production code knows about tests. Each call is attributed to the function
 * that signed it: every function runs with its own access key id (its name),
 * read back from the SigV4 Authorization header, as IAM identifies a caller by
 * its credentials.
 */
export interface RecordedCall {
  /** The access key id the request was signed with: the function (or instance) that sent it. */
  principal: string;
  /** SigV4 signing name of the service (credential scope), e.g. dynamodb, ssm, autoscaling. */
  service: string;
  region: string;
  /** Wire operation name: X-Amz-Target's suffix (JSON protocols) or the Action parameter (query protocols). */
  operation: string;
  /** Request parameters: the JSON body, or the form fields of a query-protocol body. */
  params: Record<string, any>;
  status: number;
}

export interface RecordingProxy {
  endpoint: string;
  calls: RecordedCall[];
  stop(): Promise<void>;
}

const SCOPE = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/;

export function parseAwsRequest(
  headers: IncomingMessage['headers'],
  body: string,
): Omit<RecordedCall, 'status'> {
  const scope = SCOPE.exec(String(headers.authorization ?? ''));
  if (!scope) throw new Error(`unsigned request reached the recorder: ${body.slice(0, 200)}`);
  const [, principal, region, service] = scope;
  const target = headers['x-amz-target'];
  if (typeof target === 'string') {
    return {
      principal,
      region,
      service,
      operation: target.slice(target.lastIndexOf('.') + 1),
      params: body ? JSON.parse(body) : {},
    };
  }
  const form = Object.fromEntries(new URLSearchParams(body));
  if (!form.Action)
    throw new Error(
      `cannot tell the ${service} operation of a request (no X-Amz-Target, no Action): ${body.slice(0, 200)}`,
    );
  const { Action, Version: _version, ...params } = form;
  return { principal, region, service, operation: Action, params };
}

/** An answer the proxy gives itself, for what the emulators do not model (it is recorded all the same). */
export type Answer = (
  call: Omit<RecordedCall, 'status'>,
) => { status: number; body: string; contentType: string } | undefined;

/** `upstream(service)` says where a signing name goes (dynalite for dynamodb, moto for the rest). */
export async function startRecordingProxy(
  upstream: (service: string) => string,
  answer: Answer = () => undefined,
): Promise<RecordingProxy> {
  const calls: RecordedCall[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let call: Omit<RecordedCall, 'status'>;
      try {
        call = parseAwsRequest(req.headers, raw.toString('utf8'));
      } catch (error) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
        return;
      }
      const own = answer(call);
      if (own) {
        calls.push({ ...call, status: own.status });
        res.writeHead(own.status, { 'content-type': own.contentType }).end(own.body);
        return;
      }
      const target = new URL(req.url ?? '/', upstream(call.service));
      const forward = httpRequest(
        target,
        { method: req.method, headers: { ...req.headers, host: target.host } },
        (upstreamRes) => {
          calls.push({ ...call, status: upstreamRes.statusCode ?? 0 });
          res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
          upstreamRes.pipe(res);
        },
      );
      forward.on('error', (error) => res.writeHead(502).end(String(error)));
      forward.end(raw);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
