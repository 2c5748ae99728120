/**
 * The `inventory` command as a user (or an acceptance suite) runs it: a separate process, an
 * endpoint it is given, a JSON document on stdout — then the table read back independently.
 */
import { join } from 'node:path';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startMoto, type MotoServer } from '../../src/local/moto';
import { RowBatchPacker } from '../../src/shared/messages';
import { concurrencyBudget, resourceNames, settings } from '../../src/shared/settings';
import { uploadStamp } from '../../src/shared/upload';
import { actualTable, csvText, expectedRejects, InventoryModel, sortItems, tempDirectory, writeCsv, type Line, type Row } from './model';
import { receiveAll } from '../support/aws';
import { inventory } from '../support/cli';

let moto: MotoServer;
const directory = tempDirectory();

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

interface Document {
  resources: Record<string, string>;
  summary: Record<string, number>;
  rejects: { file: string; line: number; reason: string }[];
  failedFiles: { file: string; reason: string }[];
  alerts: { type: string; store: string; product: string; count: number; previousCount: number | null; threshold: number; alertId: string }[];
}

const cliStores = (store: string) => store.startsWith('CL');

test('--help lists the local, redrive, status and plan commands and exits 0', async () => {
  const help = await inventory(['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/local \[options\] \[file\.\.\.\]/);
  expect(help.stdout).toMatch(/redrive \[options\]/);
  expect(help.stdout).toMatch(/status \[options\]/);
  expect(help.stdout).toMatch(/plan \[options\]/);
  const localHelp = await inventory(['local', '--help']);
  expect(localHelp.stdout).toMatch(/--endpoint <url>/);
  expect(localHelp.stdout).toMatch(/--threshold <n>/);
  expect(localHelp.stdout).toMatch(/--json/);
  expect(localHelp.stdout).toMatch(/--store-scoped/);
});

test('an unknown option or command is a usage error: exit 2, with Commander\'s message and the help on stderr', async () => {
  for (const args of [['--bogus'], ['bogus'], ['local', '--bogus'], ['redrive', '--max', 'many'], ['plan'], ['plan', '--rows', '0']]) {
    const result = await inventory(args);
    expect({ args, code: result.code }).toEqual({ args, code: 2 });
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^error: /);
  }
});

test('plan --rows --json: the model of one night from the deployed settings, with the bottleneck and the cost per service', async () => {
  const result = await inventory(['plan', '--rows', '10000000', '--files', '200', '--json']);
  expect(result.code).toBe(0);
  const plan = JSON.parse(result.stdout) as {
    rows: number;
    files: number;
    stores: number;
    minutes: number;
    bottleneck: string;
    costs: { service: string; usd: number }[];
    totalUsd: number;
    perMillionRowsUsd: number;
    inputs: { writer: { maxConcurrency: number } };
  };
  expect(plan).toMatchObject({ rows: 10_000_000, files: 200, stores: 200 });
  expect(plan.minutes).toBeGreaterThan(0);
  expect(['splitter', 'Lambda concurrency of the writer', 'DynamoDB table write capacity', 'DynamoDB partition of one store']).toContain(plan.bottleneck);
  expect(plan.costs.map((c) => c.service)).toEqual(expect.arrayContaining(['Amazon DynamoDB', 'AWS Lambda', 'Amazon SQS', 'Amazon S3', 'Amazon SNS']));
  expect(plan.totalUsd).toBeCloseTo(plan.costs.reduce((sum, c) => sum + c.usd, 0), 1);
  expect(plan.perMillionRowsUsd).toBeCloseTo(plan.totalUsd / 10, 2);
  expect(plan.inputs.writer.maxConcurrency).toBe(concurrencyBudget().writer);
  const page = await inventory(['plan', '--rows', '1000000']);
  expect(page.stdout).toMatch(/^Until the table is current: [\d.]+ min/m);
  expect(page.stdout).toMatch(/^total +[\d.]+ +\$[\d.]+ per million rows$/m);
});

test('local --endpoint --json: the document and the table match the model, across two runs on one endpoint', async () => {
  const threshold = 5;
  const model = new InventoryModel(threshold);
  const night1: Line[] = [
    { store: 'CL1', product: 'Milk', count: 3 },
    { store: 'CL1', product: 'Eggs, brown', count: 40, threshold: 30 },
    { raw: 'CL1,Bread,-2,', reason: /count '-2' is not a whole number/ },
    { store: 'CL2', product: 'Tea', count: 6 },
  ];
  const night2: Line[] = [
    { store: 'CL1', product: 'Milk', count: 12 },
    { store: 'CL1', product: 'Eggs, brown', count: 20 },
    { store: 'CL2', product: 'Tea', count: 4 },
  ];
  const files = [writeCsv(directory, 'night1.csv', csvText(night1)), writeCsv(directory, 'night2.csv', csvText(night2))];
  const broken = writeCsv(directory, 'broken.csv', 'CL9,Milk,3\n');
  const expectedAlerts = [...model.applyFile(night1), ...model.applyFile(night2)];

  const first = await inventory(['local', '--endpoint', moto.endpoint, '--json', '--threshold', String(threshold), ...files, broken]);
  expect(first.code).toBe(1); // broken.csv failed as a whole
  const document = JSON.parse(first.stdout) as Document;
  expect(Object.keys(document.resources)).toEqual(expect.arrayContaining(['bucket', 'table', 'queue', 'deadLetterQueue', 'topic']));
  expect(document.summary).toMatchObject({
    files: 3,
    filesFailed: 1,
    rowsRead: night1.length + night2.length,
    rowsRejected: 1,
    rowsApplied: night1.length - 1 + night2.length,
    deadLettered: 0,
  });
  expect(document.rejects).toEqual(expectedRejects(night1).map((r) => ({ file: 'night1.csv', line: r.line, reason: expect.stringMatching(r.reason) })));
  expect(document.failedFiles).toEqual([{ file: 'broken.csv', reason: expect.stringMatching(/lacks the required columns/) }]);
  const strip = (alerts: Document['alerts']) => sortItems(alerts.map(({ type, store, product, count, previousCount, threshold: t }) => ({ type, store, product, count, previousCount, threshold: t })));
  expect(strip(document.alerts)).toEqual(sortItems(expectedAlerts));
  expect(new Set(document.alerts.map((a) => a.alertId)).size).toBe(document.alerts.length);
  expect(await actualTable(moto.endpoint, document.resources.table!, cliStores)).toEqual(model.table(cliStores));

  // A later night against the same endpoint: resources are reused, only this run's alerts reported.
  const night3: Line[] = [
    { store: 'CL1', product: 'Milk', count: 1 },
    { store: 'CL2', product: 'Tea', count: 50 },
  ];
  const night3Alerts = model.applyFile(night3);
  const second = await inventory(['local', '--endpoint', moto.endpoint, '--json', '--threshold', String(threshold), writeCsv(directory, 'night3.csv', csvText(night3))]);
  expect(second.code).toBe(0);
  const again = JSON.parse(second.stdout) as Document;
  expect(strip(again.alerts)).toEqual(night3Alerts);
  expect(again.failedFiles).toEqual([]);
  expect(await actualTable(moto.endpoint, again.resources.table!, cliStores)).toEqual(model.table(cliStores));
});

test('a missing file is a usage error: exit 2 with one sentence on stderr', async () => {
  const result = await inventory(['local', '--endpoint', moto.endpoint, '--json', join(directory, 'does-not-exist.csv')]);
  expect(result.code).toBe(2);
  expect(result.stderr.trim().split('\n').filter((l) => l.startsWith('inventory:'))).toHaveLength(1);
  expect(result.stderr).toMatch(/does-not-exist\.csv/);
});

test('redrive moves dead letters back; the next run applies the newer one and skips the stale one', async () => {
  const model = new InventoryModel(10);
  const night: Line[] = [
    { store: 'CR1', product: 'Milk', count: 5 },
    { store: 'CR1', product: 'Tea', count: 50 },
  ];
  model.applyFile(night);
  const first = await inventory(['local', '--endpoint', moto.endpoint, '--json', writeCsv(directory, 'redrive-night.csv', csvText(night))]);
  expect(first.code).toBe(0);
  const { resources } = JSON.parse(first.stdout) as Document;

  // Two row batches that died in an outage: one from an upload older than the night's, one newer.
  const message = (eventTime: string, row: Row) => {
    const bodies: string[] = [];
    const key = `uploads/outage-${eventTime}.csv`;
    const packer = new RowBatchPacker({ key, stamp: uploadStamp(eventTime, key, '') }, settings.packing.maxMessageBytes, (m) => bodies.push(m.body));
    packer.add({ ...row, threshold: row.threshold ?? null, line: 2 });
    packer.flush();
    return bodies[0]!;
  };
  const stale: Row = { store: 'CR1', product: 'Milk', count: 99 };
  const newer: Row = { store: 'CR1', product: 'Tea', count: 1 };
  const sqs = new SQSClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'e2e', secretAccessKey: 'e2e' } });
  try {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: resources.deadLetterQueue,
        Entries: [
          { Id: 'stale', MessageBody: message('2020-01-01T00:00:00.000Z', stale) },
          { Id: 'newer', MessageBody: message(new Date(Date.now() + 3_600_000).toISOString(), newer) },
        ],
      }),
    );
  } finally {
    sqs.destroy();
  }

  const redrive = await inventory(['redrive', '--endpoint', moto.endpoint, '--queue', 'rows']);
  expect(redrive.code).toBe(0);
  expect(redrive.stdout).toMatch(/Moved 2 message\(s\)/);

  const expectedAlerts = model.applyFile([newer]); // the stale row changes nothing
  const drained = await inventory(['local', '--endpoint', moto.endpoint, '--json']);
  expect(drained.code).toBe(0);
  const document = JSON.parse(drained.stdout) as Document;
  expect(document.summary).toMatchObject({ rowsApplied: 1, rowsSkipped: 1, deadLettered: 0 });
  const strip = (alerts: Document['alerts']) => sortItems(alerts.map(({ type, store, product, count, previousCount, threshold }) => ({ type, store, product, count, previousCount, threshold })));
  expect(strip(document.alerts)).toEqual(expectedAlerts);
  const redriveStores = (store: string) => store === 'CR1';
  expect(await actualTable(moto.endpoint, resources.table!, redriveStores)).toEqual(model.table(redriveStores));
});

