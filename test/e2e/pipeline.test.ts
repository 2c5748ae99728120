/**
 * End to end through the local runtime: real handlers, real AWS SDK calls, a real moto server.
 * Every test compares the final table (read by an independent DynamoDB client) and the alerts
 * with what the independent model in model.ts predicts. Each test uses its own stores.
 */
import { SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { LocalPipeline, type CapturedAlert } from '../../src/local/runtime';
import {
  actualTable,
  csvText,
  expectedRejects,
  InventoryModel,
  scanTable,
  sortItems,
  tempDirectory,
  writeCsv,
  type ExpectedAlert,
  type Line,
} from './model';

const defaultThreshold = 10;
let pipeline: LocalPipeline;
const directory = tempDirectory();
const invocations: { fn: string; event: unknown }[] = [];

beforeAll(async () => {
  pipeline = await LocalPipeline.start({ defaultThreshold, onInvoke: (fn, event) => invocations.push({ fn, event }) });
});

afterAll(async () => {
  await pipeline?.close();
});

const ofStores = (prefix: string) => (store: string) => store.startsWith(prefix);

function alertsOf(alerts: readonly CapturedAlert[]): ExpectedAlert[] {
  return sortItems(
    alerts.map(({ type, store, product, count, previousCount, threshold }) => ({ type, store, product, count, previousCount, threshold })),
  );
}

async function processLines(name: string, lines: readonly Line[]) {
  return pipeline.processFile(writeCsv(directory, name, csvText(lines)));
}

test('later uploads override earlier ones, the last line of a file wins, thresholds carry over', async () => {
  const model = new InventoryModel(defaultThreshold);
  const monday: Line[] = [
    { store: 'OV1', product: 'Milk', count: 40, threshold: 20 },
    { store: 'OV1', product: 'Eggs, large', count: 12 },
    { store: 'OV1', product: 'Bread "rye"', count: 30 },
    { store: 'OV2', product: 'Milk', count: 7, threshold: 5 },
  ];
  const tuesday: Line[] = [
    { store: 'OV1', product: 'Milk', count: 25 },
    { store: 'OV1', product: 'Eggs, large', count: 3 },
    { store: 'OV1', product: 'Eggs, large', count: 14 },
    { store: 'OV2', product: 'Milk', count: 9, threshold: 12 },
    { store: 'OV2', product: 'Butter', count: 50 },
  ];
  for (const [name, lines] of [
    ['ov-monday.csv', monday],
    ['ov-tuesday.csv', tuesday],
  ] as const) {
    const expectedAlerts = model.applyFile(lines);
    const outcome = await processLines(name, lines);
    expect(outcome.status).toBe('processed');
    expect(outcome.rowsRead).toBe(lines.length);
    expect(alertsOf(outcome.alerts)).toEqual(expectedAlerts);
  }
  expect(await actualTable(pipeline.endpoint, pipeline.resources.table, ofStores('OV'))).toEqual(model.table(ofStores('OV')));
});

test('LOW_STOCK and RESTOCKED exactly when an item crosses its threshold, with filterable attributes', async () => {
  const model = new InventoryModel(defaultThreshold);
  const nights: Line[][] = [
    [
      { store: 'AL1', product: 'new and low', count: 2 },
      { store: 'AL1', product: 'new and fine', count: 50 },
      { store: 'AL1', product: 'at threshold', count: 10 },
      { store: 'AL1', product: 'own threshold', count: 4, threshold: 3 },
    ],
    [
      { store: 'AL1', product: 'new and low', count: 1 }, // stays low: nothing
      { store: 'AL1', product: 'new and fine', count: 9 }, // becomes low
      { store: 'AL1', product: 'at threshold', count: 10 }, // unchanged, not low
      { store: 'AL1', product: 'own threshold', count: 4, threshold: 5 }, // low by a new threshold
    ],
    [
      { store: 'AL1', product: 'new and low', count: 100 }, // restocked
      { store: 'AL1', product: 'new and fine', count: 8 }, // stays low
      { store: 'AL1', product: 'at threshold', count: 9 }, // becomes low
      { store: 'AL1', product: 'own threshold', count: 5 }, // restocked, keeps threshold 5
    ],
  ];
  const seenIds = new Set<string>();
  for (const [index, lines] of nights.entries()) {
    const expectedAlerts = model.applyFile(lines);
    const outcome = await processLines(`alerts-night-${index}.csv`, lines);
    expect(alertsOf(outcome.alerts)).toEqual(expectedAlerts);
    for (const alert of outcome.alerts) {
      expect(alert.attributes).toEqual({ type: alert.type, store: alert.store, product: alert.product });
      expect(alert.subject).toMatch(alert.type === 'LOW_STOCK' ? /^Low stock: / : /^Restocked: /);
      expect(alert.upload).toBe(`uploads/alerts-night-${index}.csv`);
      expect(seenIds.has(alert.alertId)).toBe(false);
      seenIds.add(alert.alertId);
    }
  }
  expect(seenIds.size).toBeGreaterThanOrEqual(5);
  expect(await actualTable(pipeline.endpoint, pipeline.resources.table, ofStores('AL'))).toEqual(model.table(ofStores('AL')));
});

test('bad rows are reported with their line and reason while the rest of the file applies', async () => {
  const model = new InventoryModel(defaultThreshold);
  const lines: Line[] = [
    { store: 'BR1', product: 'good one', count: 5 },
    { raw: 'BR1,negative,-1,', reason: /count '-1' is not a whole number/ },
    { raw: 'BR1,fraction,4.5,', reason: /count '4.5' is not a whole number/ },
    { raw: 'BR1,words,abc,', reason: /count 'abc' is not a whole number/ },
    { raw: 'BR1,empty count,,', reason: /count is empty/ },
    { raw: ',no store,3,', reason: /store is empty/ },
    { raw: 'BR1,,3,', reason: /product is empty/ },
    { raw: 'BR1,too,many,fields,here', reason: /has 5 fields, the header has 4/ },
    { raw: 'BR1,bad threshold,3,x', reason: /threshold 'x' is not a whole number/ },
    { store: 'BR1', product: 'quoted count', count: 7, raw: 'BR1,quoted count,"7",' },
    { store: 'BR1', product: 'spaced count', count: 8, raw: 'BR1 , spaced count ,  8 , ' },
    { store: 'BR1', product: 'good two', count: 70, threshold: 3 },
  ];
  const expectedAlerts = model.applyFile(lines);
  const outcome = await processLines('bad-rows.csv', lines);

  expect(outcome.status).toBe('processed');
  const expected = expectedRejects(lines);
  expect(outcome.rejects.map((r) => r.line)).toEqual(expected.map((r) => r.line));
  outcome.rejects.forEach((reject, index) => expect(reject.reason).toMatch(expected[index]!.reason));
  expect(outcome.rowsRejected).toBe(expected.length);
  expect(outcome.rowsRead).toBe(lines.length);
  expect(outcome.rowsApplied).toBe(lines.length - expected.length);
  expect(alertsOf(outcome.alerts)).toEqual(expectedAlerts);
  expect(await actualTable(pipeline.endpoint, pipeline.resources.table, ofStores('BR'))).toEqual(model.table(ofStores('BR')));
});

test('a file without a header fails as a whole with one readable reason and applies nothing', async () => {
  const text = 'NH1,Milk,5\nNH1,Eggs,3\n';
  const outcome = await pipeline.processFile(writeCsv(directory, 'no-header.csv', text));
  expect(outcome.status).toBe('failed');
  expect(outcome.reason).toMatch(/header \(line 1\) lacks the required columns 'store', 'product', 'count'/);
  expect(outcome.reason!.split('\n')).toHaveLength(1);
  expect(outcome.rowsApplied).toBe(0);
  expect(outcome.alerts).toEqual([]);
  expect(await actualTable(pipeline.endpoint, pipeline.resources.table, ofStores('NH'))).toEqual([]);
});

function capturedEvents(fn: string, from: number): SQSEvent[] {
  return invocations.slice(from).filter((i) => i.fn === fn).map((i) => i.event as SQSEvent);
}

async function replayUploadEvents(events: readonly SQSEvent[]) {
  const before = await scanTable(pipeline.endpoint, pipeline.resources.table);
  for (const record of events.flatMap((event) => event.Records)) {
    // The same S3 notification delivered again, byte for byte.
    await pipeline.clients.sqs.send(new SendMessageCommand({ QueueUrl: pipeline.resources.uploadQueueUrl, MessageBody: record.body }));
  }
  const replay = await pipeline.drain();
  expect(await scanTable(pipeline.endpoint, pipeline.resources.table)).toEqual(before);
  return replay;
}

async function redeliverMessages(bodies: readonly string[]) {
  const before = await scanTable(pipeline.endpoint, pipeline.resources.table);
  await pipeline.clients.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: pipeline.resources.workQueueUrl,
      Entries: bodies.map((body, index) => ({ Id: String(index), MessageBody: body })),
    }),
  );
  const redelivery = await pipeline.drain();
  expect(await scanTable(pipeline.endpoint, pipeline.resources.table)).toEqual(before);
  return redelivery;
}

