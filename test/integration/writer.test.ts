/**
 * The writer handler against moto: real messages received from the work queue, applied with the
 * DynamoDB adapter's conditional UpdateItems, read back with GetItem and Scan.
 */
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { ensureResources, type LocalResources } from '../../src/local/resources';
import { oneRequestAtATime } from '../../src/local/serialize';
import type { InventoryRow } from '../../src/shared/csv';
import type { InventoryItem } from '../../src/shared/item';
import { decodeRowBatch, RowBatchPacker } from '../../src/shared/messages';
import { CountingMetrics } from '../../src/shared/observability';
import { MetricName, settings, visibilityTimeoutSeconds } from '../../src/shared/settings';
import { rowStamp, uploadStamp } from '../../src/shared/upload';
import { DynamoInventoryTable } from '../../src/writer/dynamodb-table';
import { createWriterHandler, failedRetrySeconds } from '../../src/writer/handler';
import { sqsRowsQueue, type RowsQueue } from '../../src/writer/rows-queue';
import { lambdaContext as localLambdaContext } from '../../src/local/event-sources';
import { FaultInjector, noFaults } from '../../src/local/faults';
import { createAwsClients, destroyAwsClients } from '../../src/shared/aws';
import { lambdaContext, quietLogger, receiveAll, sqsEvent, startMotoWithClients, type Moto } from '../support/aws';
import { Prng } from '../../src/shared/prng';

const defaultThreshold = 10;
const now = '2024-06-02T03:00:00.000Z';

let moto: Moto;
let resources: LocalResources;
let workQueueArn: string;

beforeAll(async () => {
  moto = await startMotoWithClients();
  resources = await ensureResources(moto.clients, 'it-writer');
  oneRequestAtATime(moto.clients.dynamodb);
  const { Attributes } = await moto.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: resources.workQueueUrl, AttributeNames: ['QueueArn'] }));
  workQueueArn = Attributes!.QueueArn!;
});

afterAll(async () => {
  await moto?.stop();
});

/** The real rows queue, with what the writer asked of it recorded; delays shortened to 1 s as the local runtime does. */
function recordingRowsQueue() {
  const real = sqsRowsQueue(moto.clients.sqs, resources.workQueueUrl);
  const calls = { sent: [] as { body: string; delaySeconds: number }[], retries: [] as { receiptHandle: string; seconds: number }[] };
  const rowsQueue: RowsQueue = {
    sendLater: (body, delaySeconds) => (calls.sent.push({ body, delaySeconds }), real.sendLater(body, Math.min(1, delaySeconds))),
    retryAfter: (receiptHandle, seconds) => (calls.retries.push({ receiptHandle, seconds }), real.retryAfter(receiptHandle, seconds)),
  };
  return { rowsQueue, calls };
}

function writer() {
  const metrics = new CountingMetrics();
  const handler = createWriterHandler({
    // moto checks a condition and writes the item without a lock, so two concurrent UpdateItems
    // on one item can both pass (DynamoDB never lets them); one write at a time, as the local
    // runtime does, keeps this test about the writer's logic.
    table: new DynamoInventoryTable(moto.clients.documents, resources.table, defaultThreshold, () => now),
    rowsQueue: sqsRowsQueue(moto.clients.sqs, resources.workQueueUrl),
    logger: quietLogger(),
    metrics,
  });
  return { metrics, invoke: (messages: Message[]) => handler(sqsEvent(messages, workQueueArn), lambdaContext('writer')) };
}

interface TestUpload {
  key: string;
  stamp: string;
}

function testUpload(key: string, eventTime: string): TestUpload {
  return { key, stamp: uploadStamp(eventTime, key, '') };
}

/** The upload's rows packed as the splitter packs them. */
function bodies(upload: TestUpload, rows: readonly InventoryRow[], maxBytes = 64 * 1024): string[] {
  const out: string[] = [];
  const packer = new RowBatchPacker(upload, maxBytes, (message) => out.push(message.body));
  for (const row of rows) packer.add(row);
  packer.flush();
  return out;
}

