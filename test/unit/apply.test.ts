/**
 * The writer's apply logic over an in-memory InventoryTable with DynamoDB's conditional semantics.
 * Property: whatever order rows arrive in, however often, however they are grouped into messages,
 * the table ends as the contract says — each item holds its newest row's count and its newest
 * explicit threshold (else the default). Seeded PRNG; a failure names its seed.
 */
import { createAdaptiveLimiter, createLimiter } from '../../src/shared/concurrency';
import type { StampedRow } from '../../src/shared/messages';
import { rowStamp, uploadStamp } from '../../src/shared/upload';
import { applyRow, applyRows, withoutSupersededRows } from '../../src/writer/apply';
import { budgeted, patient, throttlingError, throttlingTable } from '../support/back-pressure';
import { InMemoryInventoryTable, itemKey, type StoredItem } from '../support/fake-table';
import { Prng, seeds } from '../../src/shared/prng';

const defaultThreshold = 10;

/** What the table must hold after `rows`, straight from the contract. */
function expectedTable(rows: readonly StampedRow[]): StoredItem[] {
  const byItem = new Map<string, StampedRow[]>();
  for (const row of rows) byItem.set(itemKey(row), [...(byItem.get(itemKey(row)) ?? []), row]);
  return [...byItem.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, itemRows]) => {
      const newestFirst = [...itemRows].sort((a, b) => (a.version < b.version ? 1 : -1));
      const newest = newestFirst[0]!;
      const thresholdRow = newestFirst.find((row) => row.threshold !== null);
      return {
        store: newest.store,
        product: newest.product,
        count: newest.count,
        version: newest.version,
        upload: newest.upload,
        line: newest.line,
        threshold: thresholdRow?.threshold ?? defaultThreshold,
        ...(thresholdRow ? { thresholdVersion: thresholdRow.version } : {}),
      };
    });
}

interface Upload {
  key: string;
  stamp: string;
  rows: StampedRow[];
}

/** A few uploads touching a few items, some items on several lines of one file. */
function randomUploads(prng: Prng): Upload[] {
  const items = Array.from({ length: prng.int(1, 5) }, () => ({ store: prng.pick(['S1', 'S2']), product: prng.pick(['A', 'B', 'C', 'Ü, "x"']) }));
  return Array.from({ length: prng.int(1, 4) }, (_, index) => {
    const key = `uploads/store-${index}.csv`;
    const stamp = uploadStamp(new Date(Date.UTC(2024, 5, 1) + prng.int(0, 5) * 1000).toISOString(), key, prng.int(0, 99).toString(16));
    let line = 1;
    const rows = Array.from({ length: prng.int(1, 12) }, (): StampedRow => {
      line += prng.int(1, 12);
      return {
        ...prng.pick(items),
        count: prng.int(0, 30),
        threshold: prng.chance(0.35) ? prng.int(0, 30) : null,
        line,
        version: rowStamp(stamp, line),
        upload: key,
      };
    });
    return { key, stamp, rows };
  });
}

/** Each upload cut into messages of consecutive lines, as the splitter packs them. */
function messagesOf(prng: Prng, uploads: readonly Upload[]): StampedRow[][] {
  const messages: StampedRow[][] = [];
  for (const upload of uploads) {
    for (let at = 0; at < upload.rows.length; ) {
      const size = prng.int(1, 5);
      messages.push(upload.rows.slice(at, at + size));
      at += size;
    }
  }
  return messages;
}

/** Every message at least once, some several times (at-least-once delivery), in random order. */
function deliveries<T>(prng: Prng, messages: readonly T[]): T[] {
  return prng.shuffle(messages.flatMap((message) => Array.from({ length: prng.chance(0.3) ? prng.int(2, 3) : 1 }, () => message)));
}

