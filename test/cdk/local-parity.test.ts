/**
 * The local runtime and the cloud can't drift apart: the queues, table, bucket notification and
 * topic that `ensureResources` creates on moto carry the names and settings of the synthesized dev
 * template. (What only the cloud has — encryption, PITR, policies, lifecycle — is the stack tests'.)
 * `inventory local --from-template` runs the template itself (test/e2e/from-template.test.ts); this
 * keeps the plain runtime — the demo, load test, chaos runs and benchmarks — on the same settings.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { startMoto, type MotoServer } from '../../src/local/moto';
import { ensureResources, type LocalResources } from '../../src/local/resources';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/shared/aws';
import { synthesizePipeline, type SynthesizedPipeline } from './synth';
import { resourceOf, resourcesOfType } from './template';

const stage = 'dev';
/** Queue attributes both sides configure; the rest are either SQS defaults or cloud-only. */
const sharedQueueAttributes = ['VisibilityTimeout', 'MaximumMessageSize', 'MessageRetentionPeriod', 'RedrivePolicy'] as const;
type SharedQueueAttribute = (typeof sharedQueueAttributes)[number];

let pipeline: SynthesizedPipeline;
let moto: MotoServer;
let clients: AwsClients;
let local: LocalResources;

beforeAll(async () => {
  pipeline = synthesizePipeline({ context: { stage } });
  moto = await startMoto();
  clients = createAwsClients({ endpoint: moto.endpoint, credentials: { accessKeyId: 'parity', secretAccessKey: 'parity' } });
  local = await ensureResources(clients, stage);
});

afterAll(async () => {
  if (clients) destroyAwsClients(clients);
  await moto?.stop();
  pipeline?.dispose();
});

const nameFromArn = (arn: string) => arn.slice(arn.lastIndexOf(':') + 1);

/** A template queue's name, followed from a `{ Fn::GetAtt: [queue, 'Arn'] }`. */
function queueNameOf(arnToken: unknown): string {
  const [logicalId] = (arnToken as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'];
  return resourceOf(pipeline.template, logicalId).Properties!.QueueName as string;
}

/** The shared attributes of a template queue, in the form GetQueueAttributes returns them. */
function templateQueueAttributes(properties: Record<string, unknown>): Partial<Record<SharedQueueAttribute, unknown>> {
  const attributes: Partial<Record<SharedQueueAttribute, unknown>> = {};
  for (const name of sharedQueueAttributes) {
    const value = properties[name];
    if (value === undefined) continue;
    attributes[name] =
      name === 'RedrivePolicy'
        ? { deadLetterQueue: queueNameOf((value as { deadLetterTargetArn: unknown }).deadLetterTargetArn), maxReceiveCount: Number((value as { maxReceiveCount: unknown }).maxReceiveCount) }
        : String(value);
  }
  return attributes;
}

async function localQueueAttributes(queueName: string, names: SharedQueueAttribute[]): Promise<Partial<Record<SharedQueueAttribute, unknown>>> {
  const { QueueUrl } = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
  const { Attributes = {} } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }));
  const attributes: Partial<Record<SharedQueueAttribute, unknown>> = {};
  for (const name of names) {
    const value = Attributes[name];
    if (value === undefined) continue;
    if (name === 'RedrivePolicy') {
      const redrive = JSON.parse(value) as { deadLetterTargetArn: string; maxReceiveCount: number | string };
      attributes[name] = { deadLetterQueue: nameFromArn(redrive.deadLetterTargetArn), maxReceiveCount: Number(redrive.maxReceiveCount) };
    } else {
      attributes[name] = value;
    }
  }
  return attributes;
}

test('the local runtime creates exactly the queues of the stack, plus its alert capture queue', async () => {
  const templateNames = Object.values(resourcesOfType(pipeline.template, 'AWS::SQS::Queue')).map((queue) => queue.Properties!.QueueName);
  const { QueueUrls = [] } = await clients.sqs.send(new ListQueuesCommand({}));
  const localNames = QueueUrls.map((url) => url.slice(url.lastIndexOf('/') + 1)).filter((name) => name !== local.names.alertCaptureQueue);
  expect(localNames.sort()).toEqual(templateNames.sort());
});

test('every queue has the visibility timeout, message size, retention and redrive policy of the template', async () => {
  const queues = Object.values(resourcesOfType(pipeline.template, 'AWS::SQS::Queue'));
  expect(queues.length).toBeGreaterThan(0);
  for (const queue of queues) {
    const expected = templateQueueAttributes(queue.Properties!);
    const actual = await localQueueAttributes(
      queue.Properties!.QueueName as string,
      sharedQueueAttributes.filter((name) => name in expected),
    );
    expect({ queue: queue.Properties!.QueueName, ...actual }).toEqual({ queue: queue.Properties!.QueueName, ...expected });
  }
});

test('the table has the name, keys, billing mode and stream of the template', async () => {
  const [table, ...others] = Object.values(resourcesOfType(pipeline.template, 'AWS::DynamoDB::Table'));
  expect(others).toHaveLength(0);
  const expected = table!.Properties!;
  const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: expected.TableName as string }));
  expect({
    TableName: Table?.TableName,
    KeySchema: Table?.KeySchema,
    AttributeDefinitions: Table?.AttributeDefinitions,
    BillingMode: Table?.BillingModeSummary?.BillingMode,
    StreamViewType: Table?.StreamSpecification?.StreamEnabled ? Table.StreamSpecification.StreamViewType : undefined,
  }).toEqual({
    TableName: expected.TableName,
    KeySchema: expected.KeySchema,
    AttributeDefinitions: expected.AttributeDefinitions,
    BillingMode: expected.BillingMode,
    StreamViewType: (expected.StreamSpecification as { StreamViewType: string }).StreamViewType,
  });
});

test('uploads are announced to the same queue for the same events, prefix and suffixes', async () => {
  const normalize = (configurations: { Events?: string[]; QueueArn?: unknown; Filter?: { Key?: { FilterRules?: { Name?: string; Value?: string }[] } } }[], queueName: (arn: unknown) => string) =>
    configurations
      .map((configuration) => ({
        events: configuration.Events,
        queue: queueName(configuration.QueueArn),
        filter: Object.fromEntries((configuration.Filter?.Key?.FilterRules ?? []).map((rule) => [rule.Name?.toLowerCase(), rule.Value])),
      }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

  const [notifications] = Object.values(resourcesOfType(pipeline.template, 'Custom::S3BucketNotifications'));
  const expected = (notifications!.Properties!.NotificationConfiguration as { QueueConfigurations: never[] }).QueueConfigurations;
  const actual = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: local.bucket }));
  expect(normalize(actual.QueueConfigurations ?? [], (arn) => nameFromArn(arn as string))).toEqual(normalize(expected, queueNameOf));
});

test('alerts go to a topic of the same name', () => {
  const topicNames = Object.values(resourcesOfType(pipeline.template, 'AWS::SNS::Topic')).map((topic) => topic.Properties!.TopicName);
  expect(topicNames).toContain(nameFromArn(local.topicArn));
});
