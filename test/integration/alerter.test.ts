/**
 * The alerter handler against moto: real UpdateItems (through the writer's DynamoDB adapter), the
 * real stream records read with GetShardIterator/GetRecords, alerts published to the real topic and
 * received from a real SQS queue subscribed to it.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { alertIdFor } from '../../src/alerter/crossing';
import { parseParkedAlert, sqsParking, type ParkAlert } from '../../src/alerter/parking';
import { snsPublishBatch, type PublishBatch } from '../../src/alerter/publisher';
import { createAlerterHandler } from '../../src/alerter/handler';
import { ensureResources, type LocalResources } from '../../src/local/resources';
import type { InventoryItem } from '../../src/shared/item';
import type { StampedRow } from '../../src/shared/messages';
import { CountingMetrics } from '../../src/shared/observability';
import { MetricName } from '../../src/shared/settings';
import { rowStamp, uploadStamp } from '../../src/shared/upload';
import { applyRow } from '../../src/writer/apply';
import { DynamoInventoryTable } from '../../src/writer/dynamodb-table';
import { lambdaContext, quietLogger, receiveAll, startMotoWithClients, StreamReader, type Moto } from '../support/aws';
import { patient } from '../support/back-pressure';

const defaultThreshold = 10;

let moto: Moto;
let resources: LocalResources;
let table: DynamoInventoryTable;
let stream: StreamReader;
let line = 1;
let tick = 0;
const upload = { key: 'uploads/a1.csv', stamp: uploadStamp('2024-06-01T22:00:00.000Z', 'uploads/a1.csv', '') };

beforeAll(async () => {
  moto = await startMotoWithClients();
  resources = await ensureResources(moto.clients, 'it-alerter');
  // Each write gets its own updatedAt, so an alert's time names the write that caused it.
  table = new DynamoInventoryTable(moto.clients.documents, resources.table, defaultThreshold, () => new Date(Date.UTC(2024, 5, 2) + ++tick * 1000).toISOString());
  stream = new StreamReader(moto.clients.streams, resources.streamArn);
  await stream.open();
});

afterAll(async () => {
  await moto?.stop();
});

// Each test starts from a read-through stream and an empty capture queue, whatever came before.
beforeEach(async () => {
  await stream.read();
  await receiveAll(moto.clients.sqs, resources.alertCaptureQueueUrl);
});

/** Writes a row as the writer does (the next line of the upload) and returns it. */
async function write(store: string, product: string, count: number, threshold: number | null = null): Promise<StampedRow> {
  line += 1;
  const stamped: StampedRow = { store, product, count, threshold, line, version: rowStamp(upload.stamp, line), upload: upload.key };
  expect(await applyRow(stamped, table, patient(1))).toBe(true);
  return stamped;
}

function alerter(publishBatch: PublishBatch = snsPublishBatch(moto.clients.sns, resources.topicArn), park: ParkAlert = sqsParking(moto.clients.sqs, resources.alertDeadLetterQueueUrl)) {
  const metrics = new CountingMetrics();
  const handler = createAlerterHandler({ publishBatch, park, defaultThreshold, logger: quietLogger(), metrics });
  return { metrics, invoke: (records: DynamoDBRecord[]) => handler({ Records: records }, lambdaContext('alerter')) };
}

async function getItem(store: string, product: string): Promise<InventoryItem> {
  const { Item } = await moto.clients.documents.send(new GetCommand({ TableName: resources.table, Key: { store, product } }));
  return Item as InventoryItem;
}

interface Delivered {
  subject: string;
  attributes: Record<string, string>;
  alert: Record<string, unknown>;
}

