import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { BusEntry, EventBusPort } from '../ports';

/**
 * EventBusPort on an EventBridge custom bus. PutEvents can accept some entries
 * and refuse others in one successful call (FailedEntryCount); the refused ones
 * are retried a few times with backoff (they are mostly throttling or internal
 * errors), and whatever still fails is reported, never swallowed, so the
 * webhook answers 5xx and GitHub marks the delivery failed.
 */
export interface EventBridgeBusOptions {
  /** Attempts per entry, the first included. */
  attempts?: number;
  /** Delay before retry n (1-based). */
  backoffMs?: (retry: number) => number;
  sleep?: (ms: number) => Promise<void>;
}

const PUT_EVENTS_BATCH = 10;

export class EventBridgeBus implements EventBusPort {
  private readonly attempts: number;
  private readonly backoffMs: (retry: number) => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
    options: EventBridgeBusOptions = {},
  ) {
    this.attempts = Math.max(1, options.attempts ?? 3);
    this.backoffMs = options.backoffMs ?? ((retry) => 50 * 4 ** (retry - 1));
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async putEvents(entries: BusEntry[]): Promise<{ failedCount: number; errorCodes: string[] }> {
    let failedCount = 0;
    const errorCodes = new Set<string>();
    for (let start = 0; start < entries.length; start += PUT_EVENTS_BATCH) {
      const batch = entries.slice(start, start + PUT_EVENTS_BATCH).map((entry) => this.toEntry(entry));
      const result = await this.putBatch(batch);
      failedCount += result.failed;
      result.codes.forEach((code) => errorCodes.add(code));
    }
    return { failedCount, errorCodes: [...errorCodes] };
  }

  private toEntry(entry: BusEntry): PutEventsRequestEntry {
    return {
      EventBusName: this.busName,
      Source: entry.source,
      DetailType: entry.detailType,
      Detail: JSON.stringify(entry.detail),
    };
  }

  private async putBatch(batch: PutEventsRequestEntry[]): Promise<{ failed: number; codes: string[] }> {
    let pending = batch;
    for (let attempt = 1; ; attempt += 1) {
      const response = await this.client.send(new PutEventsCommand({ Entries: pending }));
      if (!response.FailedEntryCount) return { failed: 0, codes: [] };
      const results = response.Entries ?? [];
      // Entries come back in request order; an entry without an EventId was refused.
      const refused = pending.filter((_, index) => !results[index]?.EventId);
      const codes = results.filter((result) => result && !result.EventId).map((result) => result.ErrorCode ?? 'Unknown');
      if (refused.length === 0) return { failed: response.FailedEntryCount, codes };
      if (attempt >= this.attempts) return { failed: refused.length, codes };
      await this.sleep(this.backoffMs(attempt));
      pending = refused;
    }
  }
}

/** One client per container; requests are kept short because GitHub gives the webhook 10 s in all. */
export function createEventBridgeClient(endpoint?: string): EventBridgeClient {
  return new EventBridgeClient({
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 800, requestTimeout: 1200 },
    ...(endpoint ? { endpoint } : {}),
  });
}
