/**
 * The local runtime's event source mappings against moto: an SQS source runs up to `concurrency`
 * invocations at once and delivers every message exactly once when handlers succeed; a failed
 * item comes back and is retried; a stream source hands records written in a burst to the function
 * in few invocations, in order, each record once.
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { DynamoStreamEventSource, SqsEventSource } from '../../src/local/event-sources';
import { ensureResources, type LocalResources } from '../../src/local/resources';
import { oneRequestAtATime } from '../../src/local/serialize';
import { receiveAll, startMotoWithClients, type Moto } from '../support/aws';

let moto: Moto;
let resources: LocalResources;

beforeAll(async () => {
  moto = await startMotoWithClients();
  oneRequestAtATime(moto.clients.sqs);
  resources = await ensureResources(moto.clients, 'it-sources');
});

afterAll(async () => {
  await moto?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function sendBodies(sqs: SQSClient, queueUrl: string, bodies: string[]): Promise<void> {
  for (let start = 0; start < bodies.length; start += 10) {
    const { Failed = [] } = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(start, start + 10).map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
    expect(Failed).toEqual([]);
  }
}

function sqsSource(handler: (event: SQSEvent) => Promise<SQSBatchResponse | void>, concurrency: number) {
  return new SqsEventSource(
    moto.clients.sqs,
    { url: resources.workQueueUrl, arn: resources.workQueueArn },
    { name: 'writer', timeoutSeconds: 60, handler },
    { batchSize: 1, concurrency, retryDelaySeconds: 0 },
  );
}

/** A stream source on the table's stream, from its current end, recording every invocation. */
async function streamSource() {
  const invocations: DynamoDBStreamEvent[] = [];
  const source = new DynamoStreamEventSource(
    moto.clients.streams,
    moto.clients.sqs,
    resources.streamArn,
    {
      name: 'alerter',
      timeoutSeconds: 60,
      handler: async (event) => {
        invocations.push(event);
        return { batchItemFailures: [] };
      },
    },
    { batchSize: 100, retryAttempts: 2, onFailureQueueUrl: resources.alertDeadLetterQueueUrl },
  );
  await source.startAtLatest();
  return { source, invocations };
}

test('an SQS source runs at most `concurrency` invocations at once, reaches that concurrency, and delivers each message once', async () => {
  const bodies = Array.from({ length: 12 }, (_, index) => `message-${index}`);
  await sendBodies(moto.clients.sqs, resources.workQueueUrl, bodies);
  const delivered: string[] = [];
  let running = 0;
  let mostRunning = 0;
  const source = sqsSource(async (event) => {
    running += 1;
    mostRunning = Math.max(mostRunning, running);
    await sleep(150);
    delivered.push(...event.Records.map((record) => record.body));
    running -= 1;
  }, 3);

  await source.drain(() => true);

  expect(mostRunning).toBe(3);
  expect([...delivered].sort()).toEqual([...bodies].sort());
  expect(await source.isEmpty()).toBe(true);
});

test('an SQS source gives a message whose item failed back to the function until it succeeds, and deletes the rest', async () => {
  await sendBodies(moto.clients.sqs, resources.workQueueUrl, ['fine', 'flaky']);
  const attempts = new Map<string, number>();
  const source = sqsSource(async (event) => {
    const failures = [];
    for (const record of event.Records) {
      const attempt = (attempts.get(record.body) ?? 0) + 1;
      attempts.set(record.body, attempt);
      if (record.body === 'flaky' && attempt < 3) failures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures: failures };
  }, 2);

  await source.drain(() => true);

  expect(Object.fromEntries(attempts)).toEqual({ fine: 1, flaky: 3 });
  expect(await source.isEmpty()).toBe(true);
});

test('an SQS source waits for its upstream: messages sent after drain() started are delivered before it returns', async () => {
  let upstreamDone = false;
  const delivered: string[] = [];
  const source = sqsSource(async (event) => {
    delivered.push(...event.Records.map((record) => record.body));
  }, 2);

  const draining = source.drain(() => upstreamDone);
  await sleep(300);
  await sendBodies(moto.clients.sqs, resources.workQueueUrl, ['late-1', 'late-2']);
  upstreamDone = true;
  await draining;

  expect(delivered.sort()).toEqual(['late-1', 'late-2']);
});

