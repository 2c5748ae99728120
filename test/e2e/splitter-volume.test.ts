/**
 * A generated 100k-row file through the real splitter on moto (S3 → SQS, no writes): every row
 * lands in exactly one message, unchanged, and no message exceeds the packing limit.
 */
import { PutObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import { lambdaContext, toSqsRecord } from '../../src/local/event-sources';
import { startMoto, type MotoServer } from '../../src/local/moto';
import { ensureResources, type LocalResources } from '../../src/local/resources';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/shared/aws';
import { decodeRowBatch } from '../../src/shared/messages';
import { CountingMetrics } from '../../src/shared/observability';
import { MetricName, settings } from '../../src/shared/settings';
import { createSplitterHandler } from '../../src/splitter/handler';

const rowCount = 100_000;
let moto: MotoServer;
let clients: AwsClients;
let resources: LocalResources;

beforeAll(async () => {
  moto = await startMoto();
  clients = createAwsClients({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'e2e', secretAccessKey: 'e2e' } });
  resources = await ensureResources(clients, 'volume');
});

afterAll(async () => {
  if (clients) destroyAwsClients(clients);
  await moto?.stop();
});

/** Row i of the generated file: some products need quoting, some are multibyte, some set a threshold. */
function generatedRow(i: number): [string, string, number, number | null] {
  const store = `S${String(i % 500).padStart(4, '0')}`;
  const product = i % 7 === 0 ? `Item ${i}, "special"` : i % 11 === 0 ? `Käse ${i} – gereift` : `Item ${i}`;
  return [store, product, (i * 7919) % 1000, i % 13 === 0 ? i % 50 : null];
}

function generatedCsv(): string {
  const quote = (field: string) => (/[",]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field);
  const lines = ['store,product,count,threshold'];
  for (let i = 0; i < rowCount; i += 1) {
    const [store, product, count, threshold] = generatedRow(i);
    lines.push(`${store},${quote(product)},${count},${threshold ?? ''}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

async function receiveAll(queueUrl: string): Promise<Message[]> {
  const messages: Message[] = [];
  for (;;) {
    const { Messages = [] } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    if (Messages.length === 0) {
      const { Attributes = {} } = await clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      );
      if (Number(Attributes.ApproximateNumberOfMessages) === 0) return messages;
      continue;
    }
    messages.push(...Messages);
    await clients.sqs.send(
      new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: Messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }),
    );
  }
}

test('a 100k-row upload becomes messages that carry every row exactly once', async () => {
  const key = `${settings.uploads.prefix}volume-100k.csv`;
  await clients.s3.send(new PutObjectCommand({ Bucket: resources.bucket, Key: key, Body: generatedCsv() }));

  // What S3 (moto) put on the upload-events queue — its setup test event and the upload's
  // notification — handed to the splitter as one Lambda batch.
  const notifications = await receiveAll(resources.uploadQueueUrl);
  expect(notifications.length).toBeGreaterThanOrEqual(1);
  const event: SQSEvent = { Records: notifications.map((notification) => toSqsRecord(notification, resources.uploadQueueArn)) };
  const metrics = new CountingMetrics();
  const splitter = createSplitterHandler({
    s3: clients.s3,
    sqs: clients.sqs,
    workQueueUrl: resources.workQueueUrl,
    storeScoped: false,
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics,
  });
  const response = await splitter(event, lambdaContext('splitter', settings.splitter.timeoutSeconds));
  expect(response).toEqual({ batchItemFailures: [] });
  expect(metrics.get(MetricName.RowsRead)).toBe(rowCount);

  const messages = await receiveAll(resources.workQueueUrl);
  const seen = new Map<number, number>();
  for (const message of messages) {
    expect(Buffer.byteLength(message.Body!)).toBeLessThanOrEqual(settings.packing.maxMessageBytes);
    const batch = decodeRowBatch(message.Body!);
    expect(batch.upload.key).toBe(key);
    expect(batch.first).toBe(batch.rows[0]![4]);
    expect(batch.last).toBe(batch.rows.at(-1)![4]);
    for (const [store, product, count, threshold, line] of batch.rows) {
      seen.set(line, (seen.get(line) ?? 0) + 1);
      expect([store, product, count, threshold]).toEqual(generatedRow(line - 2));
    }
  }
  expect(seen.size).toBe(rowCount);
  expect([...seen.values()].every((times) => times === 1)).toBe(true);
  expect(Math.min(...seen.keys())).toBe(2);
  expect(Math.max(...seen.keys())).toBe(rowCount + 1);
  expect(metrics.get(MetricName.MessagesSent)).toBe(messages.length);

  const report = JSON.parse(
    await (await clients.s3.send(new GetObjectCommand({ Bucket: resources.bucket, Key: 'reports/volume-100k.csv.json' }))).Body!.transformToString(),
  );
  expect(report).toMatchObject({ status: 'processed', rowsRead: rowCount, rowsAccepted: rowCount, rowsRejected: 0, messages: messages.length });
});
