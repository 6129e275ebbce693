import type { RedeliveryReport } from '../ports';

/**
 * Finds `workflow_job` webhook deliveries that failed and asks GitHub to deliver
 * them again: GitHub never redelivers on its own, and keeps deliveries for 3 days
 * (docs.github.com/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks).
 *
 * Which hook: with GitHub App credentials, the App's own webhook
 * (`GET /app/hook/deliveries`, `POST /app/hook/deliveries/{delivery_id}/attempts`,
 * docs.github.com/rest/apps/webhooks; Octokit's App auth signs these with the App's JWT, so no
 * installation permission is needed); deliveries of other installations of the App are skipped.
 * With a `hookId` in the credentials, that organization (or repository) webhook
 * (`/orgs/{org}/hooks/{hook_id}/deliveries[/{delivery_id}/attempts]`, docs.github.com/rest/orgs/webhooks;
 * an App then needs the organization permission "Webhooks": read to list, write to redeliver;
 * a classic PAT `admin:org_hook`). A PAT without `hookId`: nothing to read.
 *
 * Bounded as cdk-github-runners' redelivery function is (src/webhook-redelivery.lambda.ts: newest
 * first, stop at the window's start, skip a guid that had a success), and further: only
 * `workflow_job`, only failures GitHub or our endpoint could get past (no answer, 429, 5xx; a 4xx is
 * our webhook refusing the request, and a retry changes nothing), one redelivery per guid per pass,
 * a redelivery cap and a page cap per pass, and a failed redelivery is retried only while its
 * original failure is still in the window (so each lost delivery is retried in at most two periods).
 */
export interface DeliveryRequest {
  (route: string, parameters: Record<string, unknown>): Promise<{ data: unknown; headers?: Record<string, unknown> }>;
}

export interface RedeliveryOptions {
  hook: { kind: 'app'; installationId: number } | { kind: 'org'; org: string; hookId: number } | { kind: 'repo'; owner: string; repo: string; hookId: number };
  /** Deliveries older than this (epoch ms) are not looked at. */
  sinceMs: number;
  maxRedeliveries: number;
  maxPages: number;
  timeBudgetMs: number;
  now: () => number;
  requestsSoFar: () => number;
  statusOf: (error: unknown) => number | undefined;
}

type RawDelivery = {
  id: number;
  guid: string;
  delivered_at: string;
  redelivery: boolean;
  status_code: number;
  event: string;
  action?: string | null;
  installation_id?: number | null;
};

/** A delivery our endpoint did not take, for a reason a second attempt may get past. */
export function isRetryableFailure(statusCode: number): boolean {
  return !(statusCode >= 200 && statusCode < 300) && (statusCode === 0 || statusCode === 429 || statusCode >= 500);
}

/** Pure: the deliveries to redeliver (one per guid, newest attempt), given every delivery of the window, newest first. */
export function deliveriesToRedeliver(deliveries: readonly RawDelivery[], installationId: number | undefined): RawDelivery[] {
  const succeeded = new Set<string>();
  const originalFailed = new Set<string>();
  const latestFailure = new Map<string, RawDelivery>();
  for (const delivery of deliveries) {
    if (delivery.event !== 'workflow_job') continue;
    if (installationId !== undefined && delivery.installation_id != null && delivery.installation_id !== installationId) continue;
    if (delivery.status_code >= 200 && delivery.status_code < 300) succeeded.add(delivery.guid);
    else if (isRetryableFailure(delivery.status_code)) {
      if (!latestFailure.has(delivery.guid)) latestFailure.set(delivery.guid, delivery);
      if (!delivery.redelivery) originalFailed.add(delivery.guid);
    }
  }
  return [...latestFailure.values()].filter((d) => !succeeded.has(d.guid) && (!d.redelivery || originalFailed.has(d.guid)));
}

function nextCursor(headers: Record<string, unknown> | undefined): string | undefined {
  const link = headers?.link;
  if (typeof link !== 'string') return undefined;
  const next = link.split(',').find((part) => /rel="next"/.test(part));
  const match = next ? /[?&]cursor=([^&>]+)/.exec(next) : null;
  return match ? decodeURIComponent(match[1]) : undefined;
}

export async function redeliverFailed(request: DeliveryRequest, options: RedeliveryOptions): Promise<RedeliveryReport> {
  const startedAt = options.now();
  const firstRequest = options.requestsSoFar();
  const deadline = startedAt + options.timeBudgetMs;
  const hook = options.hook;
  const base =
    hook.kind === 'app'
      ? { list: 'GET /app/hook/deliveries', attempt: 'POST /app/hook/deliveries/{delivery_id}/attempts', params: {} }
      : hook.kind === 'org'
        ? { list: 'GET /orgs/{org}/hooks/{hook_id}/deliveries', attempt: 'POST /orgs/{org}/hooks/{hook_id}/deliveries/{delivery_id}/attempts', params: { org: hook.org, hook_id: hook.hookId } }
        : {
            list: 'GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries',
            attempt: 'POST /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts',
            params: { owner: hook.owner, repo: hook.repo, hook_id: hook.hookId },
          };
  const report: RedeliveryReport = { hook: hook.kind, examined: 0, failed: 0, redelivered: 0, deferred: 0, complete: false, requests: 0 };
  const window: RawDelivery[] = [];
  let cursor: string | undefined;
  try {
    for (let page = 1; page <= options.maxPages && options.now() < deadline; page++) {
      const { data, headers } = await request(base.list, { ...base.params, per_page: 100, ...(cursor ? { cursor } : {}) });
      const list = data as RawDelivery[];
      let reachedStart = false;
      for (const delivery of list) {
        if (Date.parse(delivery.delivered_at) < options.sinceMs) {
          reachedStart = true;
          break;
        }
        window.push(delivery);
      }
      cursor = nextCursor(headers);
      if (reachedStart || !cursor || list.length === 0) {
        report.complete = true;
        break;
      }
    }
    report.examined = window.length;
    const toRedeliver = deliveriesToRedeliver(window, hook.kind === 'app' ? hook.installationId : undefined);
    report.failed = toRedeliver.length;
    // Oldest first: the job that has waited longest.
    for (const delivery of toRedeliver.reverse()) {
      if (report.redelivered >= options.maxRedeliveries || options.now() >= deadline) break;
      try {
        await request(base.attempt, { ...base.params, delivery_id: delivery.id });
        report.redelivered += 1;
      } catch (error) {
        // 422: GitHub refuses (too old, or already being redelivered); anything else is reported.
        if (options.statusOf(error) !== 422) throw error;
      }
    }
    report.deferred = report.failed - report.redelivered;
  } catch (error) {
    report.error = (error as Error).message?.slice(0, 300) ?? String(error);
  }
  report.requests = options.requestsSoFar() - firstRequest;
  return report;
}
