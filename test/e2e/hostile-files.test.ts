/**
 * Files real store systems produce, end to end through the local runtime (what `inventory local`
 * runs): each either applies exactly or fails once with one sentence — never a retry loop, never a
 * dead letter. The final table is read with an independent DynamoDB client and compared with what
 * each file says, worked out here by hand (or, for the truncated gzip, by zlib directly).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync, gzipSync } from 'node:zlib';
import type { SQSEvent } from 'aws-lambda';
import { LocalPipeline } from '../../src/local/runtime';
import { decodeS3Key } from '../../src/shared/upload';
import { actualTable, sortItems, tempDirectory, type ExpectedItem } from './model';

const defaultThreshold = 10;
let pipeline: LocalPipeline;
const directory = tempDirectory();
/** The splitter's invocations, each as the object keys its event announced. */
const splitterEvents: string[][] = [];

beforeAll(async () => {
  pipeline = await LocalPipeline.start({
    defaultThreshold,
    onInvoke: (fn, event) => {
      if (fn !== 'splitter') return;
      const bodies = (event as SQSEvent).Records.map((record) => JSON.parse(record.body) as { Records?: { s3: { object: { key: string } } }[] });
      splitterEvents.push(bodies.flatMap((body) => (body.Records ?? []).map((record) => decodeS3Key(record.s3.object.key))));
    },
  });
});

afterAll(async () => {
  await pipeline?.close();
});

const item = (store: string, product: string, count: number, threshold = defaultThreshold): ExpectedItem => ({ store, product, count, threshold });
const tableOf = (prefix: string) => actualTable(pipeline.endpoint, pipeline.resources.table, (store) => store.startsWith(prefix));

async function processOnce(name: string, content: string | Buffer) {
  const path = join(directory, name);
  writeFileSync(path, content);
  const outcome = await pipeline.processFile(path);
  // The splitter saw the upload's event once: nothing about a bad file is retried.
  expect(splitterEvents.filter((keys) => keys.includes(outcome.key))).toHaveLength(1);
  expect(outcome.deadLettered).toBe(0);
  return outcome;
}

test('a truncated .csv.gz fails with its reason; the rows before the break are applied and counted, nothing is dead-lettered', async () => {
  const text = `Store ID,SKU,Qty\n${Array.from({ length: 300 }, (_, index) => `HXG,Item ${index},${index % 50}\n`).join('')}`;
  const gzipped = gzipSync(text);
  const truncated = gzipped.subarray(0, Math.floor(gzipped.length * 0.5));
  const outcome = await processOnce('night.csv.gz', truncated);

  expect(outcome.status).toBe('failed');
  expect(outcome.reason).toMatch(/^the gzip data ends early after \d+ bytes: the file is truncated \(the \d+ valid rows read before that were queued\)$/);
  expect(outcome.rowsRead).toBeGreaterThan(0);
  expect(outcome.rowsApplied).toBe(outcome.rowsRead);
  // What zlib itself recovers from the truncated bytes: every complete line of it is a genuine row;
  // the table holds a prefix of them (the last complete line may have been waiting for its successor).
  const recovered = gunzipSync(truncated, { finishFlush: constants.Z_SYNC_FLUSH }).toString();
  const completeRows = recovered.split('\n').length - 2;
  expect(outcome.rowsRead).toBeGreaterThanOrEqual(completeRows - 1);
  expect(outcome.rowsRead).toBeLessThanOrEqual(completeRows);
  expect(await tableOf('HXG')).toEqual(sortItems(Array.from({ length: outcome.rowsRead }, (_, index) => item('HXG', `Item ${index}`, index % 50))));
});

test('gzip is told by content: a plain CSV named .csv.gz and a gzip named .csv both apply', async () => {
  const plain = await processOnce('plain.csv.gz', 'store,product,count\nHXC,Plain tea,4\n');
  const gzipped = await processOnce('packed.csv', gzipSync('store,product,count\nHXC,Packed tea,5\n'));
  expect([plain.status, gzipped.status]).toEqual(['processed', 'processed']);
  expect(await tableOf('HXC')).toEqual(sortItems([item('HXC', 'Plain tea', 4), item('HXC', 'Packed tea', 5)]));
});

test('a semicolon-separated, CR-only export with the column names stores use applies every row', async () => {
  const text = 'Store-ID;SKU;On Hand;Reorder Point;Description\rHXD;Cola 1,5 l;12;20;fizzy\rHXD;"Crisps; salted";40;;\r\rHXD;Tea;3;5;"two\rlines"\r';
  const outcome = await processOnce('europe.csv', text);
  expect(outcome).toMatchObject({ status: 'processed', rowsRead: 3, rowsRejected: 0, rowsApplied: 3 });
  expect(await tableOf('HXD')).toEqual(sortItems([item('HXD', 'Cola 1,5 l', 12, 20), item('HXD', 'Crisps; salted', 40), item('HXD', 'Tea', 3, 5)]));
});

test('one reject per unclosed quote and per row with invalid UTF-8, at their lines; every other row applies', async () => {
  const text = Buffer.concat([
    Buffer.from('store\tproduct\tcount\r\nHXQ\tTea\t1\r\nHXQ\t"Broken\t2\r\nHXQ\tCoffee\t3\r\nHXQ\tCaf'),
    Buffer.from([0xe9]), // Windows-1252 é
    Buffer.from('\t4\r\nHXQ\t"Also broken\t5\r\nHXQ\tCocoa\t6\r\n'),
  ]);
  const outcome = await processOnce('mixed.tsv', text);
  expect(outcome.status).toBe('processed');
  expect(outcome.rejects).toEqual([
    { line: 3, reason: expect.stringMatching(/quote/) },
    { line: 5, reason: "field 'product' (column 2) is not valid UTF-8 (the file must be saved as UTF-8)" },
    { line: 6, reason: expect.stringMatching(/quoted field opened on this line is never closed/) },
  ]);
  expect(outcome).toMatchObject({ rowsRead: 6, rowsRejected: 3, rowsApplied: 3 });
  expect(await tableOf('HXQ')).toEqual(sortItems([item('HXQ', 'Tea', 1), item('HXQ', 'Coffee', 3), item('HXQ', 'Cocoa', 6)]));
});

test('a header naming one field twice fails once, naming both columns, and applies nothing', async () => {
  const outcome = await processOnce('twice.csv', 'store,sku,product,qty\nHXA,T-1,Tea,4\n');
  expect(outcome.status).toBe('failed');
  expect(outcome.reason).toBe("the header (line 1) names product more than once: 'sku' (column 2) and 'product' (column 3); keep one of them");
  expect(await tableOf('HXA')).toEqual([]);
});