/** The SNS notifications the subscribed queue received (SNS's JSON envelope around our message). */
async function delivered(count?: number): Promise<Delivered[]> {
  const messages = await receiveAll(moto.clients.sqs, resources.alertCaptureQueueUrl, count);
  if (count !== undefined) messages.push(...(await receiveAll(moto.clients.sqs, resources.alertCaptureQueueUrl)));
  return messages
    .map((message) => {
      const envelope = JSON.parse(message.Body!) as { Subject: string; Message: string; MessageAttributes: Record<string, { Type: string; Value: string }> };
      return {
        subject: envelope.Subject,
        attributes: Object.fromEntries(Object.entries(envelope.MessageAttributes ?? {}).map(([name, attribute]) => [name, `${attribute.Type}:${attribute.Value}`])),
        alert: JSON.parse(envelope.Message) as Record<string, unknown>,
      };
    })
    .sort((a, b) => String(a.alert.product).localeCompare(String(b.alert.product)));
}

test('new items: one LOW_STOCK for an item created low (moto’s two INSERT records count once), none for items created fine', async () => {
  const low = await write('S1', 'Crème brûlée 🙂', 3);
  await write('S1', 'Fine', 50);
  await write('S1', 'Own threshold', 3, 2);
  const records = await stream.read();
  // moto: an UpdateItem that creates an item is an INSERT of the key, then an INSERT of the item.
  expect(records.filter((record) => record.eventName === 'INSERT')).toHaveLength(6);

  const { invoke, metrics } = alerter();
  expect(await invoke(records)).toEqual({ batchItemFailures: [] });
  const alerts = await delivered(1);
  expect(alerts).toHaveLength(1);
  const [only] = alerts;
  expect(only!.alert).toEqual({
    alertId: expect.stringMatching(/^[0-9a-f]{32}$/),
    type: 'LOW_STOCK',
    store: 'S1',
    product: 'Crème brûlée 🙂',
    count: 3,
    previousCount: null,
    threshold: defaultThreshold,
    time: (await getItem('S1', 'Crème brûlée 🙂')).updatedAt,
    upload: upload.key,
    line: low.line,
  });
  expect(only!.subject).toBe('Low stock: Cr?me br?l?e ?? at S1 (3 < 10)');
  expect(only!.subject).toMatch(/^[\x20-\x7e]{1,99}$/);
  expect(only!.attributes).toEqual({ type: 'String:LOW_STOCK', store: 'String:S1', product: 'String:Crème brûlée 🙂' });
  expect(metrics.get(MetricName.AlertsPublished)).toBe(1);
});

test('changes: fine → low and low → fine alert; a dip and recovery within one batch does not; a redelivered batch repeats the same alertIds', async () => {
  await write('S2', 'Drops', 40);
  await write('S2', 'Recovers', 2);
  await write('S2', 'Dips', 40);
  await alerter().invoke(await stream.read());
  await delivered();

  const drop = await write('S2', 'Drops', 4);
  const recover = await write('S2', 'Recovers', 25);
  await write('S2', 'Dips', 1);
  await write('S2', 'Dips', 45);
  const dropsFurther = await write('S2', 'Drops', 2); // still low: no second alert
  const records = await stream.read();
  expect(records.every((record) => record.eventName === 'MODIFY')).toBe(true);

  expect(await alerter().invoke(records)).toEqual({ batchItemFailures: [] });
  const alerts = await delivered(2);
  expect(alerts.map(({ alert }) => [alert.product, alert.type, alert.previousCount, alert.count])).toEqual([
    ['Drops', 'LOW_STOCK', 40, 2],
    ['Recovers', 'RESTOCKED', 2, 25],
  ]);
  expect(alerts.map(({ subject }) => subject)).toEqual(['Low stock: Drops at S2 (2 < 10)', 'Restocked: Recovers at S2 (25 >= 10)']);
  expect(alerts[1]!.attributes).toEqual({ type: 'String:RESTOCKED', store: 'String:S2', product: 'String:Recovers' });
  expect(alerts[1]!.alert.line).toBe(recover.line);
  // The chain is judged by its last state: the alert reports where the item ended.
  expect(alerts[0]!.alert.line).toBe(dropsFurther.line);
  expect(drop.line).toBeLessThan(dropsFurther.line);

  // The stream delivers a batch again (e.g. after a timeout): same crossings, same ids to dedupe on.
  await alerter().invoke(records);
  const again = await delivered(2);
  expect(again.map(({ alert }) => alert.alertId)).toEqual(alerts.map(({ alert }) => alert.alertId));
});

