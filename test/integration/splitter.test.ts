/**
 * The splitter handler against moto: real objects in S3, the real notification S3 (moto) puts on the
 * upload-events queue, real messages on the work queue, real rejects and reports read back from S3.
 */
import { gzipSync } from 'node:zlib';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, type Message } from '@aws-sdk/client-sqs';
import { parse } from 'csv-parse/sync';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { ensureResources, type LocalResources } from '../../src/local/resources';
import { decodeRowBatch, stampedRows } from '../../src/shared/messages';
import { CountingMetrics } from '../../src/shared/observability';
import type { UploadReport } from '../../src/shared/report';
import { MetricName, settings } from '../../src/shared/settings';
import { decodeS3Key, rejectsKey, reportKey, rowStamp, uploadStamp } from '../../src/shared/upload';
import { createSplitterHandler } from '../../src/splitter/handler';
import { lambdaContext, quietLogger, receiveAll, sqsEvent, startMotoWithClients, type Moto } from '../support/aws';
import { generateUpload } from '../support/csv-fixtures';
import { Prng } from '../../src/shared/prng';

let moto: Moto;
let resources: LocalResources;
let uploadQueueArn: string;
let metrics: CountingMetrics;
let handler: ReturnType<typeof createSplitterHandler>;

beforeAll(async () => {
  moto = await startMotoWithClients();
  resources = await ensureResources(moto.clients, 'it-splitter');
  const { Attributes } = await moto.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: resources.uploadQueueUrl, AttributeNames: ['QueueArn'] }));
  uploadQueueArn = Attributes!.QueueArn!;
  // S3 announces the notification configuration with a test event; nothing to split in it.
  await receiveAll(moto.clients.sqs, resources.uploadQueueUrl);
});

afterAll(async () => {
  await moto?.stop();
});

beforeEach(() => {
  metrics = new CountingMetrics();
  handler = createSplitterHandler({
    s3: moto.clients.s3,
    sqs: moto.clients.sqs,
    workQueueUrl: resources.workQueueUrl,
    storeScoped: false,
    logger: quietLogger(),
    metrics,
  });
});

afterEach(async () => {
  await receiveAll(moto.clients.sqs, resources.workQueueUrl);
  await receiveAll(moto.clients.sqs, resources.uploadQueueUrl);
});

interface Notification {
  Records: S3EventRecord[];
}

