/**
 * moto with IAM enforcement and the project's patches: a role allowed exactly UpdateItem on one
 * table, stream reads on its stream, SendMessage to one queue and Publish to one topic gets what AWS
 * would give it — scoped DynamoDB and SNS grants match, batch calls are authorised under the action
 * AWS checks them as — and every decision is reported.
 */
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamCommand, DynamoDBStreamsClient, GetRecordsCommand, GetShardIteratorCommand } from '@aws-sdk/client-dynamodb-streams';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateTopicCommand, PublishBatchCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { startMoto, type MotoServer } from '../../src/local/moto';
import { administratorArn, readIamDecisions, type Credentials } from '../../src/local/moto-iam';
import { clientConfig } from '../../src/shared/aws';

const account = '123456789012';
let moto: MotoServer;
let table: { arn: string; streamArn: string };
let queue: { url: string; arn: string };
let otherQueueUrl: string;
let topicArn: string;
let role: Credentials;

const config = (credentials: Credentials) => clientConfig({ endpoint: moto.endpoint, region: 'us-east-1', credentials });

beforeAll(async () => {
  moto = await startMoto({ enforceIam: true });
  const admin = moto.administrator!;
  const dynamodb = new DynamoDBClient(config(admin));
  const sqs = new SQSClient(config(admin));
  await dynamodb.send(
    new CreateTableCommand({
      TableName: 'items',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: 'items' }));
  table = { arn: Table!.TableArn!, streamArn: Table!.LatestStreamArn! };
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: 'rows' }))).QueueUrl!;
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  queue = { url, arn: Attributes!.QueueArn! };
  otherQueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'other' }))).QueueUrl!;
  topicArn = (await new SNSClient(config(admin)).send(new CreateTopicCommand({ Name: 'alerts' }))).TopicArn!;
  const s3 = new S3Client({ ...config(admin), forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'uploads' }));
  for (const Key of ['uploads/night.csv', 'private/payroll.csv']) await s3.send(new PutObjectCommand({ Bucket: 'uploads', Key, Body: 'store,product,count\n' }));

  const iam = new IAMClient(config(admin));
  await iam.send(
    new CreateRoleCommand({
      RoleName: 'worker',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: administratorArn(account) }, Action: 'sts:AssumeRole' }],
      }),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: 'worker',
      PolicyName: 'grants',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: table.arn },
          { Effect: 'Allow', Action: ['dynamodb:DescribeStream', 'dynamodb:GetShardIterator', 'dynamodb:GetRecords'], Resource: table.streamArn },
          { Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:ReceiveMessage'], Resource: queue.arn },
          { Effect: 'Allow', Action: 'sns:Publish', Resource: topicArn },
          { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::uploads/uploads/*' },
        ],
      }),
    }),
  );
  const { Credentials: assumed } = await new STSClient(config(admin)).send(
    new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/worker`, RoleSessionName: 'test' }),
  );
  role = { accessKeyId: assumed!.AccessKeyId!, secretAccessKey: assumed!.SecretAccessKey!, sessionToken: assumed!.SessionToken! };
});

afterAll(async () => {
  await moto?.stop();
});

/** The error a call failed with (its name and message), or 'allowed'. */
async function outcome(call: () => Promise<unknown>): Promise<string | { name: string; message: string }> {
  try {
    await call();
    return 'allowed';
  } catch (error) {
    return { name: (error as Error).name, message: (error as Error).message };
  }
}

const asRole = () => ({
  dynamodb: new DynamoDBClient({ ...config(role), maxAttempts: 1 }),
  streams: new DynamoDBStreamsClient({ ...config(role), maxAttempts: 1 }),
  sqs: new SQSClient({ ...config(role), maxAttempts: 1 }),
  sns: new SNSClient({ ...config(role), maxAttempts: 1 }),
  s3: new S3Client({ ...config(role), maxAttempts: 1, forcePathStyle: true }),
});

test('a table-scoped grant allows UpdateItem on that table; PutItem, not granted, is denied with the error AWS sends', async () => {
  const { dynamodb } = asRole();
  const key = { id: { S: 'a' } };
  expect(
    await outcome(() =>
      dynamodb.send(new UpdateItemCommand({ TableName: 'items', Key: key, UpdateExpression: 'SET n = :n', ExpressionAttributeValues: { ':n': { N: '1' } } })),
    ),
  ).toBe('allowed');
  expect(await outcome(() => dynamodb.send(new PutItemCommand({ TableName: 'items', Item: key })))).toEqual({
    name: 'AccessDeniedException',
    message: `User: arn:aws:sts::${account}:assumed-role/worker/test is not authorized to perform: dynamodb:PutItem on resource: ${table.arn}`,
  });
});

test("a stream-scoped grant allows reading the table's stream", async () => {
  const { streams } = asRole();
  const { StreamDescription } = await streams.send(new DescribeStreamCommand({ StreamArn: table.streamArn }));
  const { ShardIterator } = await streams.send(
    new GetShardIteratorCommand({ StreamArn: table.streamArn, ShardId: StreamDescription!.Shards![0]!.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
  );
  expect(await outcome(() => streams.send(new GetRecordsCommand({ ShardIterator })))).toBe('allowed');
});

test('SendMessageBatch is allowed by sqs:SendMessage on that queue, and only on that queue; DeleteMessageBatch needs sqs:DeleteMessage', async () => {
  const { sqs } = asRole();
  const entries = [{ Id: '1', MessageBody: 'rows' }];
  expect(await outcome(() => sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: entries })))).toBe('allowed');
  expect(await outcome(() => sqs.send(new SendMessageBatchCommand({ QueueUrl: otherQueueUrl, Entries: entries })))).toMatchObject({
    message: expect.stringContaining('is not authorized to perform: sqs:SendMessage on resource: arn:aws:sqs:us-east-1:123456789012:other'),
  });
  expect(
    await outcome(() => sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queue.url, Entries: [{ Id: '1', ReceiptHandle: 'gone' }] }))),
  ).toMatchObject({ message: expect.stringContaining(`is not authorized to perform: sqs:DeleteMessage on resource: ${queue.arn}`) });
});

