/**
 * `inventory status` as an operator runs it, against a local endpoint after files went through the
 * local runtime: one processed (with a rejected row), one failed as a whole, one whose upload event
 * was dead-lettered before the splitter filed a receipt, one not yet picked up, and a row batch in
 * the rows dead-letter queue. The expectation comes from what the test itself uploaded.
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, GetQueueUrlCommand, ReceiveMessageCommand, SendMessageCommand, type Message } from '@aws-sdk/client-sqs';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/shared/aws';
import { startMoto, type MotoServer } from '../../src/local/moto';
import { resourceNames, settings } from '../../src/shared/settings';
import { stackName, StackOutput } from '../../src/shared/stack';
import { csvText, tempDirectory, writeCsv, type Line } from './model';
import { inventory } from '../support/cli';

const directory = tempDirectory();
const names = resourceNames(settings.stage.local);
let moto: MotoServer;
let clients: AwsClients;

beforeAll(async () => {
  moto = await startMoto();
  clients = createAwsClients({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'e2e', secretAccessKey: 'e2e' } });
});

afterAll(async () => {
  if (clients) destroyAwsClients(clients);
  await moto?.stop();
});

const queueUrl = async (name: string) => (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;

/** Uploads straight to the bucket (no runtime is running: the event waits on the upload-events queue). */
async function upload(name: string, body: string): Promise<void> {
  await clients.s3.send(new PutObjectCommand({ Bucket: names.bucket, Key: `${settings.uploads.prefix}${name}`, Body: body }));
}

/** What SQS does after maxReceiveCount failed receives: the waiting upload event moves to the dead-letter queue. */
async function deadLetterTheWaitingUploadEvent(): Promise<void> {
  const source = await queueUrl(names.uploadQueue);
  let message: Message | undefined;
  for (let attempt = 0; attempt < 20 && !message; attempt += 1) {
    const { Messages = [] } = await clients.sqs.send(new ReceiveMessageCommand({ QueueUrl: source, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }));
    message = Messages[0];
  }
  if (!message) throw new Error('S3 never announced the upload');
  await clients.sqs.send(new SendMessageCommand({ QueueUrl: await queueUrl(names.uploadDeadLetterQueue), MessageBody: message.Body! }));
  await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: source, ReceiptHandle: message.ReceiptHandle! }));
}

interface StatusJson {
  source: Record<string, string>;
  since: string;
  summary: Record<string, number>;
  uploads: Record<string, unknown>[];
  queues: Record<string, { waiting: number; inFlight: number; oldestMessageAgeSeconds: number | null }>;
  deadLetters: Record<string, number>;
}

test('status after a night on the local runtime: each upload as it stands, failed and in-progress first; queues and dead letters', async () => {
  const night: Line[] = [
    { store: 'ST1', product: 'Milk', count: 3 },
    { store: 'ST1', product: 'Tea', count: 40, threshold: 30 },
    { raw: 'ST1,Bread,-2,', reason: /count/ },
    { store: 'ST2', product: 'Eggs', count: 6 },
  ];
  const files = [writeCsv(directory, 'night.csv', csvText(night)), writeCsv(directory, 'broken.csv', 'ST9,Milk,3\n')];
  const processed = await inventory(['local', '--endpoint', moto.endpoint, '--json', ...files]);
  expect(processed.code).toBe(1); // broken.csv failed as a whole

  await upload('stuck.csv', csvText([{ store: 'ST3', product: 'Milk', count: 1 }]));
  await deadLetterTheWaitingUploadEvent();
  await upload('late.csv', csvText([{ store: 'ST4', product: 'Milk', count: 1 }]));
  await clients.sqs.send(new SendMessageCommand({ QueueUrl: await queueUrl(names.deadLetterQueue), MessageBody: '{"a row batch":"the writer gave up on"}' }));

  const status = await inventory(['status', '--endpoint', moto.endpoint, '--json']);
  expect(status.stderr).toBe('');
  expect(status.code).toBe(1); // failed uploads and dead letters
  const document = JSON.parse(status.stdout) as StatusJson;
  expect(document.source).toMatchObject({ endpoint: moto.endpoint, stage: 'local', bucket: names.bucket });

  const iso = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  const pending = { rowsRead: null, rowsAccepted: null, rowsRejected: null, messages: null, uploadedAt: iso, finishedAt: null };
  // Failed first, then in progress, then processed. (Within a group uploads go in upload order, but
  // S3 lists an object's time to the second only: broken.csv and stuck.csv may share one.)
  expect(document.uploads.map((u) => u.status)).toEqual(['failed', 'failed', 'in-progress', 'processed']);
  const byFile = (a: Record<string, unknown>, b: Record<string, unknown>) => String(a.file).localeCompare(String(b.file));
  expect([...document.uploads].sort(byFile)).toEqual([
    {
      file: 'broken.csv',
      key: 'uploads/broken.csv',
      status: 'failed',
      rowsRead: 0,
      rowsAccepted: 0,
      rowsRejected: 0,
      messages: 0,
      reason: expect.stringMatching(/lacks the required columns/),
      uploadedAt: iso,
      finishedAt: iso,
    },
    { file: 'stuck.csv', key: 'uploads/stuck.csv', status: 'failed', ...pending, reason: expect.stringMatching(/dead-letter queue.*redrive --queue upload-events/) },
    { file: 'late.csv', key: 'uploads/late.csv', status: 'in-progress', ...pending },
    {
      file: 'night.csv',
      key: 'uploads/night.csv',
      status: 'processed',
      rowsRead: night.length,
      rowsAccepted: night.length - 1,
      rowsRejected: 1,
      messages: 1,
      uploadedAt: iso,
      finishedAt: iso,
    },
  ].sort(byFile));
  expect(document.summary).toEqual({ uploads: 4, processed: 1, failed: 2, inProgress: 1 });
  // late.csv's event waits for a splitter; moto publishes no CloudWatch metrics for its queues.
  expect(document.queues).toEqual({
    'upload-events': { waiting: 1, inFlight: 0, oldestMessageAgeSeconds: null },
    rows: { waiting: 0, inFlight: 0, oldestMessageAgeSeconds: null },
  });
  expect(document.deadLetters).toEqual({ 'upload-events': 1, rows: 1, alerts: 0 });

  // The peek at the dead-letter queue handed its message back.
  const again = JSON.parse((await inventory(['status', '--endpoint', moto.endpoint, '--json'])).stdout) as StatusJson;
  expect(again.deadLetters).toEqual(document.deadLetters);
  expect(again.uploads.map((u) => [u.file, u.status])).toEqual(document.uploads.map((u) => [u.file, u.status]));

  const human = await inventory(['status', '--endpoint', moto.endpoint]);
  expect(human.code).toBe(1);
  const rows = human.stdout.split('\n').filter((line) => /^\S+\.csv\s/.test(line));
  expect(rows.map((line) => line.split(/\s+/).slice(0, 2))).toEqual(document.uploads.map((u) => [u.file, u.status]));
  expect(human.stdout).toMatch(/^Queues: +upload-events 1 waiting, 0 in flight, oldest –; rows 0 waiting, 0 in flight, oldest –$/m);
  expect(human.stdout).toMatch(/^Dead letters: +upload-events 1, rows 1, alerts 0/m);
});

