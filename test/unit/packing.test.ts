/**
 * Property: however rows are shaped (long quoted products, multibyte characters, commas, quotes,
 * line breaks), every SendMessageBatch stays within the SQS limits and the messages carry every
 * valid row exactly once, in order, with its line. Random inputs from a seeded PRNG; a failure
 * names its seed.
 */
import { gzipSync } from 'node:zlib';
import type { InventoryRow } from '../../src/shared/csv';
import { RowBatchPacker, stampedRows, type PackedMessage, type RowBatch } from '../../src/shared/messages';
import { settings } from '../../src/shared/settings';
import { maxLine, rowStamp, uploadStamp } from '../../src/shared/upload';
import { BatchSender, type BatchEntry, type SenderLimits } from '../../src/splitter/sender';
import { splitUpload } from '../../src/splitter/split';
import { CapturingQueue, CapturingRejects, readableOf } from '../support/capture';
import { generateUpload, randomChunks, randomRow } from '../support/csv-fixtures';
import { Prng, seeds } from '../../src/shared/prng';

type Limits = SenderLimits & { maxMessageBytes: number };

const production: Limits = settings.packing;
/** Small enough that a handful of rows fill a message and a few messages fill a request. */
const tinyBytes: Limits = { maxMessageBytes: 300, maxBatchEntries: 10, maxBatchBytes: 1000, maxSendsInFlight: 2, maxSendAttempts: 3 };
const tinyEntries: Limits = { maxMessageBytes: 400, maxBatchEntries: 3, maxBatchBytes: 256 * 1024, maxSendsInFlight: 3, maxSendAttempts: 3 };

const keys = ['uploads/s12.csv', 'uploads/Zürich "night", 2.csv', 'uploads/東京/夜.csv.gz'];
// Bound once: under jest every global lookup goes through the test context's slow global proxy.
const byteLength = Buffer.byteLength.bind(Buffer);
const parse = JSON.parse.bind(JSON);
const bytes = (text: string) => byteLength(text, 'utf8');

function randomUpload(prng: Prng) {
  const key = prng.pick(keys);
  const eventTime = new Date(Date.UTC(2024, 0, 1) + prng.int(0, 1e10)).toISOString();
  return { key, stamp: uploadStamp(eventTime, key, prng.int(0, 0xffffff).toString(16)) };
}

/**
 * Checks every request against the limits (collecting what broke them, so a failure lists all of
 * it with one assertion); returns the batches the bodies decode to, ordered by first line.
 */
function checkRequests(calls: readonly BatchEntry[][], limits: Limits, upload: { key: string; stamp: string }): RowBatch[] {
  const broken: string[] = [];
  const batches: RowBatch[] = [];
  calls.forEach((entries, call) => {
    if (entries.length === 0 || entries.length > limits.maxBatchEntries) broken.push(`request ${call} has ${entries.length} entries`);
    if (new Set(entries.map((entry) => entry.Id)).size !== entries.length) broken.push(`request ${call} repeats an entry Id`);
    let total = 0;
    for (const entry of entries) {
      const size = bytes(entry.MessageBody);
      total += size;
      if (size > limits.maxMessageBytes) broken.push(`request ${call}: a ${size}-byte body`);
      const batch = parse(entry.MessageBody) as RowBatch;
      const first = batch.rows[0]?.[4];
      const last = batch.rows.at(-1)?.[4];
      if (batch.v !== 1 || batch.upload.key !== upload.key || batch.upload.stamp !== upload.stamp) broken.push(`request ${call}: wrong envelope`);
      if (batch.rows.length === 0 || batch.first !== first || batch.last !== last) {
        broken.push(`request ${call}: first/last ${batch.first}/${batch.last} but rows from ${first} to ${last}`);
      }
      batches.push(batch);
    }
    if (total > limits.maxBatchBytes) broken.push(`request ${call} carries ${total} bytes`);
  });
  expect(broken).toEqual([]);
  return batches.sort((a, b) => a.first - b.first);
}

function checkRows(batches: RowBatch[], expected: readonly InventoryRow[], stamp: string): void {
  const rows = batches.flatMap(stampedRows);
  expect(rows.map(({ store, product, count, threshold, line }) => ({ store, product, count, threshold, line }))).toEqual(expected);
  expect(rows.filter((row) => row.version !== rowStamp(stamp, row.line))).toEqual([]);
}

