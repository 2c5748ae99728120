/**
 * AlertPublisher and the SNS entries it builds. Per-entry and whole-request failures are injected by
 * fake publishBatch functions — a real SNS (or moto) can't be made to fail one entry on demand.
 */
import { AlertPublisher, alertEntry, PublishFailedError, type Alert, type AlertEntry, type PublishBatch, type PublishFailure } from '../../src/alerter/publisher';

function alert(index: number, overrides: Partial<Alert> = {}): Alert {
  return {
    type: 'LOW_STOCK',
    store: 'S1',
    product: `Widget ${index}`,
    count: 3,
    previousCount: 50,
    threshold: 10,
    upload: 'uploads/s1.csv',
    line: index + 2,
    time: '2024-06-01T22:00:00.000Z',
    alertId: `alert-${index}`,
    ...overrides,
  };
}

interface FakeSns {
  publishBatch: PublishBatch;
  calls: AlertEntry[][];
  /** alertIds of the messages SNS took, in order. */
  taken: string[];
}

/** A PublishBatch that takes every entry except those `fail` reports. */
function fakeSns(fail: (entry: AlertEntry, call: number) => Omit<PublishFailure, 'Id'> | undefined = () => undefined): FakeSns {
  const calls: AlertEntry[][] = [];
  const taken: string[] = [];
  return {
    calls,
    taken,
    publishBatch: async (entries) => {
      const call = calls.push(entries) - 1;
      const failures: PublishFailure[] = [];
      for (const entry of entries) {
        const failure = fail(entry, call);
        if (failure) failures.push({ Id: entry.Id, ...failure });
        else taken.push((JSON.parse(entry.Message) as { alertId: string }).alertId);
      }
      return failures;
    },
  };
}

const alertIdOf = (entry: AlertEntry) => (JSON.parse(entry.Message) as { alertId: string }).alertId;
const options = { batchSize: 10, maxAttempts: 4 };