test('a raised threshold alone makes an item low', async () => {
  await write('S3', 'Widget', 6, 4);
  await alerter().invoke(await stream.read());
  expect(await delivered()).toEqual([]);
  await write('S3', 'Widget', 6, 8);
  await alerter().invoke(await stream.read());
  const alerts = await delivered(1);
  expect(alerts.map(({ alert }) => [alert.type, alert.count, alert.threshold])).toEqual([['LOW_STOCK', 6, 8]]);
});

/** A publishBatch port refusing the entries of one product (SNS can't be made to refuse one entry on demand). */
function refusing(product: string): PublishBatch {
  const real = snsPublishBatch(moto.clients.sns, resources.topicArn);
  return async (entries) => {
    const refused = entries.filter((entry) => entry.MessageAttributes.product!.StringValue === product);
    const failures = await real(entries.filter((entry) => !refused.includes(entry)));
    return [...failures, ...refused.map((entry) => ({ Id: entry.Id, SenderFault: true, Code: 'InvalidParameter', Message: 'injected' }))];
  };
}

test('an alert SNS does not take is parked, payload and all, on the alerts dead-letter queue, and its record succeeds (failure injected: a publishBatch port refusing one entry)', async () => {
  await write('S4', 'Refused', 1);
  await write('S4', 'Taken', 2);
  const records = await stream.read();

  const { invoke, metrics } = alerter(refusing('Refused'));
  expect(await invoke(records)).toEqual({ batchItemFailures: [] });
  expect((await delivered(1)).map(({ alert }) => alert.product)).toEqual(['Taken']);
  expect([metrics.get(MetricName.AlertsPublished), metrics.get(MetricName.AlertsParked)]).toEqual([1, 1]);

  const [parked, ...more] = await receiveAll(moto.clients.sqs, resources.alertDeadLetterQueueUrl, 1);
  expect(more).toEqual([]);
  const alert = parseParkedAlert(parked!.Body!);
  const item = await getItem('S4', 'Refused');
  expect(JSON.parse(alert!.message)).toEqual({
    alertId: alertIdFor('LOW_STOCK', item),
    type: 'LOW_STOCK',
    store: 'S4',
    product: 'Refused',
    count: 1,
    previousCount: null,
    threshold: defaultThreshold,
    time: item.updatedAt,
    upload: upload.key,
    line: item.line,
  });
  expect(alert).toMatchObject({
    subject: 'Low stock: Refused at S4 (1 < 10)',
    attributes: { type: 'LOW_STOCK', store: 'S4', product: 'Refused' },
    reason: expect.stringContaining('InvalidParameter'),
  });
});

test('an alert that can be neither published nor parked fails its own stream record only; retried from it, it goes out (failures injected through the ports)', async () => {
  await write('S5', 'Refused', 1);
  await write('S5', 'Taken', 2);
  const records = await stream.read();
  const noParking: ParkAlert = () => Promise.reject(new Error('AccessDenied (injected)'));

  const { invoke, metrics } = alerter(refusing('Refused'), noParking);
  const response = await invoke(records);
  // The crossing is attributed to the first record of the item's chain: the key-only INSERT.
  const firstOfRefused = records.find((record) => record.dynamodb?.Keys?.product?.S === 'Refused')!;
  expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: firstOfRefused.dynamodb!.SequenceNumber }] });
  const alerts = await delivered(1);
  expect(alerts.map(({ alert }) => alert.product)).toEqual(['Taken']);
  expect(metrics.get(MetricName.AlertsPublished)).toBe(1);

  // Retried from the failed record (as the stream does), the alert goes out with the real SNS.
  const index = records.indexOf(firstOfRefused);
  expect(await alerter().invoke(records.slice(index))).toEqual({ batchItemFailures: [] });
  const retried = await delivered(1);
  expect(retried.map(({ alert }) => alert.product)).toContain('Refused');
});
