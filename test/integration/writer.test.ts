/**
 * The writer handler against moto: real messages received from the work queue, applied with the
 * DynamoDB adapter's conditional UpdateItems, read back with GetItem and Scan.
 */
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { GetQueueAttributesCommand, SendMessageBatchCommand, type Message } from '@aws-sdk/client-sqs';
import { ensureResources, type LocalResources } from '../../src/local/resources';
import { oneRequestAtATime } from '../../src/local/serialize';
import type { InventoryRow } from '../../src/shared/csv';
import type { InventoryItem } from '../../src/shared/item';
import { RowBatchPacker } from '../../src/shared/messages';
import { CountingMetrics } from '../../src/shared/observability';
import { MetricName } from '../../src/shared/settings';
import { rowStamp, uploadStamp } from '../../src/shared/upload';
import { DynamoInventoryTable } from '../../src/writer/dynamodb-table';
import { createWriterHandler } from '../../src/writer/handler';
import { sqsRowsQueue } from '../../src/writer/rows-queue';
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
