/**
 * A poison message on the work queue: it fails on every receive and, after the queue's
 * maxReceiveCount, lands in the dead-letter queue — while the messages it arrived with apply.
 */
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { LocalPipeline } from '../../src/local/runtime';
import { RowBatchPacker, type PackedMessage } from '../../src/shared/messages';
import { settings } from '../../src/shared/settings';
import { uploadStamp } from '../../src/shared/upload';
import { actualTable, InventoryModel, type Row } from './model';

let pipeline: LocalPipeline;
const writerBatches: string[][] = [];

beforeAll(async () => {
  // One writer poller, so the three messages are received together, as one Lambda batch.
  pipeline = await LocalPipeline.start({
    writerConcurrency: 1,
    retryDelaySeconds: 1,
    onInvoke: (fn, event) => {
      if (fn === 'writer') writerBatches.push((event as SQSEvent).Records.map((r) => r.body));
    },
  });
});

afterAll(async () => {
  await pipeline?.close();
});

function messageOf(key: string, rows: Row[]): string {
  const messages: PackedMessage[] = [];
  const packer = new RowBatchPacker({ key, stamp: uploadStamp(new Date().toISOString(), key, '01') }, settings.packing.maxMessageBytes, (m) =>
    messages.push(m),
  );
  rows.forEach((row, index) => packer.add({ ...row, threshold: row.threshold ?? null, line: index + 2 }));
  packer.flush();
  expect(messages).toHaveLength(1);
  return messages[0]!.body;
}

test('a poison message reaches the dead-letter queue after maxReceiveCount while its batch-mates succeed', async () => {
  const first: Row[] = [
    { store: 'DL1', product: 'Milk', count: 4 },
    { store: 'DL1', product: 'Eggs', count: 40 },
  ];
  const second: Row[] = [{ store: 'DL2', product: 'Tea', count: 12, threshold: 15 }];
  const poison = '{"v":1,"upload":{"key":"uploads/x.csv","stamp":"s"},"rows":[["DL3","Bad",-5,null,2]]}';
  const bodies = [messageOf('uploads/dl-first.csv', first), poison, messageOf('uploads/dl-second.csv', second)];

  await pipeline.clients.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: pipeline.resources.workQueueUrl,
      Entries: bodies.map((body, index) => ({ Id: String(index), MessageBody: body })),
    }),
  );
  const activity = await pipeline.drain();

  expect(writerBatches[0]).toEqual(expect.arrayContaining(bodies));
  // Received once per attempt: maxReceiveCount failures, then moved on the next receive.
  expect(writerBatches.filter((batch) => batch.includes(poison))).toHaveLength(settings.queues.maxReceiveCount);
  expect(activity.deadLettered).toBe(1);
  expect(activity.rowsApplied).toBe(first.length + second.length);

  const { Messages = [] } = await pipeline.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: pipeline.resources.deadLetterQueueUrl, MaxNumberOfMessages: 10 }),
  );
  expect(Messages.map((m) => m.Body)).toEqual([poison]);

  const model = new InventoryModel(settings.inventory.defaultThreshold);
  model.applyFile(first);
  model.applyFile(second);
  const dlStores = (store: string) => store.startsWith('DL');
  expect(await actualTable(pipeline.endpoint, pipeline.resources.table, dlStores)).toEqual(model.table(dlStores));
});