async function inStampOrder(rows: readonly StampedRow[]): Promise<StoredItem[]> {
  const table = new InMemoryInventoryTable(defaultThreshold);
  for (const row of [...rows].sort((a, b) => (a.version < b.version ? -1 : 1))) await applyRow(row, table, patient(1));
  return table.snapshot();
}

describe('applying rows in any order, any number of times', () => {
  test('messages as the splitter packs them, redelivered and reordered, applied concurrently', async () => {
    for (const seed of seeds(300)) {
      const prng = new Prng(seed);
      const uploads = randomUploads(prng);
      const rows = uploads.flatMap((upload) => upload.rows);
      const table = new InMemoryInventoryTable(defaultThreshold, () => prng.int(0, 4));
      const pressure = patient(prng.int(1, 8));
      // Several writer invocations at once, each applying its messages concurrently.
      const waves = deliveries(prng, messagesOf(prng, uploads));
      await Promise.all(waves.map((message) => applyRows(message, table, pressure)));
      const expected = expectedTable(rows);
      expect({ seed, table: table.snapshot() }).toEqual({ seed, table: expected });
      expect({ seed, table: await inStampOrder(rows) }).toEqual({ seed, table: expected });
    }
  });

  test('under injected throttling and a short time budget, deferred rows re-applied later end in the same table (seeded)', async () => {
    for (const seed of seeds(200, 31)) {
      const prng = new Prng(seed);
      const uploads = randomUploads(prng);
      const rows = uploads.flatMap((upload) => upload.rows);
      const table = new InMemoryInventoryTable(defaultThreshold, () => prng.int(0, 3));
      const throttling = throttlingTable(table, prng, prng.pick([0.2, 0.5, 0.9]));
      // Messages come back (deferred remainders) until every row is in: nothing is ever failed.
      let pending = deliveries(prng, messagesOf(prng, uploads));
      for (let round = 0; pending.length > 0; round += 1) {
        if (round > 500) throw new Error(`seed ${seed}: rows never got through`);
        const results = await Promise.all(pending.map((message) => applyRows(message, throttling, budgeted(prng.int(1, 4), prng.int(0, 6)))));
        pending = results.map((result) => result.deferred).filter((deferred) => deferred.length > 0);
      }
      expect({ seed, table: table.snapshot() }).toEqual({ seed, table: expectedTable(rows) });
    }
  });

  test('single rows in any permutation, with duplicates, one at a time', async () => {
    for (const seed of seeds(300, 99)) {
      const prng = new Prng(seed);
      const rows = randomUploads(prng).flatMap((upload) => upload.rows);
      const table = new InMemoryInventoryTable(defaultThreshold);
      for (const row of deliveries(prng, rows)) await applyRow(row, table, patient(1));
      expect({ seed, table: table.snapshot() }).toEqual({ seed, table: expectedTable(rows) });
    }
  });

  test('arbitrary groupings of shuffled rows (messages mixing uploads), concurrently', async () => {
    for (const seed of seeds(200, 7)) {
      const prng = new Prng(seed);
      const rows = randomUploads(prng).flatMap((upload) => upload.rows);
      const shuffled = deliveries(prng, rows);
      const groups: StampedRow[][] = [];
      for (let at = 0; at < shuffled.length; ) {
        const size = prng.int(1, 6);
        groups.push(shuffled.slice(at, at + size));
        at += size;
      }
      const table = new InMemoryInventoryTable(defaultThreshold, () => prng.int(0, 3));
      await Promise.all(groups.map((group) => applyRows(group, table, patient(4))));
      expect({ seed, table: table.snapshot() }).toEqual({ seed, table: expectedTable(rows) });
    }
  });
});

