/**
 * The whole pipeline in one stack: S3 → upload events → splitter → rows → writer → DynamoDB →
 * stream → alerter → SNS, plus the dashboard and alarms that watch it. Names, limits and batch
 * sizes come from src/shared/settings, as they do for the local runtime.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { Construct } from 'constructs';
import { concurrencyBudget, resourceNames, settings } from '../src/shared/settings';
import { AlertsTopic } from './constructs/alerts-topic';
import { CustomResourceLogs } from './constructs/custom-resource-logs';
import { InventoryTable } from './constructs/inventory-table';
import { OperationsTopic } from './constructs/operations-topic';
import { PipelineFunction } from './constructs/pipeline-function';
import { PipelineMonitoring } from './constructs/pipeline-monitoring';
import { DeadLetterQueue, SourceQueue } from './constructs/pipeline-queues';
import { StoreUploaderPolicy } from './constructs/store-uploader-policy';
import { UploadsBucket } from './constructs/uploads-bucket';
import { dropRedundantDependsOn } from './template-tidy';
import type { Deployment } from './deployment';

export interface InventoryStackProps extends StackProps {
  deployment: Deployment;
}

export class InventoryStack extends Stack {
  constructor(scope: Construct, id: string, props: InventoryStackProps) {
    super(scope, id, props);
    const { stage, keepsData, alertEmail, tableCapacity, reserveConcurrency, storeScopedUploads } = props.deployment;
    const names = resourceNames(stage);
    const removalPolicy = keepsData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    // Each function's share of the concurrency budget (it follows the table's capacity), reserved for it
    // when the deployment asks.
    const shares = concurrencyBudget(tableCapacity);
    const reserved = (share: number) => (reserveConcurrency ? share : undefined);

    const uploadEvents = new SourceQueue(this, 'UploadEvents', {
      queueName: names.uploadQueue,
      deadLetterQueueName: names.uploadDeadLetterQueue,
      consumerTimeoutSeconds: settings.splitter.timeoutSeconds,
    });
    const rows = new SourceQueue(this, 'Rows', {
      queueName: names.workQueue,
      deadLetterQueueName: names.deadLetterQueue,
      consumerTimeoutSeconds: settings.writer.timeoutSeconds,
    });
    const alertDeadLetters = new DeadLetterQueue(this, 'AlertDeadLetters', { queueName: names.alertDeadLetterQueue });
    Validations.of(alertDeadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        "This queue is itself a dead-letter queue: the alerter parks the alerts it could not publish here, and the alerter's stream event source mapping sends the stream batches it gave up on here (an on-failure destination, which cdk-nag does not recognise as a redrive).",
    });

    const uploads = new UploadsBucket(this, 'Uploads', { uploadEvents: uploadEvents.queue, removalPolicy, logAccess: keepsData });
    const table = new InventoryTable(this, 'Inventory', { tableName: names.table, keep: keepsData, capacity: tableCapacity });
    const alerts = new AlertsTopic(this, 'Alerts', { topicName: names.topic, alertEmail });

    const splitter = new PipelineFunction(this, 'Splitter', {
      part: 'splitter',
      description: 'Streams an uploaded CSV, validates its rows and packs them onto the rows queue',
      environment: { [settings.env.workQueueUrl]: rows.queue.queueUrl, [settings.env.storeScopedUploads]: String(storeScopedUploads) },
      logRemovalPolicy: removalPolicy,
      reservedConcurrentExecutions: reserved(shares.splitter),
    });
    splitter.addEventSource(
      new SqsEventSource(uploadEvents.queue, {
        batchSize: settings.splitter.batchSize,
        maxConcurrency: shares.splitter,
        reportBatchItemFailures: true,
      }),
    );
    uploads.grantReadUploads(splitter);
    uploads.grantWriteResults(splitter);
    // SendMessage only: grantSendMessages would add GetQueueAttributes and GetQueueUrl, which the splitter
    // never calls (inventory local --from-template lists each grant a run used).
    Grant.addToPrincipal({ grantee: splitter, actions: ['sqs:SendMessage'], resourceArns: [rows.queue.queueArn] });

    const writer = new PipelineFunction(this, 'Writer', {
      part: 'writer',
      description: 'Applies packed row batches to the inventory table with conditional updates',
      environment: {
        [settings.env.tableName]: table.tableName,
        [settings.env.defaultThreshold]: String(settings.inventory.defaultThreshold),
        [settings.env.workQueueUrl]: rows.queue.queueUrl,
      },
      logRemovalPolicy: removalPolicy,
      reservedConcurrentExecutions: reserved(shares.writer),
    });
    writer.addEventSource(
      new SqsEventSource(rows.queue, {
        batchSize: settings.writer.batchSize,
        maxBatchingWindow: Duration.seconds(settings.writer.maxBatchingWindowSeconds),
        maxConcurrency: shares.writer,
        reportBatchItemFailures: true,
      }),
    );
    // UpdateItem only: the writer neither reads, puts nor deletes items.
    Grant.addToPrincipal({ grantee: writer, actions: ['dynamodb:UpdateItem'], resourceArns: [table.tableArn] });
    // Its own back-pressure: rows still throttled when its time runs out go back on the rows queue as a
    // new, delayed message, and a message that failed otherwise is handed back with a growing visibility
    // timeout. (The event source grants the second too; the writer's code relies on it, so it says so.)
    Grant.addToPrincipal({ grantee: writer, actions: ['sqs:SendMessage', 'sqs:ChangeMessageVisibility'], resourceArns: [rows.queue.queueArn] });

    const alerter = new PipelineFunction(this, 'Alerter', {
      part: 'alerter',
      description: 'Publishes LOW_STOCK / RESTOCKED alerts for threshold crossings on the inventory stream',
      environment: {
        [settings.env.topicArn]: alerts.topicArn,
        [settings.env.defaultThreshold]: String(settings.inventory.defaultThreshold),
        [settings.env.alertDeadLetterQueueUrl]: alertDeadLetters.queueUrl,
      },
      logRemovalPolicy: removalPolicy,
      reservedConcurrentExecutions: reserved(shares.alerter),
    });
    alerter.addEventSource(
      new DynamoEventSource(table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: settings.alerter.batchSize,
        maxBatchingWindow: Duration.seconds(settings.alerter.maxBatchingWindowSeconds),
        bisectBatchOnError: true,
        retryAttempts: settings.alerter.retryAttempts,
        parallelizationFactor: settings.alerter.parallelizationFactor,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(alertDeadLetters),
      }),
    );
    // sns:Publish also authorises PublishBatch.
    Grant.addToPrincipal({ grantee: alerter, actions: ['sns:Publish'], resourceArns: [alerts.topicArn] });
    // An alert it finally could not publish is parked, payload and all, on the alerts dead-letter queue
    // (which the stream mapping's on-failure destination also grants; the alerter's code relies on it).
    Grant.addToPrincipal({ grantee: alerter, actions: ['sqs:SendMessage'], resourceArns: [alertDeadLetters.queueArn] });
    Validations.of(alerter.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'dynamodb:ListStreams (granted by the stream event source so Lambda can find the stream) and the X-Ray tracing actions support no resource-level permissions.',
    });

    const operations = new OperationsTopic(this, 'Operations', { alertEmail });
    const monitoring = new PipelineMonitoring(this, 'Monitoring', {
      functions: [
        { label: 'splitter', function: splitter },
        { label: 'writer', function: writer },
        { label: 'alerter', function: alerter },
      ],
      sourceQueues: [
        // One full visibility timeout: by then the message has either been retried or waited
        // behind a backlog the consumers can't clear.
        { label: 'upload events', queue: uploadEvents.queue, maxAge: uploadEvents.visibilityTimeout },
        { label: 'rows', queue: rows.queue, maxAge: rows.visibilityTimeout },
      ],
      deadLetterQueues: [
        {
          label: 'upload events',
          queue: uploadEvents.deadLetterQueue,
          recovery: `Each is an S3 upload event the splitter gave up on: fix the cause (see the splitter's log group), then \`npx inventory redrive --stage ${stage} --queue upload-events\` splits those uploads again.`,
        },
        {
          label: 'rows',
          queue: rows.deadLetterQueue,
          recovery: `Each is a batch of rows the writer gave up on: fix the cause (see the writer's log group), then \`npx inventory redrive --stage ${stage} --queue rows\` applies them again; rows older than the table's are skipped.`,
        },
        {
          label: 'alerts',
          queue: alertDeadLetters,
          recovery:
            `Alerts the alerter could not publish are parked here with their full payload: fix the cause (see the alerter's log group), then \`npx inventory redrive --stage ${stage} --queue alerts\` publishes them again with their original alertId, so subscribers can drop repeats. ` +
            "A message holding only a stream batch's shard and sequence numbers (the stream mapping's on-failure record, no alert in it) cannot be republished once the stream's 24-hour retention has passed: read the shard and sequence range from it to see which items' alerts may be missing.",
        },
      ],
      table,
      alertsTopic: alerts,
      streamConsumer: alerter,
      operationsTopic: operations.topic,
    });

    const outputs: Record<string, { value: string; description: string }> = {
      UploadsBucketName: { value: uploads.bucket.bucketName, description: `Upload CSVs to s3://<this>/${settings.uploads.prefix}` },
      InventoryTableName: { value: table.tableName, description: 'The inventory of record' },
      AlertsTopicArn: { value: alerts.topicArn, description: 'LOW_STOCK / RESTOCKED alerts' },
      OperationsTopicArn: { value: operations.topic.topicArn, description: 'Alarm notifications' },
      DashboardUrl: { value: monitoring.dashboardUrl, description: 'The pipeline dashboard' },
      UploadEventsQueueUrl: { value: uploadEvents.queue.queueUrl, description: 'S3 upload events driving the splitter' },
      UploadEventsDeadLetterQueueUrl: { value: uploadEvents.deadLetterQueue.queueUrl, description: 'Uploads the splitter gave up on' },
      RowsQueueUrl: { value: rows.queue.queueUrl, description: 'Packed row batches driving the writer' },
      RowsDeadLetterQueueUrl: { value: rows.deadLetterQueue.queueUrl, description: 'Row batches the writer gave up on' },
      AlertsDeadLetterQueueUrl: { value: alertDeadLetters.queueUrl, description: 'Alerts the alerter could not publish, and stream batches it gave up on' },
    };
    if (storeScopedUploads) {
      const uploaders = new StoreUploaderPolicy(this, 'StoreUploaders', { bucket: uploads.bucket });
      outputs.StoreUploaderPolicyArn = {
        value: uploaders.policy.managedPolicyArn,
        description: `Attach to a store's uploader role or user, tagged ${settings.uploads.storeTag}=<its store>: it may then put files only below ${settings.uploads.prefix}<its store>/`,
      };
    }
    for (const [outputId, output] of Object.entries(outputs)) new CfnOutput(this, outputId, output);

    // Last: it gives a log group to every function aws-cdk-lib added by itself above.
    new CustomResourceLogs(this, 'CustomResourceLogs', { removalPolicy });
  }

  /** The template as synthesized, without the DependsOn entries its references already imply. */
  protected override _toCloudFormation(): unknown {
    return dropRedundantDependsOn(super._toCloudFormation() as Parameters<typeof dropRedundantDependsOn>[0]);
  }
}