test('the same S3 event delivered twice, and again after a newer upload, changes nothing', async () => {
  const model = new InventoryModel(defaultThreshold);
  const older: Line[] = [
    { store: 'RP1', product: 'Milk', count: 3 },
    { store: 'RP1', product: 'Eggs', count: 30, threshold: 12 },
  ];
  const newer: Line[] = [
    { store: 'RP1', product: 'Milk', count: 33 },
    { store: 'RP1', product: 'Eggs', count: 6 },
  ];
  const mark = invocations.length;
  model.applyFile(older);
  await processLines('replay-older.csv', older);
  const olderEvents = capturedEvents('splitter', mark);
  expect(olderEvents.length).toBeGreaterThanOrEqual(1);

  const duplicate = await replayUploadEvents(olderEvents);
  expect(duplicate).toMatchObject({ rowsRead: older.length, rowsApplied: 0, rowsSkipped: older.length, alerts: [], deadLettered: 0 });

  model.applyFile(newer);
  await processLines('replay-newer.csv', newer);
  const late = await replayUploadEvents(olderEvents);
  expect(late).toMatchObject({ rowsRead: older.length, rowsApplied: 0, rowsSkipped: older.length, alerts: [], deadLettered: 0 });
  expect(await actualTable(pipeline.endpoint, pipeline.resources.table, ofStores('RP'))).toEqual(model.table(ofStores('RP')));
});

