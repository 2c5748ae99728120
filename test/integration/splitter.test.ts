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
import { MetricName } from '../../src/shared/settings';
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
  const { message } = await upload(key, 'store,item,count\nS9,Widget,1\nS9,Gadget,2\n');
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
