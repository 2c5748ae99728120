/**
 * Creates the stack's data resources on an AWS-compatible endpoint from the template's own
 * properties, as CloudFormation would: queues (attributes, redrive policies, queue policies), tables
 * (keys, indexes, billing, stream), topics (attributes, subscriptions, topic policies) and buckets
 * (versioning, and the notification configuration the bucket-notifications custom resource puts).
 * Names come from the template. Existing resources of the same name are reused, so several runs can
 * share one endpoint.
 *
 * What the local AWS cannot honour is left out on purpose: bucket policies (moto applies their Deny
 * statements to object requests with every Condition counted as met, having no request context, so
 * the template's "deny unless TLS" statement denies every object request — measured: PutObject 403),
 * encryption, lifecycle, logging and point-in-time recovery.
 */
import { CreateTableCommand, DescribeTableCommand, ResourceInUseException, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  type NotificationConfiguration,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, SetTopicAttributesCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../../shared/aws';
import { TemplateResolutionError } from './intrinsics';
import type { LocalStack } from './local-stack';

export interface ProvisionedQueue {
  logicalId: string;
  name: string;
  url: string;
  arn: string;
}

export interface ProvisionedTable {
  logicalId: string;
  name: string;
  arn: string;
  streamArn?: string;
}

export interface ProvisionedTopic {
  logicalId: string;
  name: string;
  arn: string;
}

export interface ProvisionedBucket {
  logicalId: string;
  name: string;
  arn: string;
}

export interface ProvisionedResources {
  queues: ProvisionedQueue[];
  tables: ProvisionedTable[];
  topics: ProvisionedTopic[];
  buckets: ProvisionedBucket[];
}

/** Queue properties that are SQS queue attributes of the same name. */
const queueAttributeProperties = [
  'ContentBasedDeduplication',
  'DeduplicationScope',
  'DelaySeconds',
  'FifoQueue',
  'FifoThroughputLimit',
  'KmsDataKeyReusePeriodSeconds',
  'KmsMasterKeyId',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ReceiveMessageWaitTimeSeconds',
  'RedriveAllowPolicy',
  'RedrivePolicy',
  'SqsManagedSseEnabled',
  'VisibilityTimeout',
];

/** Topic properties that are SNS topic attributes of the same name. */
const topicAttributeProperties = ['ContentBasedDeduplication', 'DisplayName', 'FifoTopic', 'KmsMasterKeyId', 'SignatureVersion'];

/** A property value as an SQS/SNS attribute: objects (policies) as JSON, everything else as text. */
const attributeValue = (value: unknown) => (typeof value === 'object' ? JSON.stringify(value) : String(value));

function attributesFrom(properties: Record<string, unknown>, names: readonly string[]): Record<string, string> {
  return Object.fromEntries(names.filter((name) => properties[name] !== undefined).map((name) => [name, attributeValue(properties[name])]));
}

function tagsFrom(properties: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(((properties.Tags ?? []) as { Key: string; Value: string }[]).map((tag) => [tag.Key, tag.Value]));
}

async function createQueue(stack: LocalStack, clients: AwsClients, logicalId: string): Promise<ProvisionedQueue> {
  const name = stack.physicalName(logicalId);
  // Without attributes CreateQueue also answers with a queue that exists already; the attributes
  // follow once every queue exists, since a redrive policy may name any of them.
  const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: name, tags: tagsFrom(stack.properties(logicalId)) }));
  stack.record(logicalId, { QueueUrl: QueueUrl! });
  return { logicalId, name, url: QueueUrl!, arn: stack.getAtt(logicalId, 'Arn') };
}

async function configureQueue(stack: LocalStack, clients: AwsClients, queue: ProvisionedQueue): Promise<void> {
  const attributes = attributesFrom(stack.properties(queue.logicalId), queueAttributeProperties);
  if (Object.keys(attributes).length > 0) await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: queue.url, Attributes: attributes }));
}

async function createTable(stack: LocalStack, clients: AwsClients, logicalId: string): Promise<ProvisionedTable> {
  const properties = stack.properties(logicalId) as {
    AttributeDefinitions: never;
    KeySchema: never;
    BillingMode?: never;
    ProvisionedThroughput?: never;
    GlobalSecondaryIndexes?: never;
    LocalSecondaryIndexes?: never;
    StreamSpecification?: { StreamViewType: never };
  };
  const name = stack.physicalName(logicalId);
  try {
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: properties.AttributeDefinitions,
        KeySchema: properties.KeySchema,
        BillingMode: properties.BillingMode,
        ProvisionedThroughput: properties.ProvisionedThroughput,
        GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes,
        LocalSecondaryIndexes: properties.LocalSecondaryIndexes,
        StreamSpecification: properties.StreamSpecification
          ? { StreamEnabled: true, StreamViewType: properties.StreamSpecification.StreamViewType }
          : undefined,
        Tags: Object.entries(tagsFrom(properties)).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
    await waitUntilTableExists({ client: clients.dynamodb, maxWaitTime: 60, minDelay: 1 }, { TableName: name });
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: name }));
  if (properties.StreamSpecification && !Table?.LatestStreamArn) {
    throw new Error(`table ${name} exists without the stream the template gives it; delete it or use another endpoint`);
  }
  stack.record(logicalId, Table?.LatestStreamArn ? { StreamArn: Table.LatestStreamArn } : {});
  return { logicalId, name, arn: Table!.TableArn!, ...(Table?.LatestStreamArn ? { streamArn: Table.LatestStreamArn } : {}) };
}