test('alerts SNS refuses (publish failures injected below the handler: --faults publish-fail) are parked; redrive --queue alerts publishes them again with their alertIds and leaves the stream mapping’s failure records', async () => {
  const model = new InventoryModel(10);
  const night: Line[] = Array.from({ length: 8 }, (_, index) => ({ store: 'CA1', product: `Low ${index}`, count: index }));
  const expectedAlerts = model.applyFile(night);
  const first = await inventory(['local', '--endpoint', moto.endpoint, '--json', '--faults', 'publish-fail=0.9,seed=3', writeCsv(directory, 'parking-night.csv', csvText(night))]);
  const document = JSON.parse(first.stdout) as Document;
  const parked = document.summary.deadLettered!;
  expect(parked).toBeGreaterThan(0); // the faults did their part: at 0.9 per attempt, an alert fails all 10 about a third of the time
  expect(first.code).toBe(1);
  expect(document.alerts.length + parked).toBe(expectedAlerts.length);

  const names = resourceNames(settings.stage.local);
  const sqs = new SQSClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'e2e', secretAccessKey: 'e2e' } });
  try {
    const urlOf = async (name: string) => (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
    const [deadLetters, capture] = [await urlOf(names.alertDeadLetterQueue), await urlOf(names.alertCaptureQueue)];
    // What the stream mapping sends when it gives up on a batch: a pointer, no alert in it.
    await sqs.send(new SendMessageCommand({ QueueUrl: deadLetters, MessageBody: JSON.stringify({ DDBStreamBatchInfo: { shardId: 'shard-1', startSequenceNumber: '1', endSequenceNumber: '9' } }) }));

    const redrive = await inventory(['redrive', '--endpoint', moto.endpoint, '--queue', 'alerts']);
    expect(redrive.code).toBe(0);
    expect(redrive.stdout).toContain(`Published ${parked} parked alert(s)`);
    expect(redrive.stdout).toMatch(/Left 1 message\(s\) that are not parked alerts/);

    const republished = (await receiveAll(sqs, capture, parked)).map((message) => JSON.parse((JSON.parse(message.Body!) as { Message: string }).Message) as Document['alerts'][number]);
    const published = new Set(document.alerts.map((alert) => alert.alertId));
    expect(republished.every((alert) => !published.has(alert.alertId))).toBe(true);
    const strip = (alerts: Document['alerts']) => sortItems(alerts.map(({ type, store, product, count, previousCount, threshold }) => ({ type, store, product, count, previousCount, threshold })));
    expect(strip([...document.alerts, ...republished])).toEqual(expectedAlerts);
    const { Attributes = {} } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: deadLetters, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    expect(Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible)).toBe(1);
  } finally {
    sqs.destroy();
  }
});