test('status --since takes only a duration, and an endpoint without the pipeline is a setup error: exit 2, one sentence', async () => {
  const badSince = await inventory(['status', '--endpoint', moto.endpoint, '--since', 'yesterday']);
  expect(badSince.code).toBe(2);
  expect(badSince.stderr).toMatch(/--since <duration>.*must be a duration/);
  const elsewhere = await inventory(['status', '--endpoint', moto.endpoint, '--stage', 'nothere']);
  expect(elsewhere.code).toBe(2);
  expect(elsewhere.stderr.trim()).toMatch(/^inventory: there is no inventory pipeline \(stage nothere\) at http:\/\/127\.0\.0\.1:\d+: [^\n]+$/);
});

test('status --stage finds a deployed stack through its CloudFormation outputs (a stack on moto naming the local resources)', async () => {
  const stage = 'standin';
  const outputs: Record<StackOutput, string> = {
    UploadsBucketName: names.bucket,
    InventoryTableName: names.table,
    UploadEventsQueueUrl: await queueUrl(names.uploadQueue),
    UploadEventsDeadLetterQueueUrl: await queueUrl(names.uploadDeadLetterQueue),
    RowsQueueUrl: await queueUrl(names.workQueue),
    RowsDeadLetterQueueUrl: await queueUrl(names.deadLetterQueue),
    AlertsDeadLetterQueueUrl: await queueUrl(names.alertDeadLetterQueue),
  };
  const cloudFormation = new CloudFormationClient({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'e2e', secretAccessKey: 'e2e' } });
  try {
    await cloudFormation.send(
      new CreateStackCommand({
        StackName: stackName(stage),
        TemplateBody: JSON.stringify({
          Resources: { Placeholder: { Type: 'AWS::CloudFormation::WaitConditionHandle' } },
          Outputs: Object.fromEntries(Object.entries(outputs).map(([key, value]) => [key, { Value: value }])),
        }),
      }),
    );
  } finally {
    cloudFormation.destroy();
  }
  const aws = { ...process.env, AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'e2e', AWS_SECRET_ACCESS_KEY: 'e2e' };
  const onStack = await inventory(['status', '--stage', stage, '--json'], aws);
  const onEndpoint = await inventory(['status', '--endpoint', moto.endpoint, '--json']);
  const [stackDocument, endpointDocument] = [JSON.parse(onStack.stdout) as StatusJson, JSON.parse(onEndpoint.stdout) as StatusJson];
  expect(stackDocument.source).toEqual({ stack: stackName(stage), region: 'us-east-1', stage, bucket: names.bucket });
  expect({ ...stackDocument, source: null, since: null }).toEqual({ ...endpointDocument, source: null, since: null });

  const missing = await inventory(['status', '--stage', 'neverdeployed'], aws);
  expect(missing.code).toBe(2);
  expect(missing.stderr.trim()).toBe(`inventory: there is no stack ${stackName('neverdeployed')} in us-east-1: deploy it first, or name another stage or region`);
});
