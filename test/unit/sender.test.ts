/**
 * BatchSender: how packed messages become SendMessageBatch requests. The per-entry failures and
 * slow requests here are injected with fake sendBatch functions — a real SQS (or moto) can't be
 * made to fail single entries of a batch on demand.
 */
import type { PackedMessage } from '../../src/shared/messages';
import { BatchSender, SendFailedError, type BatchEntry, type FailedEntry, type SenderLimits } from '../../src/splitter/sender';
import { CapturingQueue } from '../support/capture';

const limits: SenderLimits = { maxBatchEntries: 10, maxBatchBytes: 256 * 1024, maxSendsInFlight: 4, maxSendAttempts: 5 };

function message(body: string): PackedMessage {
  return { body, bytes: Buffer.byteLength(body), rows: 1, first: 1, last: 1 };
}

const bodies = (count: number, width = 20) => Array.from({ length: count }, (_, index) => `m${index}`.padEnd(width, '.'));
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('BatchSender', () => {
  test('groups messages into requests of at most maxBatchEntries', async () => {
    const queue = new CapturingQueue();
    const sender = new BatchSender(queue.sendBatch, limits);
    for (const body of bodies(25)) sender.add(message(body));
    await sender.close();
    expect(queue.calls.map((entries) => entries.length)).toEqual([10, 10, 5]);
    expect(queue.accepted).toEqual(bodies(25));
    expect(sender.messagesSent).toBe(25);
  });

  test('groups messages into requests of at most maxBatchBytes', async () => {
    const queue = new CapturingQueue();
    const sender = new BatchSender(queue.sendBatch, { ...limits, maxBatchBytes: 350 });
    for (const body of bodies(8, 100)) sender.add(message(body));
    await sender.close();
    expect(queue.calls.map((entries) => entries.length)).toEqual([3, 3, 2]);
  });

  test('a message larger than a whole request is refused', () => {
    const sender = new BatchSender(new CapturingQueue().sendBatch, { ...limits, maxBatchBytes: 100 });
    expect(() => sender.add(message('x'.repeat(101)))).toThrow('a 101-byte message exceeds the 100-byte batch limit');
  });

  test('entries reported Failed are retried alone, with growing backoff, until taken (failures injected by a fake sendBatch)', async () => {
    const failuresLeft = new Map([
      ['m3'.padEnd(20, '.'), 3],
      ['m7'.padEnd(20, '.'), 1],
      ['m12'.padEnd(20, '.'), 2],
    ]);
    const queue = new CapturingQueue({
      fail: (entries) =>
        entries.flatMap((entry): FailedEntry[] => {
          const left = failuresLeft.get(entry.MessageBody) ?? 0;
          if (left === 0) return [];
          failuresLeft.set(entry.MessageBody, left - 1);
          return [{ Id: entry.Id, SenderFault: false, Code: 'ServiceUnavailable' }];
        }),
    });
    const sleeps: number[] = [];
    const sender = new BatchSender(queue.sendBatch, { ...limits, maxSendsInFlight: 1 }, async (ms) => void sleeps.push(ms));
    for (const body of bodies(15)) sender.add(message(body));
    await sender.close();

    // Everything taken exactly once, nothing else sent twice.
    expect([...queue.accepted].sort()).toEqual(bodies(15).sort());
    expect(sender.messagesSent).toBe(15);
    const bodiesOf = (entries: BatchEntry[]) => entries.map((entry) => entry.MessageBody.replace(/\.+$/, ''));
    expect(queue.calls.map(bodiesOf)).toEqual([
      ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'],
      ['m3', 'm7'],
      ['m3'],
      ['m3'],
      ['m10', 'm11', 'm12', 'm13', 'm14'],
      ['m12'],
      ['m12'],
    ]);
    // Exponential backoff with jitter: attempt n waits between half and all of 50 ms × 2^(n-1).
    expect(sleeps).toHaveLength(5);
    const ceilings = [50, 100, 200, 50, 100];
    sleeps.forEach((ms, index) => {
      expect(ms).toBeGreaterThanOrEqual(ceilings[index]! / 2);
      expect(ms).toBeLessThanOrEqual(ceilings[index]!);
    });
  });

  test('gives up after maxSendAttempts with a readable error (failures injected by a fake sendBatch)', async () => {
    const queue = new CapturingQueue({
      fail: (entries) => entries.slice(0, 2).map((entry) => ({ Id: entry.Id, SenderFault: false, Code: 'ThrottlingException', Message: 'slow down' })),
    });
    const sender = new BatchSender(queue.sendBatch, limits, async () => undefined);
    for (const body of bodies(5)) sender.add(message(body));
    const closing = sender.close();
    await expect(closing).rejects.toThrow(SendFailedError);
    await expect(closing).rejects.toThrow('2 message(s) still failed after 5 attempts (ThrottlingException: slow down)');
    expect(queue.calls).toHaveLength(limits.maxSendAttempts);
  });

  test('a SenderFault entry fails fast, without retries, with a readable error (injected by a fake sendBatch)', async () => {
    const queue = new CapturingQueue({
      fail: (entries) => [{ Id: entries[1]!.Id, SenderFault: true, Code: 'InvalidParameterValue', Message: 'Message must be shorter than 262144 bytes' }],
    });
    const sleeps: number[] = [];
    const sender = new BatchSender(queue.sendBatch, limits, async (ms) => void sleeps.push(ms));
    for (const body of bodies(3)) sender.add(message(body));
    const closing = sender.close();
    await expect(closing).rejects.toThrow(SendFailedError);
    await expect(closing).rejects.toThrow('SQS refused a message (InvalidParameterValue): Message must be shorter than 262144 bytes');
    expect(queue.calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
    // Whoever waits for room learns about the failure too.
    await expect(sender.ready()).rejects.toThrow(SendFailedError);
  });

  test('a request that throws (after the SDK gave up) fails the sender with that error', async () => {
    const sender = new BatchSender(async () => {
      throw new Error('connect ECONNREFUSED');
    }, limits);
    sender.add(message('a'));
    await expect(sender.close()).rejects.toThrow('connect ECONNREFUSED');
  });

  test.each([1, 2, 4])('never more than maxSendsInFlight=%i requests in flight when the caller waits on ready()', async (maxSendsInFlight) => {
    let turn = 0;
    const queue = new CapturingQueue({ turns: () => 1 + (turn++ % 5) });
    const sender = new BatchSender(queue.sendBatch, { ...limits, maxBatchEntries: 2, maxSendsInFlight });
    for (const body of bodies(201)) {
      await sender.ready();
      sender.add(message(body));
    }
    await sender.close();
    expect(queue.maxInFlight).toBe(maxSendsInFlight);
    expect(queue.accepted).toHaveLength(201);
  });

  test('never more than maxSendsInFlight requests in flight even when many are filled at once', async () => {
    const queue = new CapturingQueue({ turns: () => 2 });
    const sender = new BatchSender(queue.sendBatch, { ...limits, maxBatchEntries: 1, maxSendsInFlight: 3 });
    // One chunk of input can pack many messages before the stream checks ready() again.
    for (const body of bodies(50)) sender.add(message(body));
    expect(sender.ready()).toBeInstanceOf(Promise);
    await sender.close();
    expect(queue.maxInFlight).toBe(3);
    expect([...queue.accepted].sort()).toEqual(bodies(50).sort());
  });

  test('ready() holds the caller back while maxSendsInFlight requests are pending and lets it go when one ends', async () => {
    const releases: (() => void)[] = [];
    const sendBatch = (entries: BatchEntry[]) => new Promise<FailedEntry[]>((resolve) => releases.push(() => resolve([]))).then((failed) => (void entries, failed));
    const sender = new BatchSender(sendBatch, { ...limits, maxBatchEntries: 1, maxSendsInFlight: 2 });

    expect(sender.ready()).toBeUndefined();
    sender.add(message('a'));
    sender.add(message('b')); // dispatches 'a'
    expect(sender.ready()).toBeUndefined();
    sender.add(message('c')); // dispatches 'b': two in flight
    expect(releases).toHaveLength(2);

    let ready = false;
    void sender.ready()!.then(() => (ready = true));
    for (let turn = 0; turn < 5; turn += 1) await nextTurn();
    expect(ready).toBe(false);

    releases[0]!();
    for (let turn = 0; turn < 5; turn += 1) await nextTurn();
    expect(ready).toBe(true);

    const closing = sender.close(); // dispatches 'c'
    await nextTurn();
    expect(releases).toHaveLength(3);
    releases[1]!();
    releases[2]!();
    await closing;
    expect(sender.messagesSent).toBe(3);
  });
});