test('an SQS message delivered twice, or redelivered after a newer upload applied, changes nothing', async () => {
  const model = new InventoryModel(defaultThreshold);
  const older: Line[] = [
    { store: 'RD1', product: 'Milk', count: 50 },
    { store: 'RD1', product: 'Tea', count: 1, threshold: 4 },
  ];
  const newer: Line[] = [
    { store: 'RD1', product: 'Milk', count: 5 },
    { store: 'RD1', product: 'Tea', count: 9 },
  ];
  const mark = invocations.length;
  model.applyFile(older);
  await processLines('redeliver-older.csv', older);
  const oldBodies = capturedEvents('writer', mark).flatMap((event) => event.Records.map((r) => r.body));
  expect(oldBodies.length).toBeGreaterThanOrEqual(1);

  const duplicate = await redeliverMessages(oldBodies);
  expect(duplicate).toMatchObject({ rowsApplied: 0, rowsSkipped: older.length, alerts: [], deadLettered: 0 });

  model.applyFile(newer);
  await processLines('redeliver-newer.csv', newer);
  const late = await redeliverMessages(oldBodies);
  expect(late).toMatchObject({ rowsApplied: 0, rowsSkipped: older.length, alerts: [], deadLettered: 0 });
  expect(await actualTable(pipeline.endpoint, pipeline.resources.table, ofStores('RD'))).toEqual(model.table(ofStores('RD')));
});
