/**
 * The synthesized app (bundled, as `npx cdk synth -o DIR` writes it) deployed on an IAM-enforcing
 * moto: resources as the template describes them, and the bundled writer run in a process of its
 * own under its synthesized role — granted calls succeed, and with the grant removed from a copy of
 * the template the same call is denied and reported with function, action and resource.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { toSqsRecord } from '../../src/local/event-sources';
import { pipelineStack, readCloudAssembly, type CfnTemplate } from '../../src/local/template/assembly';
import { LocalDeployment } from '../../src/local/template/local-deployment';
import { clientConfig } from '../../src/shared/aws';
import { RowBatchPacker } from '../../src/shared/messages';
import { resourceNames } from '../../src/shared/settings';
import { uploadStamp } from '../../src/shared/upload';
import { synthesizePipeline, type SynthesizedPipeline } from '../cdk/synth';

const names = resourceNames('dev');
const account = '123456789012';
const output: string[] = [];
let pipeline: SynthesizedPipeline;
let template: CfnTemplate;
let deployment: LocalDeployment;

beforeAll(async () => {
  pipeline = synthesizePipeline({ context: { stage: 'dev' }, bundle: true });
  template = pipelineStack(readCloudAssembly(pipeline.outdir)).template;
  deployment = await LocalDeployment.start({ assemblyDir: pipeline.outdir, onOutput: (fn, line) => output.push(`${fn}: ${line}`) });
});

afterAll(async () => {
  await deployment?.close();
  pipeline?.dispose();
});

const resourcesOfType = (type: string) => Object.values(template.Resources).filter((resource) => resource.Type === type);
const queueNamed = (name: string) => deployment.resources.queues.find((queue) => queue.name === name)!;
const nameFromArn = (arn: string) => arn.slice(arn.lastIndexOf(':') + 1);

/** One message of rows for the writer, as the splitter packs it. */
function rowBatchBody(rows: [store: string, product: string, count: number][]): string {
  const bodies: string[] = [];
  const packer = new RowBatchPacker({ key: 'uploads/night.csv', stamp: uploadStamp('2024-06-02T03:00:00.000Z', 'uploads/night.csv', '') }, 64 * 1024, (m) =>
    bodies.push(m.body),
  );
  rows.forEach(([store, product, count], index) => packer.add({ store, product, count, threshold: null, line: index + 2 }));
  packer.flush();
  return bodies[0]!;
}

/**
 * Puts a row batch on the rows queue (as "AWS itself") and receives it as the writer's event source
 * mapping does, with the writer role's mapping credentials: the event the writer is invoked with.
 */
async function writerEvent(deployed: LocalDeployment, body: string): Promise<SQSEvent> {
  const rows = deployed.resources.queues.find((queue) => queue.name === names.workQueue)!;
  await deployed.clients.sqs.send(new SendMessageCommand({ QueueUrl: rows.url, MessageBody: body }));
  const mapping = new SQSClient(clientConfig({ endpoint: deployed.endpoint, region: 'us-east-1', credentials: deployed.functionNamed('writer').eventSourceCredentials }));
  try {
    const { Messages = [] } = await mapping.send(new ReceiveMessageCommand({ QueueUrl: rows.url, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }));
    expect(Messages).toHaveLength(1);
    return { Records: Messages.map((message) => toSqsRecord(message, rows.arn)) };
  } finally {
    mapping.destroy();
  }
}

test('the queues have the names, attributes, redrive and queue policies of the template', async () => {
  const queues = resourcesOfType('AWS::SQS::Queue');
  expect(deployment.resources.queues.map((queue) => queue.name).sort()).toEqual(queues.map((queue) => queue.Properties!.QueueName).sort());
  for (const queue of queues) {
    const properties = queue.Properties!;
    const { Attributes = {} } = await deployment.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueNamed(properties.QueueName as string).url, AttributeNames: ['All'] }),
    );
    expect(Attributes.MessageRetentionPeriod).toBe(String(properties.MessageRetentionPeriod));
    if (properties.VisibilityTimeout !== undefined) expect(Attributes.VisibilityTimeout).toBe(String(properties.VisibilityTimeout));
    if (properties.RedrivePolicy !== undefined) {
      const { deadLetterTargetArn, maxReceiveCount } = properties.RedrivePolicy as { deadLetterTargetArn: { 'Fn::GetAtt': [string] }; maxReceiveCount: number };
      const redrive = JSON.parse(Attributes.RedrivePolicy!) as { deadLetterTargetArn: string; maxReceiveCount: number };
      expect(nameFromArn(redrive.deadLetterTargetArn)).toBe(template.Resources[deadLetterTargetArn['Fn::GetAtt'][0]]!.Properties!.QueueName);
      expect(Number(redrive.maxReceiveCount)).toBe(maxReceiveCount);
    }
    // Every queue of the stack has a queue policy (deny without TLS): stored, as written.
    expect((JSON.parse(Attributes.Policy!) as { Statement: { Action: unknown }[] }).Statement[0]!.Action).toBe('sqs:*');
  }
});