/** Puts the bodies on the real work queue and receives them back as the event source would. */
async function viaQueue(messageBodies: readonly string[]): Promise<Message[]> {
  for (let at = 0; at < messageBodies.length; at += 10) {
    await moto.clients.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: resources.workQueueUrl,
        Entries: messageBodies.slice(at, at + 10).map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
  }
  return receiveAll(moto.clients.sqs, resources.workQueueUrl, messageBodies.length);
}

async function getItem(store: string, product: string): Promise<InventoryItem | undefined> {
  const { Item } = await moto.clients.documents.send(new GetCommand({ TableName: resources.table, Key: { store, product } }));
  return Item as InventoryItem | undefined;
}

async function itemsOf(store: string): Promise<InventoryItem[]> {
  const items: InventoryItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await moto.clients.documents.send(new ScanCommand({ TableName: resources.table, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as InventoryItem[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items.filter((item) => item.store === store).sort((a, b) => (a.product < b.product ? -1 : 1));
}

const row = (store: string, product: string, count: number, threshold: number | null, line: number): InventoryRow => ({ store, product, count, threshold, line });

test('applies every row of the messages to the real table', async () => {
  const upload = testUpload('uploads/w1.csv', '2024-06-01T22:00:00.000Z');
  const rows = [
    row('W1', 'Widget', 7, null, 2),
    row('W1', 'Bolt, "M8"\nlong', 3, 5, 3),
    row('W1', 'Crème brûlée 🙂', 0, 0, 4),
    row('W1', 'Widget', 9, null, 6),
  ];
  const { metrics, invoke } = writer();
  expect(await invoke(await viaQueue(bodies(upload, rows)))).toEqual({ batchItemFailures: [] });

  expect(await getItem('W1', 'Widget')).toEqual({
    store: 'W1',
    product: 'Widget',
    count: 9,
    threshold: defaultThreshold,
    version: rowStamp(upload.stamp, 6),
    upload: upload.key,
    line: 6,
    updatedAt: now,
  });
  expect(await getItem('W1', 'Bolt, "M8"\nlong')).toMatchObject({ count: 3, threshold: 5, thresholdVersion: rowStamp(upload.stamp, 3), line: 3 });
  expect(await getItem('W1', 'Crème brûlée 🙂')).toMatchObject({ count: 0, threshold: 0, line: 4 });
  expect(await itemsOf('W1')).toHaveLength(3);
  // Line 2 is superseded by line 6 within the message.
  expect([metrics.get(MetricName.RowsApplied), metrics.get(MetricName.RowsSkipped)]).toEqual([3, 1]);
});

test('stale rows are skipped, not failed: a redelivered message and a late older upload (whose thresholds still count)', async () => {
  const newer = testUpload('uploads/w2.csv', '2024-06-02T22:00:00.000Z');
  const older = testUpload('uploads/w2.csv', '2024-06-01T22:00:00.000Z');
  const newerRows = [row('W2', 'A', 20, null, 2), row('W2', 'B', 30, 4, 3)];
  const olderRows = [row('W2', 'A', 1, 6, 2), row('W2', 'B', 2, 8, 3), row('W2', 'C', 3, null, 4)];

  const first = writer();
  await first.invoke(await viaQueue(bodies(newer, newerRows)));
  const redelivered = writer();
  expect(await redelivered.invoke(await viaQueue(bodies(newer, newerRows)))).toEqual({ batchItemFailures: [] });
  expect([redelivered.metrics.get(MetricName.RowsApplied), redelivered.metrics.get(MetricName.RowsSkipped)]).toEqual([0, 2]);

  const late = writer();
  expect(await late.invoke(await viaQueue(bodies(older, olderRows)))).toEqual({ batchItemFailures: [] });
  // A and B are newer in the table; C is new.
  expect([late.metrics.get(MetricName.RowsApplied), late.metrics.get(MetricName.RowsSkipped)]).toEqual([1, 2]);
  expect((await itemsOf('W2')).map(({ product, count, threshold, line }) => ({ product, count, threshold, line }))).toEqual([
    { product: 'A', count: 20, threshold: 6, line: 2 }, // the older row's explicit threshold: no newer row set one
    { product: 'B', count: 30, threshold: 4, line: 3 }, // the newer row's own threshold wins
    { product: 'C', count: 3, threshold: defaultThreshold, line: 4 },
  ]);
  expect((await getItem('W2', 'A'))!.version).toBe(rowStamp(newer.stamp, 2));
});

test('a message that cannot be decoded fails alone; its batch-mates are applied', async () => {
  const upload = testUpload('uploads/w3.csv', '2024-06-01T22:00:00.000Z');
  const good = bodies(upload, [row('W3', 'A', 5, null, 2)]);
  const messages = await viaQueue(['not json at all', ...good, JSON.stringify({ v: 2, upload, rows: [] })]);
  const bad = messages.filter((message) => message.Body !== good[0]).map((message) => message.MessageId!);
  expect(bad).toHaveLength(2);

  const { invoke } = writer();
  const response = await invoke(messages);
  expect(response.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual([...bad].sort());
  expect(await getItem('W3', 'A')).toMatchObject({ count: 5, line: 2 });
});

test('messages of several uploads, delivered in any order and more than once, end in the newest rows (seeded)', async () => {
  for (const seed of [1, 2, 3]) {
    const prng = new Prng(seed);
    const store = `W4-${seed}`;
    const products = ['A', 'B', 'C', 'D'];
    const uploads = [0, 1, 2].map((day) => testUpload(`uploads/${store}.csv`, new Date(Date.UTC(2024, 5, 1 + day, 22)).toISOString()));
    const perUpload = uploads.map(() => Array.from({ length: 12 }, (_, index) => row(store, prng.pick(products), prng.int(0, 20), prng.chance(0.3) ? prng.int(0, 20) : null, index + 2)));
    // Small messages so one upload spans several; every message delivered once or twice.
    const all = uploads.flatMap((upload, index) => bodies(upload, perUpload[index]!, 400));
    const deliveries = prng.shuffle(all.flatMap((body) => (prng.chance(0.3) ? [body, body] : [body])));

    for (let at = 0; at < deliveries.length; ) {
      const size = prng.int(1, 10);
      const response = await writer().invoke(await viaQueue(deliveries.slice(at, at + size)));
      expect(response).toEqual({ batchItemFailures: [] });
      at += size;
    }

    // Expected straight from the contract: newest row's count, newest explicit threshold.
    const stamped = uploads.flatMap((upload, index) => perUpload[index]!.map((each) => ({ ...each, version: rowStamp(upload.stamp, each.line) })));
    const expected = [...new Set(stamped.map((each) => each.product))].sort().map((product) => {
      const newestFirst = stamped.filter((each) => each.product === product).sort((a, b) => (a.version < b.version ? 1 : -1));
      return {
        product,
        count: newestFirst[0]!.count,
        version: newestFirst[0]!.version,
        threshold: newestFirst.find((each) => each.threshold !== null)?.threshold ?? defaultThreshold,
      };
    });
    const items = (await itemsOf(store)).map(({ product, count, version, threshold }) => ({ product, count, version, threshold }));
    expect({ seed, items }).toEqual({ seed, items: expected });
  }
});

test('rows the table keeps throttling until the invocation\'s time runs out are re-sent, delayed, and the message succeeds; applied later, they complete the table (throttling injected below the handler by the local runtime\'s SDK middleware)', async () => {
  // A table client whose UpdateItems are all throttled for 3 s (a cold table, a hot partition).
  const clients = createAwsClients({ endpoint: moto.server.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: settings.writer.backPressure.sdkMaxAttempts });
  oneRequestAtATime(clients.dynamodb);
  const faults = new FaultInjector({ ...noFaults, throttleBurstSeconds: 3 });
  faults.throttleUpdates(clients.dynamodb);
  faults.startFile();
  try {
    const upload = testUpload('uploads/w5.csv', '2024-06-01T22:00:00.000Z');
    const rows = [row('W5', 'A', 1, null, 2), row('W5', 'B', 2, 7, 3), row('W5', 'C', 3, null, 4)];
    const { rowsQueue, calls } = recordingRowsQueue();
    const metrics = new CountingMetrics();
    const handler = createWriterHandler({ table: new DynamoInventoryTable(clients.documents, resources.table, defaultThreshold, () => now), rowsQueue, logger: quietLogger(), metrics });

    // An invocation with 1.5 s for writes (its timeout less the reserve for re-sending).
    const [received] = await viaQueue(bodies(upload, rows));
    const response = await handler(sqsEvent([received!], workQueueArn), localLambdaContext('writer', settings.writer.backPressure.reserveMs / 1000 + 1.5));
    expect(response).toEqual({ batchItemFailures: [] });
    expect(faults.counts.throttled).toBeGreaterThan(0);
    expect([metrics.get(MetricName.RowsApplied), metrics.get(MetricName.RowsDeferred)]).toEqual([0, 3]);
    expect(calls.sent).toHaveLength(1);
    expect(calls.sent[0]!.delaySeconds).toBeGreaterThanOrEqual(settings.writer.backPressure.deferBaseSeconds / 2);
    expect(calls.sent[0]!.delaySeconds).toBeLessThanOrEqual(settings.writer.backPressure.deferBaseSeconds);
    const deferred = decodeRowBatch(calls.sent[0]!.body);
    expect(deferred).toMatchObject({ upload, deferrals: 1, first: 2, last: 4 });
    expect(deferred.rows).toEqual(rows.map((r) => [r.store, r.product, r.count, r.threshold, r.line]));
    expect(await itemsOf('W5')).toEqual([]);

    // After the burst the re-sent message comes back and applies, with the upload's own stamps.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const [again] = await receiveAll(moto.clients.sqs, resources.workQueueUrl, 1);
    expect(again!.Body).toBe(calls.sent[0]!.body);
    expect(await handler(sqsEvent([again!], workQueueArn), lambdaContext('writer'))).toEqual({ batchItemFailures: [] });
    expect((await itemsOf('W5')).map(({ product, count, threshold, version }) => ({ product, count, threshold, version }))).toEqual([
      { product: 'A', count: 1, threshold: defaultThreshold, version: rowStamp(upload.stamp, 2) },
      { product: 'B', count: 2, threshold: 7, version: rowStamp(upload.stamp, 3) },
      { product: 'C', count: 3, threshold: defaultThreshold, version: rowStamp(upload.stamp, 4) },
    ]);
  } finally {
    destroyAwsClients(clients);
  }
});

test('a failed message is handed back for a growing while (30, 60, 120 … s by receive count, at most the queue\'s visibility timeout), not the fixed one', async () => {
  const { rowsQueue, calls } = recordingRowsQueue();
  const handler = createWriterHandler({ table: new DynamoInventoryTable(moto.clients.documents, resources.table, defaultThreshold, () => now), rowsQueue, logger: quietLogger(), metrics: new CountingMetrics() });
  await moto.clients.sqs.send(new SendMessageCommand({ QueueUrl: resources.workQueueUrl, MessageBody: '{"v":1,"upload":{"key":"uploads/p.csv","stamp":"s"},"rows":[["W6","Bad",-5,null,2]]}' }));
  // Received as Lambda receives it: in flight, not deleted.
  const { Messages: [poison] = [] } = await moto.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: resources.workQueueUrl, MaxNumberOfMessages: 1, MessageSystemAttributeNames: ['All'], VisibilityTimeout: 1 }),
  );
  const response = await handler(sqsEvent([poison!], workQueueArn), lambdaContext('writer'));
  expect(response.batchItemFailures).toEqual([{ itemIdentifier: poison!.MessageId }]);
  expect(calls.retries).toEqual([{ receiptHandle: poison!.ReceiptHandle, seconds: settings.writer.failedRetryBaseSeconds }]);
  // Received with a 1 s visibility timeout, it is still hidden 1.5 s later: the writer's 30 s applied.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const { Attributes } = await moto.clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: resources.workQueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  expect(Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '1' });
  await moto.clients.sqs.send(new DeleteMessageCommand({ QueueUrl: resources.workQueueUrl, ReceiptHandle: poison!.ReceiptHandle }));

  const ceiling = visibilityTimeoutSeconds(settings.writer.timeoutSeconds);
  expect([1, 2, 3, 4, 5, 6, 12].map(failedRetrySeconds)).toEqual([30, 60, 120, 240, Math.min(480, ceiling), ceiling, ceiling]);
});
