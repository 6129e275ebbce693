import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { EVENT_SOURCE, SCALING_ACTIONS, WORKFLOW_JOB_DETAIL_TYPE } from '../../lib/event-names';
import type { WorkflowJobEvent } from '../../lib/events';
import { runnerCanTakeJob } from '../../lib/labels';
import type { EventBusPort } from '../../lib/ports';
import { contentKind, header, MAX_BODY_BYTES, parseBody, readRequest } from './request';
import { buildSlimEvent } from './slim-event';
import { signatureIsValid } from './verify';

/**
 * The webhook decision, free of AWS: the Lambda handler, local mode and the
 * tests all run this same function with their own bus and secrets.
 *
 * Order of checks (each answer changes nothing): method → size → required
 * headers and content type → signature → body → event → action → labels.
 * Only a correctly signed, complete `workflow_job` with a scaling action and
 * labels this pool serves reaches the bus.
 */

/** What the handler logs through; Powertools' Logger fits it. Never given a secret or a signature. */
export interface WebhookLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
  appendKeys(keys: Record<string, unknown>): void;
  removeKeys(keys: string[]): void;
}

export interface WebhookDeps {
  /** Valid secrets, the current one first, then the previous one during a rotation. */
  secrets: () => Promise<string[]>;
  bus: EventBusPort;
  /** Labels the pool's runners carry; a job is forwarded only when they cover all its labels. */
  servedLabels: readonly string[];
  logger?: WebhookLogger;
  now?: () => number;
}

export interface WebhookResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export type WebhookHandler = (event: APIGatewayProxyEventV2) => Promise<WebhookResponse>;

const DELIVERY_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const EVENT_NAME = /^[a-z_]{1,64}$/;

/** Reasons quote request content (labels, action); control characters are replaced so a reason stays one line. */
function answer(statusCode: number, message: string, extra: Record<string, string> = {}): WebhookResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...extra },
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is replaced
    body: JSON.stringify({ message: message.replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, '?') }),
  };
}

const silentLogger: WebhookLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  appendKeys: () => undefined,
  removeKeys: () => undefined,
};

/** Deps may be given directly or as a factory that builds them once, on the first request (real AWS clients). */
export function createWebhookHandler(depsOrFactory: WebhookDeps | (() => WebhookDeps)): WebhookHandler {
  let resolved: WebhookDeps | undefined;
  const deps = () => (resolved ??= typeof depsOrFactory === 'function' ? depsOrFactory() : depsOrFactory);

  return async (event) => {
    let current: WebhookDeps;
    try {
      current = deps();
    } catch (error) {
      // A misconfigured function (bad environment) must fail loudly, not silently accept or drop deliveries;
      // there is no configured logger yet, so this one line goes to the console.
      // eslint-disable-next-line no-console
      console.error(JSON.stringify({ level: 'ERROR', message: 'webhook function is misconfigured', error: String(error) }));
      return answer(500, 'webhook function is misconfigured');
    }
    const logger = current.logger ?? silentLogger;
    const request = readRequest(event);
    const deliveryHeader = header(request.headers, 'x-github-delivery');
    logger.appendKeys({ deliveryId: deliveryHeader?.slice(0, 100) ?? null });
    try {
      const response = await decide(request, deliveryHeader, current, logger);
      logger.info('webhook answered', { statusCode: response.statusCode, reason: JSON.parse(response.body).message });
      return response;
    } catch (error) {
      logger.error('webhook failed unexpectedly', { error: error instanceof Error ? error.message : String(error) });
      return answer(500, 'internal error');
    } finally {
      logger.removeKeys(['deliveryId']);
    }
  };
}

async function decide(
  request: ReturnType<typeof readRequest>,
  deliveryId: string | undefined,
  deps: WebhookDeps,
  logger: WebhookLogger,
): Promise<WebhookResponse> {
  if (request.method !== 'POST') return answer(405, `method ${request.method.slice(0, 16)} not allowed, use POST`, { allow: 'POST' });
  if (request.rawBody.length > MAX_BODY_BYTES) return answer(413, `body is larger than ${MAX_BODY_BYTES} bytes`);

  const eventName = header(request.headers, 'x-github-event');
  if (!eventName) return answer(400, 'missing X-GitHub-Event header');
  if (!deliveryId) return answer(400, 'missing X-GitHub-Delivery header');
  if (!DELIVERY_ID.test(deliveryId)) return answer(400, 'X-GitHub-Delivery header is not a delivery id');
  const kind = contentKind(header(request.headers, 'content-type'));
  if (!kind) return answer(415, 'content type must be application/json or application/x-www-form-urlencoded');

  const signature = header(request.headers, 'x-hub-signature-256');
  if (!signature) return answer(401, 'missing X-Hub-Signature-256 header');
  const body = request.rawBody.toString('utf8');
  let secrets: string[];
  try {
    secrets = await deps.secrets();
  } catch (error) {
    logger.error('could not read the webhook secret', { error: error instanceof Error ? error.name : 'unknown' });
    return answer(503, 'webhook secret is unavailable, retry the delivery');
  }
  if (secrets.length === 0) {
    logger.error('no webhook secret is configured');
    return answer(503, 'webhook secret is unavailable, retry the delivery');
  }
  if (!(await signatureIsValid(secrets, body, signature))) return answer(401, 'signature does not match');

  const parsed = parseBody(body, kind);
  if (!parsed.ok) return answer(400, parsed.reason);

  if (!EVENT_NAME.test(eventName)) return answer(202, 'ignored: unknown event');
  if (eventName === 'ping') return answer(200, 'pong');
  if (eventName !== 'workflow_job') return answer(202, `ignored: event ${eventName}`);

  const action = parsed.payload.action;
  if (typeof action !== 'string') return answer(400, 'workflow_job payload is incomplete: action is missing');
  if (!(SCALING_ACTIONS as readonly string[]).includes(action)) return answer(202, `ignored: action ${action.slice(0, 32)}`);

  const slim = buildSlimEvent(parsed.payload, deliveryId, new Date((deps.now ?? Date.now)()));
  if (!slim.ok) return answer(400, slim.reason);
  const job: WorkflowJobEvent = slim.event;
  if (!runnerCanTakeJob(deps.servedLabels, job.labels)) {
    return answer(202, `ignored: labels ${JSON.stringify(job.labels).slice(0, 200)} are not served by this pool`);
  }

  let failedCount: number;
  try {
    ({ failedCount } = await deps.bus.putEvents([
      { source: EVENT_SOURCE, detailType: WORKFLOW_JOB_DETAIL_TYPE, detail: job },
    ]));
  } catch (error) {
    logger.error('PutEvents failed', { error: error instanceof Error ? error.name : 'unknown', jobId: job.jobId });
    return answer(502, 'event bus refused the event, retry the delivery');
  }
  if (failedCount > 0) {
    logger.error('PutEvents did not accept the event', { failedCount, jobId: job.jobId });
    return answer(503, 'event bus did not accept the event, retry the delivery');
  }
  logger.info('workflow_job forwarded', { action: job.action, jobId: job.jobId, runId: job.runId, labels: job.labels });
  return answer(202, 'forwarded');
}