/** Puts an object and returns its ETag and the notification S3 sent for it. */
async function upload(key: string, body: string | Buffer): Promise<{ etag: string; message: Message; record: S3EventRecord }> {
  const { ETag } = await moto.clients.s3.send(new PutObjectCommand({ Bucket: resources.bucket, Key: key, Body: body }));
  const [message] = await receiveAll(moto.clients.sqs, resources.uploadQueueUrl, 1);
  const notification = JSON.parse(message!.Body!) as Notification;
  const record = notification.Records[0]!;
  expect(decodeS3Key(record.s3.object.key)).toBe(key);
  return { etag: ETag!.replace(/"/g, ''), message: message!, record };
}

async function workMessages() {
  const messages = await receiveAll(moto.clients.sqs, resources.workQueueUrl);
  return messages.map((message) => decodeRowBatch(message.Body!)).sort((a, b) => a.first - b.first);
}

async function readObject(key: string): Promise<string> {
  const { Body } = await moto.clients.s3.send(new GetObjectCommand({ Bucket: resources.bucket, Key: key }));
  return Body!.transformToString('utf8');
}

async function exists(key: string): Promise<boolean> {
  try {
    await moto.clients.s3.send(new HeadObjectCommand({ Bucket: resources.bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

test('an upload announced through the upload-events queue: every valid row on the work queue once, rejects and report in S3', async () => {
  const key = 'uploads/store 12/night.csv';
  const generated = generateUpload(new Prng(12), { rows: 2500, maxProductPieces: 60, invalidShare: 0.05 });
  const { etag, message, record } = await upload(key, generated.text);

  const response = await handler(sqsEvent([message], uploadQueueArn), lambdaContext('splitter'));
  expect(response).toEqual({ batchItemFailures: [] });

  const stamp = uploadStamp(record.eventTime, key, record.s3.object.sequencer ?? '');
  const batches = await workMessages();
  expect(batches.length).toBeGreaterThan(1);
  for (const batch of batches) expect(batch.upload).toEqual({ key, stamp });
  const rows = batches.flatMap(stampedRows);
  expect(rows.map(({ store, product, count, threshold, line }) => ({ store, product, count, threshold, line }))).toEqual(generated.valid);
  expect(rows.every((row) => row.version === rowStamp(stamp, row.line) && row.upload === key)).toBe(true);

  const rejects = parse(await readObject(rejectsKey(key)), { columns: true }) as { line: string; reason: string; record: string }[];
  expect(rejects.map((row) => [Number(row.line), row.reason])).toEqual(generated.rejected.map((row) => [row.line, expect.stringMatching(row.reason)]));

  const report = JSON.parse(await readObject(reportKey(key))) as UploadReport;
  expect(report).toMatchObject({
    upload: { bucket: resources.bucket, key, etag, eventTime: record.eventTime, stamp },
    status: 'processed',
    rowsRead: 2500,
    rowsAccepted: generated.valid.length,
    rowsRejected: generated.rejected.length,
    messages: batches.length,
    rejectsKey: 'rejects/store 12/night.csv',
  });
  expect(Date.parse(report.finishedAt)).toBeGreaterThanOrEqual(Date.parse(report.startedAt));
  expect(metrics.get(MetricName.UploadsProcessed)).toBe(1);
  expect(metrics.get(MetricName.RowsRejected)).toBe(generated.rejected.length);
  expect(metrics.get(MetricName.MessagesSent)).toBe(batches.length);
});

test('an upload overwritten before its event is handled is skipped; the newer upload’s event applies the newer content', async () => {
  const key = 'uploads/s7.csv';
  const first = await upload(key, 'store,product,count\nS7,Old,1\n');
  const second = await upload(key, 'store,product,count\nS7,New,2\n');
  expect(second.etag).not.toBe(first.etag);

  expect(await handler(sqsEvent([first.message], uploadQueueArn), lambdaContext('splitter'))).toEqual({ batchItemFailures: [] });
  expect(await workMessages()).toEqual([]);
  expect(await exists(reportKey(key))).toBe(false);
  expect(metrics.get(MetricName.UploadsProcessed)).toBe(0);

  await handler(sqsEvent([second.message], uploadQueueArn), lambdaContext('splitter'));
  const batches = await workMessages();
  expect(batches.flatMap((batch) => batch.rows)).toEqual([['S7', 'New', 2, null, 2]]);
  expect(JSON.parse(await readObject(reportKey(key)))).toMatchObject({ status: 'processed', upload: { etag: second.etag } });
});

test('an upload deleted before its event is handled is skipped', async () => {
  const key = 'uploads/s8.csv';
  const { message } = await upload(key, 'store,product,count\nS8,Gone,1\n');
  await moto.clients.s3.send(new DeleteObjectCommand({ Bucket: resources.bucket, Key: key }));
  expect(await handler(sqsEvent([message], uploadQueueArn), lambdaContext('splitter'))).toEqual({ batchItemFailures: [] });
  expect(await workMessages()).toEqual([]);
});

test('a file whose header lacks a column fails as a whole: nothing queued, the reason in its report', async () => {
  const key = 'uploads/s9.csv';
  const { message } = await upload(key, 'store,name,count\nS9,Widget,1\nS9,Gadget,2\n');
  expect(await handler(sqsEvent([message], uploadQueueArn), lambdaContext('splitter'))).toEqual({ batchItemFailures: [] });
  expect(await workMessages()).toEqual([]);
  const report = JSON.parse(await readObject(reportKey(key))) as UploadReport;
  expect(report).toMatchObject({ status: 'failed', rowsRead: 0, rowsAccepted: 0, messages: 0 });
  expect(report.reason).toMatch(/lacks the required column 'product'/);
  expect(await readObject(rejectsKey(key))).toBe('line,reason,record\n');
  expect(metrics.get(MetricName.UploadsFailed)).toBe(1);
});

test('a .csv.gz upload is gunzipped', async () => {
  const key = 'uploads/s10.csv.gz';
  const { message } = await upload(key, gzipSync('store,product,count,threshold\r\nS10,"Crème, brûlée",4,2\r\nS10,Tart,-1,\r\n'));
  await handler(sqsEvent([message], uploadQueueArn), lambdaContext('splitter'));
  expect((await workMessages()).flatMap((batch) => batch.rows)).toEqual([['S10', 'Crème, brûlée', 4, 2, 2]]);
  expect(JSON.parse(await readObject('reports/s10.csv.json'))).toMatchObject({ status: 'processed', rowsRejected: 1 });
});

test('an S3 event delivered directly (no queue) is processed too', async () => {
  const key = 'uploads/s11.csv';
  const { record } = await upload(key, 'store,product,count\nS11,Widget,5\n');
  const event: S3Event = { Records: [record] };
  expect(await handler(event, lambdaContext('splitter'))).toBeUndefined();
  expect((await workMessages()).flatMap((batch) => batch.rows)).toEqual([['S11', 'Widget', 5, null, 2]]);
});

test('a message on the upload-events queue that is not an S3 notification fails alone; its batch-mate is split', async () => {
  const { message } = await upload('uploads/s12.csv', 'store,product,count\nS12,Widget,5\n');
  const junk: Message = { ...message, MessageId: 'not-a-notification', Body: 'hello' };
  const response = await handler(sqsEvent([junk, message], uploadQueueArn), lambdaContext('splitter'));
  expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'not-a-notification' }] });
  expect((await workMessages()).flatMap((batch) => batch.rows)).toEqual([['S12', 'Widget', 5, null, 2]]);
});

// ---------------------------------------------------------------------------------------------
// The CSV contract on hostile input (issue 8), each bullet through the real handler on moto: the
// object in S3, the notification S3 sent, the rows on the work queue, the rejects and the receipt.

interface Handled {
  /** The partial batch response: a failure here would send the event back to the queue. */
  response: unknown;
  report: UploadReport;
  rows: [string, string, number, number | null, number][];
  rejects: { line: number; reason: string }[];
}

async function handle(key: string, body: string | Buffer): Promise<Handled> {
  const { message } = await upload(key, body);
  const response = await handler(sqsEvent([message], uploadQueueArn), lambdaContext('splitter'));
  const report = JSON.parse(await readObject(reportKey(key))) as UploadReport;
  const rows = (await workMessages()).flatMap((batch) => batch.rows);
  const rejects = (parse(await readObject(rejectsKey(key)), { columns: true }) as { line: string; reason: string }[]).map((row) => ({
    line: Number(row.line),
    reason: row.reason,
  }));
  return { response, report, rows, rejects };
}

const night = `store,product,count\n${Array.from({ length: 4000 }, (_, index) => `GZ,Product ${index},${index}\n`).join('')}`;

test('compression is told by content: gzip under a .csv key is gunzipped, a plain CSV under .csv.gz is read as CSV', async () => {
  const gzipped = await handle('uploads/by-content-1.csv', gzipSync('store,product,count\nBC1,Tea,4\n'));
  expect(gzipped.report).toMatchObject({ status: 'processed', rowsAccepted: 1 });
  expect(gzipped.rows).toEqual([['BC1', 'Tea', 4, null, 2]]);

  const plain = await handle('uploads/by-content-2.csv.gz', 'store,product,count\nBC2,Tea,5\n');
  expect(plain.response).toEqual({ batchItemFailures: [] });
  expect(plain.report).toMatchObject({ status: 'processed', rowsAccepted: 1 });
  expect(plain.rows).toEqual([['BC2', 'Tea', 5, null, 2]]);
});

test('a truncated .csv.gz fails once, with a receipt that says so and counts the rows queued before the break; the event is done, not retried', async () => {
  const gzipped = gzipSync(night);
  const cut = Math.floor(gzipped.length / 2);
  const { response, report, rows } = await handle('uploads/truncated.csv.gz', gzipped.subarray(0, cut));
  expect(response).toEqual({ batchItemFailures: [] });
  expect(report.status).toBe('failed');
  expect(report.reason).toMatch(new RegExp(`^the gzip data ends early after ${cut} bytes: the file is truncated \\(the ${rows.length} valid rows read before that were queued\\)$`));
  // The rows before the break are genuine rows, exactly as the file has them, and the receipt counts them.
  expect(rows.length).toBeGreaterThan(0);
  expect(rows).toEqual(Array.from({ length: rows.length }, (_, index) => ['GZ', `Product ${index}`, index, null, index + 2]));
  expect(report).toMatchObject({ rowsRead: rows.length, rowsAccepted: rows.length, rowsRejected: 0 });
  expect(metrics.get(MetricName.UploadsFailed)).toBe(1);
});

test('corrupt gzip data fails the upload with the problem named; nothing is retried', async () => {
  const gzipped = Buffer.from(gzipSync(night));
  gzipped.fill(0, 200, 260);
  const { response, report } = await handle('uploads/corrupt.csv.gz', gzipped);
  expect(response).toEqual({ batchItemFailures: [] });
  expect(report.status).toBe('failed');
  expect(report.reason).toMatch(/^the gzip data is corrupt \(.+\): the file is damaged/);
});

test.each<[string, string, string | Buffer, RegExp]>([
  ['a header lacking a column', 'hf1', 'store,name,amount\nHF1,Tea,1\n', /^the header \(line 1\) lacks the required columns 'product', 'count'/],
  ['a header that is not UTF-8', 'hf2', Buffer.concat([Buffer.from('store,product,count,r'), Buffer.from([0xe9]), Buffer.from('f\nHF2,Tea,1,x\n')]), /^the header \(line 1\) is not valid UTF-8/],
  ['two columns naming one field (sku and product)', 'hf3', 'store,sku,product,count\nHF3,A1,Tea,1\n', /^the header \(line 1\) names product more than once: 'sku' \(column 2\) and 'product' \(column 3\)/],
  ['a header no delimiter splits', 'hf4', 'store product count\nHF4 Tea 1\n', /delimiters tried: ',', ';', tab, '\|'/],
])('%s fails the upload once with a receipt and queues nothing', async (_name, name, body, reason) => {
  const { response, report, rows } = await handle(`uploads/${name}.csv`, body);
  expect(response).toEqual({ batchItemFailures: [] });
  expect(report).toMatchObject({ status: 'failed', rowsRead: 0, rowsAccepted: 0, messages: 0 });
  expect(report.reason).toMatch(reason);
  expect(rows).toEqual([]);
});

test('each unclosed quote is one reject at the line it opens on; reading resumes on the next line', async () => {
  const body = 'store,product,count\nUQ,A,1\nUQ,"B,2\nUQ,C,3\nUQ,"D,4\nUQ,E,5\n';
  const { report, rows, rejects } = await handle('uploads/unclosed.csv', body);
  expect(rejects.map((reject) => reject.line)).toEqual([3, 5]);
  expect(rows).toEqual([['UQ', 'A', 1, null, 2], ['UQ', 'C', 3, null, 4], ['UQ', 'E', 5, null, 6]]);
  expect(report).toMatchObject({ status: 'processed', rowsRead: 5, rowsAccepted: 3, rowsRejected: 2 });
});

test('an unclosed quote that runs past the record limit is still one reject, at its own line', async () => {
  const body = `store,product,count\nUL,A,1\nUL,"${'x'.repeat(settings.csv.maxRecordBytes + 10)}\nUL,B,2\n`;
  const { report, rows, rejects } = await handle('uploads/unclosed-long.csv', body);
  expect(rejects).toEqual([{ line: 3, reason: expect.stringMatching(/^the record is longer than the 1 MiB limit/) }]);
  expect(rows).toEqual([['UL', 'A', 1, null, 2], ['UL', 'B', 2, null, 4]]);
  expect(report).toMatchObject({ status: 'processed', rowsRead: 3, rowsRejected: 1 });
});

test('a row with invalid UTF-8 is rejected naming UTF-8 and the field, and never stored', async () => {
  const body = Buffer.concat([Buffer.from('Store ID,SKU,Qty\nU8,Caf'), Buffer.from([0xe9]), Buffer.from(' 250g,3\nU8,Café 250g,4\n')]);
  const { report, rows, rejects } = await handle('uploads/latin1.csv', body);
  expect(rejects).toEqual([{ line: 2, reason: "field 'SKU' (column 2) is not valid UTF-8 (the file must be saved as UTF-8)" }]);
  expect(rows).toEqual([['U8', 'Café 250g', 4, null, 3]]);
  expect(report).toMatchObject({ status: 'processed', rowsRead: 2, rowsAccepted: 1, rowsRejected: 1 });
});

test.each<[string, string]>([
  ['semicolons', 'store;product;count;threshold\nD1;Bolt, M8;3;1\nD1;"a;b";4;\n'],
  ['tabs', 'store\tproduct\tcount\tthreshold\nD1\tBolt, M8\t3\t1\nD1\ta;b\t4\t\n'],
  ['pipes', 'store|product|count|threshold\nD1|Bolt, M8|3|1\nD1|a;b|4|\n'],
])('a file separated by %s is read with that delimiter', async (name, body) => {
  const { report, rows } = await handle(`uploads/delimiter-${name}.csv`, body);
  expect(report).toMatchObject({ status: 'processed', rowsAccepted: 2, rowsRejected: 0 });
  expect(rows).toEqual([['D1', 'Bolt, M8', 3, 1, 2], ['D1', 'a;b', 4, null, 3]]);
});

test('old-Mac CR-only line endings, a CR inside quotes, and lines counted as the file has them', async () => {
  const { report, rows } = await handle('uploads/cr-only.csv', 'store,product,count\rCR,A,1\rCR,"two\rlines",2\r\rCR,C,3\r');
  expect(report).toMatchObject({ status: 'processed', rowsAccepted: 3 });
  expect(rows).toEqual([['CR', 'A', 1, null, 2], ['CR', 'two\rlines', 2, null, 3], ['CR', 'C', 3, null, 6]]);
});

test('the column names stores send are matched to the contract fields', async () => {
  const body = 'Qty;Store-ID;Description;SKU;REORDER_POINT\n7;AL;Green tea;T-1;10\n';
  const { report, rows } = await handle('uploads/aliases.csv', body);
  expect(report).toMatchObject({ status: 'processed', rowsAccepted: 1 });
  expect(rows).toEqual([['AL', 'T-1', 7, 10, 2]]);
});

test('an archived object (InvalidObjectState) fails the upload with a receipt instead of a retry loop', async () => {
  const key = 'uploads/archived.csv';
  await moto.clients.s3.send(new PutObjectCommand({ Bucket: resources.bucket, Key: key, Body: 'store,product,count\nAR,Tea,1\n', StorageClass: 'GLACIER' }));
  const [message] = await receiveAll(moto.clients.sqs, resources.uploadQueueUrl, 1);
  const response = await handler(sqsEvent([message!], uploadQueueArn), lambdaContext('splitter'));
  expect(response).toEqual({ batchItemFailures: [] });
  const report = JSON.parse(await readObject(reportKey(key))) as UploadReport;
  expect(report).toMatchObject({ status: 'failed', rowsRead: 0, messages: 0 });
  expect(report.reason).toMatch(/^the object is archived \(storage class GLACIER\) and cannot be read until it is restored/);
});

describe('store-scoped uploads', () => {
  let scoped: ReturnType<typeof createSplitterHandler>;
  beforeEach(() => {
    scoped = createSplitterHandler({ s3: moto.clients.s3, sqs: moto.clients.sqs, workQueueUrl: resources.workQueueUrl, storeScoped: true, logger: quietLogger(), metrics });
  });

  test('a row for another store is rejected naming both; a file without a store column is its key’s store’s; receipts stay next to the upload', async () => {
    const mixed = await upload('uploads/SC12/monday.csv', 'store,product,count\nSC12,Milk,4\nSC40,Milk,90\nSC12,Tea,3\n');
    const bare = await upload('uploads/SC12/tuesday.csv', 'product;count\nBread;7\n');
    const response = await scoped(sqsEvent([mixed.message, bare.message], uploadQueueArn), lambdaContext('splitter'));
    expect(response).toEqual({ batchItemFailures: [] });
    expect((await workMessages()).flatMap((batch) => batch.rows)).toEqual(
      expect.arrayContaining([
        ['SC12', 'Milk', 4, null, 2],
        ['SC12', 'Tea', 3, null, 4],
        ['SC12', 'Bread', 7, null, 2],
      ]),
    );
    const monday = JSON.parse(await readObject('reports/SC12/monday.csv.json')) as UploadReport;
    expect(monday).toMatchObject({ status: 'processed', rowsRead: 3, rowsAccepted: 2, rowsRejected: 1, rejectsKey: 'rejects/SC12/monday.csv' });
    const rejects = parse(await readObject('rejects/SC12/monday.csv'), { columns: true }) as { line: string; reason: string }[];
    expect(rejects.map((row) => [Number(row.line), row.reason])).toEqual([
      [3, "the row is for store 'SC40', but this upload (under uploads/SC12/) may only hold rows for store 'SC12'"],
    ]);
    expect(JSON.parse(await readObject('reports/SC12/tuesday.csv.json'))).toMatchObject({ status: 'processed', rowsAccepted: 1 });
  });

  test('a key that names no store fails once, with a receipt saying so; nothing is queued and the event is done, not retried', async () => {
    const { message } = await upload('uploads/no-store.csv', 'store,product,count\nNS,Milk,4\n');
    const response = await scoped(sqsEvent([message], uploadQueueArn), lambdaContext('splitter'));
    expect(response).toEqual({ batchItemFailures: [] });
    const report = JSON.parse(await readObject(reportKey('uploads/no-store.csv'))) as UploadReport;
    expect(report).toMatchObject({ status: 'failed', rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, messages: 0 });
    expect(report.reason).toBe("the key uploads/no-store.csv names no store: with store-scoped uploads each file goes under its store's folder, uploads/<store>/<name>.csv");
    expect(await workMessages()).toEqual([]);
    expect(metrics.get(MetricName.UploadsFailed)).toBe(1);
  });
});
