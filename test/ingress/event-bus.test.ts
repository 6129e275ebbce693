import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { EventBridgeBus } from '../../lib/adapters/event-bus';

/**
 * Partial failures (FailedEntryCount > 0 in a successful call) are a fault no
 * emulator produces, hence aws-sdk-client-mock here; batching is tested against
 * moto in moto.test.ts.
 */
const eventBridge = mockClient(EventBridgeClient);
const entries = ['a', 'b', 'c'].map((id) => ({ source: 'runner-autoscaler.github', detailType: 'workflow_job', detail: { id } }));

function sentIds(callIndex: number): string[] {
  return eventBridge.commandCalls(PutEventsCommand)[callIndex].args[0].input.Entries!.map((entry) => JSON.parse(entry.Detail!).id);
}

describe('EventBridgeBus', () => {
  const sleeps: number[] = [];
  const bus = () =>
    new EventBridgeBus(new EventBridgeClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }), 'bus', {
      sleep: async (ms) => void sleeps.push(ms),
    });

  beforeEach(() => {
    eventBridge.reset();
    sleeps.length = 0;
  });

  it('retries only the entries EventBridge refused, with growing backoff, and reports what still fails', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 2, Entries: [{ ErrorCode: 'ThrottlingException' }, { EventId: '1' }, { ErrorCode: 'InternalFailure' }] })
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ EventId: '2' }, { ErrorCode: 'InternalFailure' }] })
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }] });
    const result = await bus().putEvents(entries);
    expect(result).toEqual({ failedCount: 1, errorCodes: ['InternalFailure'] });
    expect(sentIds(0)).toEqual(['a', 'b', 'c']);
    expect(sentIds(1)).toEqual(['a', 'c']);
    expect(sentIds(2)).toEqual(['c']);
    expect(sleeps).toEqual([50, 200]);
  });

  it('a refusal that clears on retry is delivered once: nothing reported', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ EventId: '1' }, { ErrorCode: 'ThrottlingException' }, { EventId: '3' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: '2' }] });
    expect(await bus().putEvents(entries)).toEqual({ failedCount: 0, errorCodes: [] });
    expect(sentIds(1)).toEqual(['b']);
  });

  it('an error thrown by the client is not swallowed', async () => {
    eventBridge.on(PutEventsCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(bus().putEvents(entries)).rejects.toThrow('denied');
  });
});