describe('thresholds', () => {
  const stampA = uploadStamp('2024-06-01T22:00:00.000Z', 'uploads/a.csv', '1');
  const stampB = uploadStamp('2024-06-02T22:00:00.000Z', 'uploads/b.csv', '1');
  const row = (stamp: string, line: number, count: number, threshold: number | null): StampedRow => ({
    store: 'S1',
    product: 'Widget',
    count,
    threshold,
    line,
    version: rowStamp(stamp, line),
    upload: stamp === stampA ? 'uploads/a.csv' : 'uploads/b.csv',
  });

  test.each<[string, StampedRow[], { count: number; threshold: number }]>([
    ['never set: the default', [row(stampA, 2, 5, null)], { count: 5, threshold: defaultThreshold }],
    ['set by an older row, kept by newer rows without one', [row(stampA, 2, 5, 3), row(stampA, 7, 6, null), row(stampB, 2, 1, null)], { count: 1, threshold: 3 }],
    ['a late older row with a threshold still sets it (but not its count)', [row(stampB, 2, 1, null), row(stampA, 2, 5, 3)], { count: 1, threshold: 3 }],
    ['a late older threshold loses to a newer explicit one', [row(stampB, 2, 1, 8), row(stampA, 2, 5, 3)], { count: 1, threshold: 8 }],
    ['a newer explicit threshold replaces an older one', [row(stampA, 2, 5, 3), row(stampB, 2, 1, 8)], { count: 1, threshold: 8 }],
    ['an explicit 0 is a threshold, not "unset"', [row(stampA, 2, 5, 0), row(stampB, 2, 1, null)], { count: 1, threshold: 0 }],
    ['later line of the same file wins', [row(stampA, 10, 4, 2), row(stampA, 9, 7, 6), row(stampA, 100, 3, null)], { count: 3, threshold: 2 }],
  ])('%s', async (_name, rows, expected) => {
    const table = new InMemoryInventoryTable(defaultThreshold);
    for (const each of rows) await applyRow(each, table, patient(1));
    expect(table.snapshot()).toEqual([expect.objectContaining(expected)]);
    expect(table.snapshot()).toEqual(expectedTable(rows));
  });
});