describe('AlertPublisher', () => {
  test('alerts requested together go out in PublishBatch requests of at most 10 entries', async () => {
    const sns = fakeSns();
    const publisher = new AlertPublisher(sns.publishBatch, options);
    const alerts = Array.from({ length: 25 }, (_, index) => alert(index));
    await Promise.all(alerts.map((each) => publisher.publish(each)));
    expect(sns.calls.map((entries) => entries.length)).toEqual([10, 10, 5]);
    for (const entries of sns.calls) expect(new Set(entries.map((entry) => entry.Id)).size).toBe(entries.length);
    expect(sns.taken).toEqual(alerts.map((each) => each.alertId));
    expect(publisher.published).toBe(25);
  });

  test('entries SNS reports failed are retried alone, with growing backoff (failures injected by a fake publishBatch)', async () => {
    const failuresLeft = new Map([
      ['alert-2', 2],
      ['alert-5', 1],
    ]);
    const sns = fakeSns((entry) => {
      const left = failuresLeft.get(alertIdOf(entry)) ?? 0;
      if (left === 0) return undefined;
      failuresLeft.set(alertIdOf(entry), left - 1);
      return { SenderFault: false, Code: 'InternalError' };
    });
    const sleeps: number[] = [];
    const publisher = new AlertPublisher(sns.publishBatch, { ...options, sleep: async (ms) => void sleeps.push(ms) });
    await Promise.all(Array.from({ length: 8 }, (_, index) => publisher.publish(alert(index))));
    expect(sns.calls.map((entries) => entries.map(alertIdOf))).toEqual([
      ['alert-0', 'alert-1', 'alert-2', 'alert-3', 'alert-4', 'alert-5', 'alert-6', 'alert-7'],
      ['alert-2', 'alert-5'],
      ['alert-2'],
    ]);
    expect(sns.taken.sort()).toEqual(Array.from({ length: 8 }, (_, index) => `alert-${index}`).sort());
    expect(publisher.published).toBe(8);
    expect(sleeps).toHaveLength(2);
    expect(sleeps[1]!).toBeGreaterThan(sleeps[0]!);
  });

  test('an alert that keeps failing rejects its own promise only (failures injected by a fake publishBatch)', async () => {
    const sns = fakeSns((entry) => (alertIdOf(entry) === 'alert-3' ? { SenderFault: false, Code: 'Throttled', Message: 'Rate exceeded' } : undefined));
    const publisher = new AlertPublisher(sns.publishBatch, { ...options, sleep: async () => undefined });
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, (_, index) => publisher.publish(alert(index))));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const reason = (outcomes[3] as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(PublishFailedError);
    expect(reason.message).toBe('SNS did not take alert alert-3 after 4 attempt(s) (Throttled: Rate exceeded)');
    expect(sns.calls).toHaveLength(options.maxAttempts);
    expect(publisher.published).toBe(5);
  });

  test('a SenderFault entry is not retried (injected by a fake publishBatch)', async () => {
    const sns = fakeSns((entry) => (alertIdOf(entry) === 'alert-1' ? { SenderFault: true, Code: 'InvalidParameter', Message: 'Invalid subject' } : undefined));
    const sleeps: number[] = [];
    const publisher = new AlertPublisher(sns.publishBatch, { ...options, sleep: async (ms) => void sleeps.push(ms) });
    const outcomes = await Promise.allSettled([publisher.publish(alert(0)), publisher.publish(alert(1))]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected']);
    expect(((outcomes[1] as PromiseRejectedResult).reason as Error).message).toMatch(/InvalidParameter: Invalid subject/);
    expect(sns.calls).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  test('a request that throws fails the alerts in it, not those in other requests (injected by a fake publishBatch)', async () => {
    let call = 0;
    const publishBatch: PublishBatch = async () => {
      call += 1;
      if (call === 1) throw new Error('socket hang up');
      return [];
    };
    const publisher = new AlertPublisher(publishBatch, options);
    const outcomes = await Promise.allSettled(Array.from({ length: 13 }, (_, index) => publisher.publish(alert(index))));
    expect(outcomes.slice(0, 10).every((outcome) => outcome.status === 'rejected')).toBe(true);
    expect(outcomes.slice(10).every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    expect(((outcomes[0] as PromiseRejectedResult).reason as Error).message).toBe('socket hang up');
    expect(publisher.published).toBe(3);
  });

  test('an alert that keeps failing is parked with its entry and the reason, and its promise resolves (failures injected by a fake publishBatch)', async () => {
    const sns = fakeSns((entry) => (alertIdOf(entry) === 'alert-2' ? { SenderFault: false, Code: 'InternalError', Message: 'try again' } : undefined));
    const parked: { entry: AlertEntry; reason: string }[] = [];
    const publisher = new AlertPublisher(sns.publishBatch, { ...options, sleep: async () => undefined, park: async (entry, reason) => void parked.push({ entry, reason }) });
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, (_, index) => publisher.publish(alert(index))));
    expect(outcomes.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    expect([publisher.published, publisher.parked]).toEqual([3, 1]);
    expect(parked).toEqual([{ entry: alertEntry(alert(2), '0'), reason: 'SNS did not take alert alert-2 after 4 attempt(s) (InternalError: try again)' }]);
  });

  test('a request that throws parks its alerts; an alert that cannot be parked either rejects (injected by fake ports)', async () => {
    const publishBatch: PublishBatch = async () => {
      throw new Error('socket hang up');
    };
    const publisher = new AlertPublisher(publishBatch, {
      ...options,
      park: async (entry) => {
        if (alertIdOf(entry) === 'alert-1') throw new Error('AccessDenied');
      },
    });
    const outcomes = await Promise.allSettled(Array.from({ length: 3 }, (_, index) => publisher.publish(alert(index))));
    expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(((outcomes[1] as PromiseRejectedResult).reason as Error).message).toBe('socket hang up; parking it on the dead-letter queue failed too (AccessDenied)');
    expect(publisher.parked).toBe(2);
  });

  test('alerts requested in later ticks are sent in later requests', async () => {
    const sns = fakeSns();
    const publisher = new AlertPublisher(sns.publishBatch, options);
    await publisher.publish(alert(0));
    await publisher.publish(alert(1));
    expect(sns.calls.map((entries) => entries.map(alertIdOf))).toEqual([['alert-0'], ['alert-1']]);
  });
});

describe('alertEntry', () => {
  const printableAsciiUnder100 = /^[\x20-\x7e]{1,99}$/;

  test.each<[string, Partial<Alert>, string]>([
    ['a low-stock alert', {}, 'Low stock: Widget 0 at S1 (3 < 10)'],
    ['a restock', { type: 'RESTOCKED', count: 12, previousCount: 3 }, 'Restocked: Widget 0 at S1 (12 >= 10)'],
  ])('the Subject of %s says what happened', (_name, overrides, subject) => {
    expect(alertEntry(alert(0, overrides), '0').Subject).toBe(subject);
  });

  test.each<[string, string, string]>([
    ['non-ASCII names', 'Crème brûlée 🙂', '東京'],
    ['a product with a line break and a tab', 'Bolt\r\nM8\t50mm', 'S1'],
    ['a very long product', 'Extra long product name '.repeat(40), 'S1'],
    ['a very long multibyte store', 'Ü', 'ß'.repeat(500)],
  ])('the Subject is printable ASCII under 100 characters for %s', (_name, product, store) => {
    const entry = alertEntry(alert(0, { product, store }), '0');
    expect(entry.Subject).toMatch(printableAsciiUnder100);
    expect(entry.Subject.startsWith('Low stock: ')).toBe(true);
  });

  test('the long Subject is cut with an ellipsis', () => {
    const subject = alertEntry(alert(0, { product: 'x'.repeat(300) }), '0').Subject;
    expect(subject).toHaveLength(99);
    expect(subject.endsWith('...')).toBe(true);
  });

  test('the message body and attributes carry the alert with the names as they are', () => {
    const crossing = alert(4, { product: 'Crème, "brûlée"\n🙂', store: '東京' });
    const entry = alertEntry(crossing, '7');
    expect(entry.Id).toBe('7');
    expect(JSON.parse(entry.Message)).toEqual({
      alertId: crossing.alertId,
      type: 'LOW_STOCK',
      store: '東京',
      product: 'Crème, "brûlée"\n🙂',
      count: 3,
      previousCount: 50,
      threshold: 10,
      time: crossing.time,
      upload: crossing.upload,
      line: crossing.line,
    });
    expect(entry.MessageAttributes).toEqual({
      type: { DataType: 'String', StringValue: 'LOW_STOCK' },
      store: { DataType: 'String', StringValue: '東京' },
      product: { DataType: 'String', StringValue: 'Crème, "brûlée"\n🙂' },
    });
  });
});