test('PublishBatch is allowed by sns:Publish on that topic; publishing to another topic is denied', async () => {
  const { sns } = asRole();
  expect(
    await outcome(() => sns.send(new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: [{ Id: '1', Message: 'low' }] }))),
  ).toBe('allowed');
  expect(await outcome(() => sns.send(new PublishCommand({ TopicArn: `${topicArn}-elsewhere`, Message: 'low' })))).toMatchObject({
    name: 'AccessDenied',
  });
});

test('a prefix-scoped S3 grant allows reading under the prefix only; the denial names the object', async () => {
  const { s3 } = asRole();
  expect(await outcome(() => s3.send(new GetObjectCommand({ Bucket: 'uploads', Key: 'uploads/night.csv' })))).toBe('allowed');
  expect(await outcome(() => s3.send(new GetObjectCommand({ Bucket: 'uploads', Key: 'private/payroll.csv' })))).toEqual({
    name: 'AccessDenied',
    message: `User: arn:aws:sts::${account}:assumed-role/worker/test is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::uploads/private/payroll.csv`,
  });
});

test('every denial and every call authorised under the role is reported, with the grants that allowed them', async () => {
  const { dynamodb, sqs } = asRole();
  await dynamodb.send(new PutItemCommand({ TableName: 'items', Item: { id: { S: 'reported' } } })).catch(() => undefined);
  await sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: [{ Id: '1', MessageBody: 'counted' }] }));

  const decisions = await readIamDecisions(moto.endpoint);
  const principal = `arn:aws:sts::${account}:assumed-role/worker/test`;
  expect(decisions.denials).toContainEqual({
    principal,
    action: 'dynamodb:PutItem',
    resource: table.arn,
    message: `User: ${principal} is not authorized to perform: dynamodb:PutItem on resource: ${table.arn}`,
  });
  const sends = decisions.authorised.find((call) => call.principal === principal && call.action === 'sqs:SendMessage' && call.resource === queue.arn);
  expect(sends?.count).toBeGreaterThanOrEqual(2);
  // The administrator's own calls are not the role's: only assumed roles are counted.
  expect(decisions.authorised.every((call) => call.principal.includes(':assumed-role/'))).toBe(true);
  // ReceiveMessage was granted (statement 2) but never called.
  expect(decisions.grantsUsed.worker).toEqual(
    expect.arrayContaining([
      { policy: 'grants', statement: 0, action: 'dynamodb:UpdateItem' },
      { policy: 'grants', statement: 2, action: 'sqs:SendMessage' },
      { policy: 'grants', statement: 3, action: 'sns:Publish' },
    ]),
  );
  expect(decisions.grantsUsed.worker).not.toContainEqual({ policy: 'grants', statement: 2, action: 'sqs:ReceiveMessage' });
});

test('requests not signed with a key moto knows are refused once the bootstrap is over', async () => {
  const stranger = new SQSClient({ ...config({ accessKeyId: 'local', secretAccessKey: 'local' }), maxAttempts: 1 });
  expect(await outcome(() => stranger.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: [{ Id: '1', MessageBody: 'x' }] })))).not.toBe(
    'allowed',
  );
});