describe('applyRows', () => {
  const stamp = uploadStamp('2024-06-01T22:00:00.000Z', 'uploads/a.csv', '1');
  const row = (product: string, line: number, count: number, threshold: number | null = null): StampedRow => ({
    store: 'S1',
    product,
    count,
    threshold,
    line,
    version: rowStamp(stamp, line),
    upload: 'uploads/a.csv',
  });

  test('counts applied rows, and stale or superseded rows as skipped', async () => {
    const table = new InMemoryInventoryTable(defaultThreshold);
    const message = [row('A', 2, 1), row('B', 3, 2), row('A', 4, 3), row('C', 5, 4)];
    expect(await applyRows(message, table, patient(2))).toEqual({ applied: 3, skipped: 1, deferred: [] });
    // Redelivered: everything is stale now.
    expect(await applyRows(message, table, patient(2))).toEqual({ applied: 0, skipped: 4, deferred: [] });
    expect(table.snapshot().map((item) => [item.product, item.count])).toEqual([
      ['A', 3],
      ['B', 2],
      ['C', 4],
    ]);
  });

  test('superseded rows of a message never reach the table (no state the file does not end in)', async () => {
    const table = new InMemoryInventoryTable(defaultThreshold);
    const seen: number[] = [];
    const watching = {
      applyRow: (each: StampedRow) => (seen.push(each.line), table.applyRow(each)),
      applyThreshold: table.applyThreshold.bind(table),
    };
    await applyRows([row('A', 2, 1), row('A', 3, 50), row('A', 4, 20), row('B', 5, 2)], watching, patient(4));
    expect(seen.sort()).toEqual([4, 5]);
  });

  test('every row is attempted, then the first failure that is not back-pressure is thrown so the message is retried', async () => {
    const table = new InMemoryInventoryTable(defaultThreshold);
    const failing = {
      applyRow: (each: StampedRow) => (each.product === 'B' ? Promise.reject(new Error('ValidationException: item too large')) : table.applyRow(each)),
      applyThreshold: table.applyThreshold.bind(table),
    };
    await expect(applyRows([row('A', 2, 1), row('B', 3, 2), row('C', 4, 3)], failing, patient(1))).rejects.toThrow('ValidationException');
    expect(table.snapshot().map((item) => item.product)).toEqual(['A', 'C']);
  });

  test('a throttled row is retried until it is written: throttling fails nothing', async () => {
    const table = new InMemoryInventoryTable(defaultThreshold);
    let throttles = 3;
    const pushingBack = {
      applyRow: (each: StampedRow) => (each.product === 'B' && throttles-- > 0 ? Promise.reject(throttlingError()) : table.applyRow(each)),
      applyThreshold: table.applyThreshold.bind(table),
    };
    expect(await applyRows([row('A', 2, 1), row('B', 3, 2)], pushingBack, patient(2))).toEqual({ applied: 2, skipped: 0, deferred: [] });
    expect(throttles).toBe(-1);
  });

  test('rows still throttled when the time runs out are deferred, not failed; the rest is applied', async () => {
    const table = new InMemoryInventoryTable(defaultThreshold);
    const throttled = { applyRow: (each: StampedRow) => (each.product === 'B' ? Promise.reject(throttlingError()) : table.applyRow(each)), applyThreshold: table.applyThreshold.bind(table) };
    const message = [row('A', 2, 1), row('B', 3, 2, 7), row('C', 4, 3)];
    const result = await applyRows(message, throttled, budgeted(1, 5));
    expect(result).toEqual({ applied: 2, skipped: 0, deferred: [message[1]] });
  });

  test('each throttled answer halves the in-flight limit (once per round), successes raise it again', async () => {
    const prng = new Prng(11);
    const table = new InMemoryInventoryTable(defaultThreshold, () => prng.int(0, 3));
    let throttleFirst = 40;
    const pushingBack = {
      applyRow: (each: StampedRow) => (throttleFirst-- > 0 ? Promise.reject(throttlingError()) : table.applyRow(each)),
      applyThreshold: table.applyThreshold.bind(table),
    };
    const pressure = patient(8);
    const limits: number[] = [];
    const watched = { ...pressure, sleep: () => (limits.push(pressure.limiter.limit), Promise.resolve()) };
    const rows = Array.from({ length: 200 }, (_, r) => row(`P${r}`, 2 + r, r));
    expect((await applyRows(rows, pushingBack, watched)).applied).toBe(200);
    expect(Math.min(...limits)).toBe(1);
    expect(pressure.limiter.limit).toBeGreaterThan(1);
  });

  test('never more table calls in flight than the limiter allows', async () => {
    const prng = new Prng(3);
    const table = new InMemoryInventoryTable(defaultThreshold, () => prng.int(0, 5));
    const pressure = patient(3);
    const messages = Array.from({ length: 8 }, (_, m) => Array.from({ length: 10 }, (_, r) => row(`P${m}-${r}`, 2 + r, r, r % 3 === 0 ? 5 : null)));
    await Promise.all(messages.map((message) => applyRows(message, table, pressure)));
    expect(table.calls).toBe(80);
    expect(table.maxInFlight).toBe(3);
  });
});

