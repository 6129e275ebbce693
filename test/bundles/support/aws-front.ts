import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * One AWS endpoint for the bundles (AWS_ENDPOINT_URL), in front of the real
 * emulators: DynamoDB (X-Amz-Target DynamoDB_*) goes to dynalite, everything
 * else to moto_server. It forwards bytes unchanged and records what each
 * bundle actually sent (service from the SigV4 scope, action, status, the
 * user agent, the access key), so a case can assert the calls a handler made
 * and the build's plugins can be checked on the wire.
 *
 * Two answers are its own, because moto has no model for them:
 * - Auto Scaling CompleteLifecycleAction (moto 5 does not implement it): a
 *   pending action registered with `pendingLifecycleAction` completes once;
 *   anything else gets Auto Scaling's real error, a `ValidationError`
 *   ("No active Lifecycle Action found"), in its awsQuery XML;
 * - DynamoDB DescribeEndpoints (endpoint discovery, dynalite does not serve
 *   it): answered with `localhost`, so a bundle that discovered its endpoint
 *   shows it in the Host header of the requests that follow.
 */
export interface AwsCall {
  service: string;
  action: string;
  status: number;
  host: string;
  userAgent: string;
  accessKeyId: string;
  hasSessionToken: boolean;
  body: string;
}

/** A service error the front answers instead of forwarding, in the service's own wire format. */
export interface InjectedError {
  service: string;
  action: string;
  status: number;
  code: string;
  message: string;
  /** Only requests whose body contains this (a group or table name, say). */
  bodyIncludes?: string;
}

export interface AwsFront {
  endpoint: string;
  calls: AwsCall[];
  /**
   * Answers the next matching request with this error, once: for a fault an
   * emulator cannot produce (moto answers an Auto Scaling call it cannot model
   * with an HTML 500), such as ScalingActivityInProgress.
   */
  injectError(error: InjectedError): void;
  pendingLifecycleAction(instanceId: string, token: string): void;
  completedLifecycleActions: Array<{ instanceId: string; result: string }>;
  stop(): Promise<void>;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

const ASG_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

/** An error body as the service's protocol writes it: awsQuery XML (Auto Scaling), EC2 query XML, or awsJson (DynamoDB, SSM, EventBridge). */
function errorBody(service: string, code: string, message: string): { type: string; body: string } {
  if (service === 'autoscaling') {
    return {
      type: 'text/xml',
      body: `<ErrorResponse xmlns="${ASG_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>aws-front</RequestId></ErrorResponse>`,
    };
  }
  if (service === 'ec2')
    return {
      type: 'text/xml',
      body: `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>aws-front</RequestID></Response>`,
    };
  return { type: 'application/x-amz-json-1.1', body: JSON.stringify({ __type: code, message }) };
}

export async function startAwsFront(options: { moto: string; dynamodb: string }): Promise<AwsFront> {
  const calls: AwsCall[] = [];
  const pending = new Map<string, string>();
  const completed: AwsFront['completedLifecycleActions'] = [];
  const injected: InjectedError[] = [];

  const server: Server = createServer((request, response) => {
    void (async () => {
      const body = await readBody(request);
      const text = body.toString('utf8');
      const target = String(request.headers['x-amz-target'] ?? '');
      const form = target ? undefined : new URLSearchParams(text);
      const action = target ? target.split('.').pop()! : (form?.get('Action') ?? '');
      const scope = /Credential=([^/]+)\/\d{8}\/[^/]+\/([^/]+)\//.exec(
        String(request.headers.authorization ?? ''),
      );
      const call: AwsCall = {
        service: scope?.[2] ?? 'unsigned',
        action,
        status: 0,
        host: String(request.headers.host ?? ''),
        userAgent: String(request.headers['user-agent'] ?? ''),
        accessKeyId: scope?.[1] ?? '',
        hasSessionToken: Boolean(request.headers['x-amz-security-token']),
        body: text,
      };
      calls.push(call);
      const reply = (status: number, type: string, payload: string) => {
        call.status = status;
        response.writeHead(status, { 'content-type': type, 'x-amzn-requestid': 'aws-front' }).end(payload);
      };

      const fault = injected.findIndex(
        (e) =>
          e.service === call.service &&
          e.action === action &&
          (!e.bodyIncludes || text.includes(e.bodyIncludes)),
      );
      if (fault >= 0) {
        const [error] = injected.splice(fault, 1);
        const { type, body: payload } = errorBody(error.service, error.code, error.message);
        return reply(error.status, type, payload);
      }
      if (call.service === 'autoscaling' && action === 'CompleteLifecycleAction' && form) {
        const instanceId = form.get('InstanceId') ?? '';
        const token = form.get('LifecycleActionToken') ?? '';
        if (pending.get(instanceId) === token) {
          pending.delete(instanceId);
          completed.push({ instanceId, result: form.get('LifecycleActionResult') ?? '' });
          return reply(
            200,
            'text/xml',
            `<CompleteLifecycleActionResponse xmlns="${ASG_NS}"><CompleteLifecycleActionResult/><ResponseMetadata><RequestId>aws-front</RequestId></ResponseMetadata></CompleteLifecycleActionResponse>`,
          );
        }
        const { type, body: payload } = errorBody(
          'autoscaling',
          'ValidationError',
          `No active Lifecycle Action found with token ${token}`,
        );
        return reply(400, type, payload);
      }
      if (target === 'DynamoDB_20120810.DescribeEndpoints') {
        return reply(
          200,
          'application/x-amz-json-1.0',
          JSON.stringify({ Endpoints: [{ Address: 'localhost', CachePeriodInMinutes: 10 }] }),
        );
      }

      const upstream = new URL(target.startsWith('DynamoDB_') ? options.dynamodb : options.moto);
      const forwarded = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: request.method,
          path: request.url,
          headers: { ...request.headers, host: upstream.host },
        },
        (answer) => {
          call.status = answer.statusCode ?? 0;
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      forwarded.on('error', (error) => reply(502, 'text/plain', String(error)));
      forwarded.end(body);
    })().catch((error) => {
      response.writeHead(500).end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    injectError: (error) => void injected.push(error),
    pendingLifecycleAction: (instanceId, token) => void pending.set(instanceId, token),
    completedLifecycleActions: completed,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