async function createTopic(stack: LocalStack, clients: AwsClients, logicalId: string): Promise<ProvisionedTopic> {
  const properties = stack.properties(logicalId);
  const name = stack.physicalName(logicalId);
  const { TopicArn } = await clients.sns.send(
    new CreateTopicCommand({
      Name: name,
      Attributes: attributesFrom(properties, topicAttributeProperties),
      Tags: Object.entries(tagsFrom(properties)).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
  if (TopicArn !== stack.arn(logicalId)) throw new Error(`topic ${name} was created as ${TopicArn}, not as ${stack.arn(logicalId)}`);
  for (const subscription of (properties.Subscription ?? []) as { Protocol: string; Endpoint: string }[]) {
    await clients.sns.send(new SubscribeCommand({ TopicArn, Protocol: subscription.Protocol, Endpoint: subscription.Endpoint }));
  }
  return { logicalId, name, arn: TopicArn! };
}

async function createBucket(stack: LocalStack, clients: AwsClients, logicalId: string): Promise<ProvisionedBucket> {
  const properties = stack.properties(logicalId) as { VersioningConfiguration?: { Status: 'Enabled' | 'Suspended' } };
  const name = stack.physicalName(logicalId);
  try {
    await clients.s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
  if (properties.VersioningConfiguration) {
    await clients.s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: properties.VersioningConfiguration }));
  }
  return { logicalId, name, arn: stack.arn(logicalId) };
}

/** Queue and topic policies: stored on their queues and topics (moto keeps them; it evaluates neither). */
async function applyResourcePolicies(stack: LocalStack, clients: AwsClients): Promise<void> {
  for (const logicalId of stack.logicalIdsOf('AWS::SQS::QueuePolicy')) {
    const { PolicyDocument, Queues } = stack.properties(logicalId) as { PolicyDocument: unknown; Queues: string[] };
    for (const QueueUrl of Queues) {
      await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { Policy: JSON.stringify(PolicyDocument) } }));
    }
  }
  for (const logicalId of stack.logicalIdsOf('AWS::SNS::TopicPolicy')) {
    const { PolicyDocument, Topics } = stack.properties(logicalId) as { PolicyDocument: unknown; Topics: string[] };
    for (const TopicArn of Topics) {
      await clients.sns.send(new SetTopicAttributesCommand({ TopicArn, AttributeName: 'Policy', AttributeValue: JSON.stringify(PolicyDocument) }));
    }
  }
}

async function subscribe(stack: LocalStack, clients: AwsClients): Promise<void> {
  for (const logicalId of stack.logicalIdsOf('AWS::SNS::Subscription')) {
    const { TopicArn, Protocol, Endpoint, FilterPolicy, FilterPolicyScope, RawMessageDelivery, RedrivePolicy } = stack.properties(logicalId);
    const attributes = attributesFrom({ FilterPolicy, FilterPolicyScope, RawMessageDelivery, RedrivePolicy }, [
      'FilterPolicy',
      'FilterPolicyScope',
      'RawMessageDelivery',
      'RedrivePolicy',
    ]);
    await clients.sns.send(
      new SubscribeCommand({ TopicArn: TopicArn as string, Protocol: Protocol as string, Endpoint: Endpoint as string, Attributes: attributes }),
    );
  }
}

/**
 * What the CDK's bucket-notifications custom resource puts at deploy time (its handler calls
 * PutBucketNotificationConfiguration with the resource's NotificationConfiguration), put directly.
 */
async function configureBucketNotifications(stack: LocalStack, clients: AwsClients): Promise<void> {
  for (const logicalId of stack.logicalIdsOf('Custom::S3BucketNotifications')) {
    const { BucketName, NotificationConfiguration } = stack.properties(logicalId) as {
      BucketName: string;
      NotificationConfiguration: NotificationConfiguration & { LambdaFunctionConfigurations?: unknown[] };
    };
    if ((NotificationConfiguration.LambdaFunctionConfigurations ?? []).length > 0) {
      throw new TemplateResolutionError(
        `bucket ${BucketName} notifies a Lambda function directly (${logicalId}); the local runtime delivers S3 notifications through queues and topics only`,
      );
    }
    await clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: BucketName, NotificationConfiguration }));
  }
}

export async function provisionResources(stack: LocalStack, clients: AwsClients): Promise<ProvisionedResources> {
  // Only references to what the service names (a queue's URL, a table's stream) need an order: a
  // queue's redrive policy names its dead-letter queue by ARN, which follows from its name.
  const queues = await Promise.all(stack.logicalIdsOf('AWS::SQS::Queue').map((id) => createQueue(stack, clients, id)));
  await Promise.all(queues.map((queue) => configureQueue(stack, clients, queue)));
  const tables = await Promise.all(stack.logicalIdsOf('AWS::DynamoDB::Table').map((id) => createTable(stack, clients, id)));
  const topics = await Promise.all(stack.logicalIdsOf('AWS::SNS::Topic').map((id) => createTopic(stack, clients, id)));
  const buckets = await Promise.all(stack.logicalIdsOf('AWS::S3::Bucket').map((id) => createBucket(stack, clients, id)));
  await applyResourcePolicies(stack, clients);
  await subscribe(stack, clients);
  await configureBucketNotifications(stack, clients);
  return { queues, tables, topics, buckets };
}