describe('withoutSupersededRows', () => {
  const stamp = uploadStamp('2024-06-01T22:00:00.000Z', 'uploads/a.csv', '1');
  const row = (product: string, line: number, threshold: number | null = null): StampedRow => ({
    store: 'S1',
    product,
    count: line,
    threshold,
    line,
    version: rowStamp(stamp, line),
    upload: 'uploads/a.csv',
  });
  const lines = (rows: StampedRow[]) => rows.map((each) => each.line);

  test.each<[string, StampedRow[], number[]]>([
    ['distinct items: all kept, in order', [row('A', 2), row('B', 3), row('C', 4)], [2, 3, 4]],
    ['the newest row of an item wins', [row('A', 2), row('A', 3), row('A', 4)], [4]],
    ['newest by stamp, not by position', [row('A', 9), row('A', 10), row('A', 100), row('A', 11)], [100]],
    ['other items untouched', [row('A', 2), row('B', 3), row('A', 4)], [3, 4]],
    ['a superseded row that sets a threshold is kept', [row('A', 2, 5), row('A', 3), row('A', 4)], [2, 4]],
    ['the same product at another store is another item', [row('A', 2), { ...row('A', 3), store: 'S2' }], [2, 3]],
    ['a row repeated within a message is applied once', [row('A', 2), row('A', 2)], [2]],
    ['empty', [], []],
  ])('%s', (_name, rows, expected) => {
    expect(lines(withoutSupersededRows(rows))).toEqual(expected);
  });

  test('returns a new array, leaving the message as it was', () => {
    const rows = [row('A', 2), row('B', 3)];
    const result = withoutSupersededRows(rows);
    expect(result).not.toBe(rows);
    expect(result).toEqual(rows);
  });
});

describe('createLimiter', () => {
  test.each([1, 2, 5])('never runs more than %i tasks at once, starts them in arrival order, returns their results', async (max) => {
    const limit = createLimiter(max);
    const prng = new Prng(max);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        limit(async () => {
          started.push(index);
          running += 1;
          peak = Math.max(peak, running);
          for (let turns = prng.int(0, 6); turns > 0; turns -= 1) await new Promise((resolve) => setImmediate(resolve));
          running -= 1;
          return index * 2;
        }),
      ),
    );
    expect(peak).toBe(max);
    expect(started).toEqual(Array.from({ length: 40 }, (_, index) => index));
    expect(results).toEqual(Array.from({ length: 40 }, (_, index) => index * 2));
  });

  test('a failing task frees its slot and rejects only its own promise', async () => {
    const limit = createLimiter(1);
    const failed = limit(() => Promise.reject(new Error('boom')));
    const next = limit(async () => 'ran');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ran');
  });

  test.each([0, -1, 1.5, Number.NaN])('refuses a limit of %p', (limit) => {
    expect(() => createLimiter(limit)).toThrow(/concurrency limit must be a positive integer/);
  });
});

describe('createAdaptiveLimiter', () => {
  test('never runs more tasks than its current limit, which halves on throttling (once per round) and grows back by one per limit successes', async () => {
    const limiter = createAdaptiveLimiter({ max: 8, min: 2 });
    let running = 0;
    const peaks: [number, number][] = [];
    const task = async () => {
      running += 1;
      peaks.push([running, limiter.limit]);
      await new Promise((resolve) => setImmediate(resolve));
      running -= 1;
    };
    await Promise.all(Array.from({ length: 20 }, () => limiter(task)));
    expect(Math.max(...peaks.map(([peak]) => peak))).toBe(8);
    limiter.throttled();
    expect(limiter.limit).toBe(4);
    // Answers to writes sent before the decrease are the same signal: no second halving yet.
    limiter.throttled();
    expect(limiter.limit).toBe(4);
    await Promise.all(Array.from({ length: 4 }, () => limiter(task)));
    limiter.throttled();
    expect(limiter.limit).toBe(2);
    await Promise.all(Array.from({ length: 4 }, () => limiter(task)));
    limiter.throttled();
    expect(limiter.limit).toBe(2); // not below min
    peaks.length = 0;
    await Promise.all(Array.from({ length: 10 }, () => limiter(task)));
    expect(peaks.every(([peak, limit]) => peak <= limit)).toBe(true);
    for (let success = 0; success < 2; success += 1) limiter.succeeded();
    expect(limiter.limit).toBe(3);
    for (let success = 0; success < 3; success += 1) limiter.succeeded();
    expect(limiter.limit).toBe(4);
  });

  test.each([
    [0, 1],
    [2, 1],
    [1.5, 3],
  ])('refuses min %p, max %p', (min, max) => {
    expect(() => createAdaptiveLimiter({ min, max })).toThrow(/1 ≤ min ≤ max/);
  });
});
