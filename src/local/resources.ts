/**
 * Creates (or reuses) the pipeline's resources on an AWS-compatible endpoint with the names and
 * settings the CDK stack deploys — both read them from src/shared/settings — plus the one thing only
 * the local runtime needs: a queue subscribed to the alerts topic, so the CLI can show what was sent.
 */
import { BucketAlreadyOwnedByYou, CreateBucketCommand, PutBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceNotFoundException,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateTopicCommand, ListSubscriptionsByTopicCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, QueueDoesNotExist, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { AwsClients } from '../shared/aws';
import { resourceNames, settings, visibilityTimeoutSeconds, type ResourceNames } from '../shared/settings';

/** What the local runtime uses of the pipeline's resources, however they were created. */
export interface PipelineResources {
  bucket: string;
  table: string;
  streamArn: string;
  uploadQueueUrl: string;
  uploadQueueArn: string;
  uploadDeadLetterQueueUrl: string;
  workQueueUrl: string;
  workQueueArn: string;
  deadLetterQueueUrl: string;
  alertDeadLetterQueueUrl: string;
  topicArn: string;
  alertCaptureQueueUrl: string;
}

/** The pipeline's resources as created from the settings module, with the names they were given. */
export interface LocalResources extends PipelineResources {
  names: ResourceNames;
}

/** Attributes of the dead-letter queues; the CDK stack's carry the same values. */
export function deadLetterQueueAttributes(): Record<string, string> {
  return { MessageRetentionPeriod: String(settings.queues.deadLetterRetentionSeconds) };
}

/** Attributes of a queue that feeds a function; the CDK stack's carry the same values. */
export function sourceQueueAttributes(consumerTimeoutSeconds: number, deadLetterTargetArn: string): Record<string, string> {
  return {
    VisibilityTimeout: String(visibilityTimeoutSeconds(consumerTimeoutSeconds)),
    MaximumMessageSize: String(settings.queues.maximumMessageSizeBytes),
    MessageRetentionPeriod: String(settings.queues.retentionSeconds),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn, maxReceiveCount: settings.queues.maxReceiveCount }),
  };
}

async function ensureQueue(clients: AwsClients, name: string, attributes: Record<string, string> = {}): Promise<{ url: string; arn: string }> {
  let url: string;
  try {
    url = (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
    // Reused: bring its settings up to date rather than trusting an earlier run's.
    if (Object.keys(attributes).length > 0) await clients.sqs.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  } catch (error) {
    if (!(error instanceof QueueDoesNotExist)) throw error;
    url = (await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }))).QueueUrl!;
  }
  const { Attributes } = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  return { url, arn: Attributes!.QueueArn! };
}

async function ensureBucket(clients: AwsClients, bucket: string, uploadQueueArn: string): Promise<void> {
  try {
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou)) throw error;
  }
  await clients.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        QueueConfigurations: settings.uploads.suffixes.map((suffix) => ({
          QueueArn: uploadQueueArn,
          Events: ['s3:ObjectCreated:*'],
          Filter: {
            Key: {
              FilterRules: [
                { Name: 'prefix', Value: settings.uploads.prefix },
                { Name: 'suffix', Value: suffix },
              ],
            },
          },
        })),
      },
    }),
  );
}

async function ensureTable(clients: AwsClients, table: string): Promise<string> {
  try {
    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: table }));
    if (Table?.LatestStreamArn) return Table.LatestStreamArn;
    throw new Error(`table ${table} exists without a stream; delete it or use another endpoint`);
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const { partitionKey, sortKey } = settings.table;
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: partitionKey, AttributeType: 'S' },
        { AttributeName: sortKey, AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: partitionKey, KeyType: 'HASH' },
        { AttributeName: sortKey, KeyType: 'RANGE' },
      ],
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    }),
  );
  await waitUntilTableExists({ client: clients.dynamodb, maxWaitTime: 60, minDelay: 1 }, { TableName: table });
  const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: table }));
  return Table!.LatestStreamArn!;
}

/** Subscribes the queue to the topic, unless it is subscribed already. */
async function subscribeQueue(clients: AwsClients, topicArn: string, queueArn: string): Promise<void> {
  let next: string | undefined;
  do {
    const page = await clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: next }));
    if (page.Subscriptions?.some((s) => s.Protocol === 'sqs' && s.Endpoint === queueArn)) return;
    next = page.NextToken;
  } while (next);
  await clients.sns.send(new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn }));
}

async function ensureTopicWithCapture(clients: AwsClients, topicName: string, captureQueueArn: string): Promise<string> {
  const { TopicArn } = await clients.sns.send(new CreateTopicCommand({ Name: topicName }));
  await subscribeQueue(clients, TopicArn!, captureQueueArn);
  return TopicArn!;
}

/**
 * A queue of the given name subscribed to an existing alerts topic, so the CLI can show what was
 * published: for a stack deployed from its template, which has no such queue. Returns its URL.
 */
export async function ensureAlertCapture(clients: AwsClients, topicArn: string, queueName: string): Promise<string> {
  const capture = await ensureQueue(clients, queueName);
  await subscribeQueue(clients, topicArn, capture.arn);
  return capture.url;
}

export async function ensureResources(clients: AwsClients, stage: string = settings.stage.local): Promise<LocalResources> {
  const names = resourceNames(stage);
  const [uploadDlq, workDlq, alertDlq, capture] = await Promise.all([
    ensureQueue(clients, names.uploadDeadLetterQueue, deadLetterQueueAttributes()),
    ensureQueue(clients, names.deadLetterQueue, deadLetterQueueAttributes()),
    ensureQueue(clients, names.alertDeadLetterQueue, deadLetterQueueAttributes()),
    ensureQueue(clients, names.alertCaptureQueue),
  ]);
  const [uploadQueue, workQueue] = await Promise.all([
    ensureQueue(clients, names.uploadQueue, sourceQueueAttributes(settings.splitter.timeoutSeconds, uploadDlq.arn)),
    ensureQueue(clients, names.workQueue, sourceQueueAttributes(settings.writer.timeoutSeconds, workDlq.arn)),
  ]);
  const [, streamArn, topicArn] = await Promise.all([
    ensureBucket(clients, names.bucket, uploadQueue.arn),
    ensureTable(clients, names.table),
    ensureTopicWithCapture(clients, names.topic, capture.arn),
  ]);
  return {
    names,
    bucket: names.bucket,
    table: names.table,
    streamArn,
    uploadQueueUrl: uploadQueue.url,
    uploadQueueArn: uploadQueue.arn,
    uploadDeadLetterQueueUrl: uploadDlq.url,
    workQueueUrl: workQueue.url,
    workQueueArn: workQueue.arn,
    deadLetterQueueUrl: workDlq.url,
    alertDeadLetterQueueUrl: alertDlq.url,
    topicArn,
    alertCaptureQueueUrl: capture.url,
  };
}