describe('RowBatchPacker → BatchSender', () => {
  const cases: [string, Limits, number, number, number][] = [
    // name, limits, iterations, rows per iteration, product pieces at most
    ['production limits, long products', production, 6, 1500, 150],
    ['tiny messages and requests (many messages)', tinyBytes, 150, 60, 8],
    ['tiny requests by entry count', tinyEntries, 150, 60, 8],
  ];

  test.each(cases)('%s: requests within the SQS limits, every row exactly once in order', async (_name, limits, iterations, rowCount, maxPieces) => {
    for (const seed of seeds(iterations)) {
      const prng = new Prng(seed);
      const upload = randomUpload(prng);
      // Sometimes near the widest line number a stamp carries: the envelope must still fit.
      let line = prng.chance(0.2) ? maxLine - rowCount * 3 : 2;
      const rows = Array.from({ length: rowCount }, () => randomRow(prng, (line += prng.int(1, 3)), maxPieces));
      const queue = new CapturingQueue({ turns: () => prng.int(0, 3) });
      const sender = new BatchSender(queue.sendBatch, limits);
      const emitted: PackedMessage[] = [];
      const packer = new RowBatchPacker(upload, limits.maxMessageBytes, (message) => {
        emitted.push(message);
        sender.add(message);
      });
      for (const row of rows) {
        await sender.ready();
        packer.add(row);
      }
      packer.flush();
      await sender.close();

      try {
        expect(emitted.filter((message) => message.bytes !== bytes(message.body) || message.bytes > limits.maxMessageBytes)).toEqual([]);
        const batches = checkRequests(queue.calls, limits, upload);
        expect(batches).toHaveLength(emitted.length);
        expect(sender.messagesSent).toBe(emitted.length);
        checkRows(batches, rows, upload.stamp);
        expect(queue.maxInFlight).toBeLessThanOrEqual(limits.maxSendsInFlight);
      } catch (error) {
        throw new Error(`seed ${seed}: ${(error as Error).message}`);
      }
    }
  });

  test('tiny limits do force many messages and requests', async () => {
    const prng = new Prng(7);
    const upload = randomUpload(prng);
    const queue = new CapturingQueue();
    const sender = new BatchSender(queue.sendBatch, tinyBytes);
    const packer = new RowBatchPacker(upload, tinyBytes.maxMessageBytes, (message) => sender.add(message));
    for (let line = 2; line < 202; line += 1) packer.add(randomRow(prng, line, 8));
    packer.flush();
    await sender.close();
    expect(queue.accepted.length).toBeGreaterThan(50);
    expect(queue.calls.length).toBeGreaterThan(15);
  });

  test('a row that can never fit a message is an error naming its line', () => {
    const packer = new RowBatchPacker({ key: 'uploads/a.csv', stamp: 'stamp' }, 300, () => undefined);
    expect(() => packer.add({ store: 'S', product: 'x'.repeat(300), count: 1, threshold: null, line: 42 })).toThrow(/^line 42: a row of \d+ bytes does not fit in a 300-byte message$/);
  });
});

describe('splitUpload end to end over random files', () => {
  const cases: [string, Limits, number, number, number][] = [
    // name, limits, iterations, rows per file, product pieces at most
    ['production limits, long quoted products', production, 5, 500, 150],
    ['tiny limits', tinyBytes, 100, 40, 8],
    ['tiny limits by entry count', tinyEntries, 60, 40, 8],
  ];

  test.each(cases)('%s: requests within limits; valid rows once, in order, at their lines; bad rows rejected at theirs', async (_name, limits, iterations, rowCount, maxPieces) => {
    for (const seed of seeds(iterations)) {
      const prng = new Prng(seed);
      const generated = generateUpload(prng, { rows: rowCount, maxProductPieces: maxPieces, invalidShare: 0.15 });
      const gzipped = prng.chance(0.25);
      const upload = { ...randomUpload(prng), key: gzipped ? 'uploads/s12.csv.gz' : 'uploads/s12.csv' };
      const content = gzipped ? gzipSync(Buffer.from(generated.text)) : Buffer.from(generated.text);
      const queue = new CapturingQueue({ turns: () => prng.int(0, 2) });
      const rejects = new CapturingRejects();
      const result = await splitUpload({
        upload,
        input: readableOf(...randomChunks(content, prng, prng.pick([64, 1000, 70_000]))),
        sendBatch: queue.sendBatch,
        rejects,
        limits,
      });
      try {
        expect(result).toMatchObject({
          status: 'processed',
          rowsRead: rowCount,
          rowsAccepted: generated.valid.length,
          rowsRejected: generated.rejected.length,
          messages: queue.accepted.length,
        });
        checkRows(checkRequests(queue.calls, limits, upload), generated.valid, upload.stamp);
        expect(rejects.rows.map((row) => [row.line, row.reason])).toEqual(
          generated.rejected.map((row) => [row.line, expect.stringMatching(row.reason)]),
        );
        expect(queue.maxInFlight).toBeLessThanOrEqual(limits.maxSendsInFlight);
      } catch (error) {
        throw new Error(`seed ${seed}: ${(error as Error).message}`);
      }
    }
  });
});