test('a stream source delivers records written in a burst in order, each once, in far fewer invocations than writes', async () => {
  const { source, invocations } = await streamSource();

  const writes = 60;
  let writesDone = false;
  const draining = source.drain(() => writesDone);
  for (let index = 0; index < writes; index += 1) {
    await moto.clients.documents.send(
      new PutCommand({ TableName: resources.table, Item: { store: 'S-burst', product: `P${String(index).padStart(3, '0')}`, count: index } }),
    );
  }
  writesDone = true;
  await draining;

  const records = invocations.flatMap((event) => event.Records);
  const products = records.map((record) => record.dynamodb?.Keys?.product?.S);
  const sequence = records.map((record) => BigInt(record.dynamodb!.SequenceNumber!));
  expect(new Set(products)).toEqual(new Set(Array.from({ length: writes }, (_, index) => `P${String(index).padStart(3, '0')}`)));
  expect(sequence).toEqual([...sequence].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  expect(new Set(sequence).size).toBe(sequence.length);
  // One poll per write would mean `writes` invocations; reading about four times a second batches them.
  expect(invocations.length).toBeLessThanOrEqual(writes / 3);
});

test('stream records reach the function in Lambda’s shape: keys, both images, sequence number and creation time (the local runtime serves GetRecords itself)', async () => {
  const { source, invocations } = await streamSource();
  const before = Date.now() / 1000;
  const key = { store: 'S-shape', product: 'Bolt "M8", 50 mm é' };
  await moto.clients.documents.send(new PutCommand({ TableName: resources.table, Item: { ...key, count: 5, tags: ['a', null, false, { n: 1.5 }] } }));
  await moto.clients.documents.send(new PutCommand({ TableName: resources.table, Item: { ...key, count: 7 } }));
  await source.drain(() => true);
  const after = Date.now() / 1000;

  const records = invocations.flatMap((event) => event.Records);
  expect(records.map((record) => record.eventName)).toEqual(['INSERT', 'MODIFY']);
  const [insert, modify] = records as [DynamoDBRecord, DynamoDBRecord];
  expect(insert.dynamodb).toMatchObject({
    Keys: { store: { S: key.store }, product: { S: key.product } },
    NewImage: { count: { N: '5' }, tags: { L: [{ S: 'a' }, { NULL: true }, { BOOL: false }, { M: { n: { N: '1.5' } } }] } },
    StreamViewType: 'NEW_AND_OLD_IMAGES',
  });
  expect(insert.dynamodb?.OldImage).toBeUndefined();
  expect(modify.dynamodb).toMatchObject({ OldImage: { count: { N: '5' } }, NewImage: { count: { N: '7' } } });
  expect(BigInt(modify.dynamodb!.SequenceNumber!)).toBeGreaterThan(BigInt(insert.dynamodb!.SequenceNumber!));
  for (const record of records) {
    expect(record.dynamodb!.ApproximateCreationDateTime).toBeGreaterThanOrEqual(Math.floor(before) - 1);
    expect(record.dynamodb!.ApproximateCreationDateTime).toBeLessThanOrEqual(after + 1);
  }
});

test('an SQS source with a batching window gathers messages that arrive within it into one invocation', async () => {
  const invocations: string[][] = [];
  const source = new SqsEventSource(
    moto.clients.sqs,
    { url: resources.workQueueUrl, arn: resources.workQueueArn },
    { name: 'writer', timeoutSeconds: 60, handler: async (event: SQSEvent) => void invocations.push(event.Records.map((r) => r.body)) },
    { batchSize: 10, batchingWindowSeconds: 2, concurrency: 1, retryDelaySeconds: 0 },
  );
  let sent = false;
  const draining = source.drain(() => sent);
  await sendBodies(moto.clients.sqs, resources.workQueueUrl, ['first']);
  await sleep(400);
  await sendBodies(moto.clients.sqs, resources.workQueueUrl, ['second', 'third']);
  sent = true;
  await draining;

  expect(invocations.map((bodies) => bodies.sort())).toEqual([['first', 'second', 'third']]);
});

test('an SQS source whose mapping does not report batch item failures takes any answer as success for the whole batch', async () => {
  await sendBodies(moto.clients.sqs, resources.workQueueUrl, ['reported-failed']);
  let deliveries = 0;
  const source = new SqsEventSource(
    moto.clients.sqs,
    { url: resources.workQueueUrl, arn: resources.workQueueArn },
    {
      name: 'writer',
      timeoutSeconds: 60,
      handler: async (event: SQSEvent) => {
        deliveries += 1;
        return { batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.messageId })) };
      },
    },
    { batchSize: 10, concurrency: 1, retryDelaySeconds: 0, reportBatchItemFailures: false },
  );
  await source.drain(() => true);

  expect(deliveries).toBe(1);
  expect(await source.isEmpty()).toBe(true);
});

test('a stream source that bisects splits a batch whose invocation failed until the poison record is alone, delivers the rest, and records the poison on the on-failure queue', async () => {
  const failures = resources.alertDeadLetterQueueUrl;
  await receiveAll(moto.clients.sqs, failures);
  const delivered: string[] = [];
  const attempted: number[] = [];
  const source = new DynamoStreamEventSource(
    moto.clients.streams,
    moto.clients.sqs,
    resources.streamArn,
    {
      name: 'alerter',
      timeoutSeconds: 60,
      handler: async (event: DynamoDBStreamEvent) => {
        attempted.push(event.Records.length);
        const products = event.Records.map((record) => record.dynamodb!.Keys!.product!.S!);
        if (products.includes('P-poison')) throw new Error('poison');
        delivered.push(...products);
      },
    },
    { batchSize: 100, retryAttempts: 1, bisectBatchOnFunctionError: true, onFailureQueueUrl: failures },
  );
  await source.startAtLatest();
  const products = ['P-a', 'P-b', 'P-poison', 'P-c', 'P-d', 'P-e', 'P-f', 'P-g'];
  for (const product of products) {
    await moto.clients.documents.send(new PutCommand({ TableName: resources.table, Item: { store: 'S-bisect', product, count: 1 } }));
  }
  await source.drain(() => true);

  expect(delivered.sort()).toEqual(products.filter((p) => p !== 'P-poison').sort());
  // The poison alone was tried once and retried once (retryAttempts 1) before it was recorded.
  expect(attempted.filter((size) => size === 1).length).toBeGreaterThanOrEqual(2);
  const recorded = (await receiveAll(moto.clients.sqs, failures, 1)).map((m) => JSON.parse(m.Body!) as { DDBStreamBatchInfo: { batchSize: number } });
  expect(recorded.map((r) => r.DDBStreamBatchInfo.batchSize)).toEqual([1]);
});