test('the table has the name, keys, billing mode and stream of the template', async () => {
  const [table] = resourcesOfType('AWS::DynamoDB::Table');
  const expected = table!.Properties!;
  const { Table } = await deployment.clients.dynamodb.send(new DescribeTableCommand({ TableName: expected.TableName as string }));
  expect({
    KeySchema: Table?.KeySchema,
    AttributeDefinitions: Table?.AttributeDefinitions,
    BillingMode: Table?.BillingModeSummary?.BillingMode,
    StreamViewType: Table?.StreamSpecification?.StreamViewType,
  }).toEqual({
    KeySchema: expected.KeySchema,
    AttributeDefinitions: expected.AttributeDefinitions,
    BillingMode: expected.BillingMode,
    StreamViewType: (expected.StreamSpecification as { StreamViewType: string }).StreamViewType,
  });
});

test("the uploads bucket announces uploads as the bucket-notifications custom resource's properties say", async () => {
  const [notifications] = resourcesOfType('Custom::S3BucketNotifications');
  const bucketId = (notifications!.Properties!.BucketName as { Ref: string }).Ref;
  const bucket = deployment.resources.buckets.find((b) => b.logicalId === bucketId)!;
  const expected = (notifications!.Properties!.NotificationConfiguration as { QueueConfigurations: { Events: string[]; Filter: unknown; QueueArn: { 'Fn::GetAtt': [string] } }[] })
    .QueueConfigurations;
  const actual = await deployment.clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket.name }));
  const normalize = (configurations: { Events?: string[]; Filter?: { Key?: { FilterRules?: { Name?: string; Value?: string }[] } }; queue: string }[]) =>
    configurations
      .map(({ Events, Filter, queue }) => ({ Events, queue, rules: Object.fromEntries((Filter?.Key?.FilterRules ?? []).map((r) => [r.Name!.toLowerCase(), r.Value])) }))
      .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  expect(normalize((actual.QueueConfigurations ?? []).map((c) => ({ ...c, queue: nameFromArn(c.QueueArn!) })))).toEqual(
    normalize(expected.map((c) => ({ Events: c.Events, Filter: c.Filter as never, queue: template.Resources[c.QueueArn['Fn::GetAtt'][0]]!.Properties!.QueueName as string }))),
  );
  expect(deployment.resources.topics.map((topic) => topic.name)).toContain(names.topic);
});

test('the bundled writer, run in its own process under its role, applies a row batch; its calls are authorised and its grants used', async () => {
  const event = await writerEvent(deployment, rowBatchBody([['S0012', 'Milk 1L whole', 42], ['S0012', 'Eggs', 8]]));
  const response = await deployment.functionNamed('writer').process.invoke(event);
  expect(response).toEqual({ batchItemFailures: [] });

  const { Item } = await deployment.clients.documents.send(new GetCommand({ TableName: names.table, Key: { store: 'S0012', product: 'Eggs' } }));
  expect(Item).toMatchObject({ count: 8, threshold: 10, upload: 'uploads/night.csv', line: 3 });

  const report = await deployment.iamReport();
  expect(report.accessDenials).toEqual([]);
  expect(report.accessDenied).toBe(0);
  // Two UpdateItems by the function, one ReceiveMessage by its mapping.
  expect(report.callsAuthorized).toBeGreaterThanOrEqual(3);
  const writer = report.grants.find((grants) => grants.function === 'writer')!;
  expect(writer.used.map((grant) => grant.action).sort()).toEqual(['dynamodb:UpdateItem', 'sqs:ReceiveMessage']);
  expect(writer.unused.map((grant) => grant.action)).toEqual(expect.arrayContaining(['logs:CreateLogStream', 'sqs:DeleteMessage']));
  // Its logs and metrics came out of its own process.
  expect(output.some((line) => line.startsWith('writer: ') && line.includes('"RowsApplied":2'))).toBe(true);
});

test('with the table grant removed from a copy of the template, the writer is denied and the denial is reported with function, action and resource', async () => {
  const copy = mkdtempSync(join(tmpdir(), 'inventory-assembly-'));
  let denied: LocalDeployment | undefined;
  try {
    cpSync(pipeline.outdir, copy, { recursive: true });
    const templateFile = join(copy, 'InventoryPipeline-dev.template.json');
    const edited = JSON.parse(readFileSync(templateFile, 'utf8')) as CfnTemplate;
    const policy = Object.entries(edited.Resources).find(([id]) => id.startsWith('WriterRoleDefaultPolicy'))![1];
    const document = policy.Properties!.PolicyDocument as { Statement: { Action: unknown }[] };
    document.Statement = document.Statement.filter((statement) => statement.Action !== 'dynamodb:UpdateItem');
    writeFileSync(templateFile, JSON.stringify(edited));

    denied = await LocalDeployment.start({ assemblyDir: copy, onOutput: () => undefined });
    const event = await writerEvent(denied, rowBatchBody([['S0099', 'Tea', 3]]));
    const response = await denied.functionNamed('writer').process.invoke(event);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[0]!.messageId }] });

    const report = await denied.iamReport();
    const tableArn = `arn:aws:dynamodb:us-east-1:${account}:table/${names.table}`;
    expect(report.accessDenied).toBeGreaterThanOrEqual(1);
    expect(report.accessDenials).toContainEqual({
      function: 'writer',
      action: 'dynamodb:UpdateItem',
      resource: tableArn,
      message: `User: arn:aws:sts::${account}:assumed-role/${denied.functionNamed('writer').role.name}/writer is not authorized to perform: dynamodb:UpdateItem on resource: ${tableArn}`,
    });
  } finally {
    await denied?.close();
    rmSync(copy, { recursive: true, force: true });
  }
});
