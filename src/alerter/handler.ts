/**
 * Alerter Lambda: the inventory table's stream (NEW_AND_OLD_IMAGES) → LOW_STOCK / RESTOCKED alerts
 * on SNS, with partial batch responses. An alert SNS would not take after the publisher's retries
 * is parked on the alerts dead-letter queue, payload and all (recoverable for 14 days with
 * `inventory redrive --queue alerts`); a record whose alert could not even be parked is reported
 * failed and the stream retries from it (bisecting, then the on-failure destination), so no
 * crossing is lost. Duplicate deliveries re-send the same alertId, which subscribers can dedupe on.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, Context, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { createAwsClients } from '../shared/aws';
import { defaultThresholdFromEnv, requireEnv } from '../shared/env';
import { createLogger, lambdaMetrics, type PipelineMetrics } from '../shared/observability';
import { MetricName, settings } from '../shared/settings';
import { crossingsOf, type ItemImage } from './crossing';
import { sqsParking, type ParkAlert } from './parking';
import { AlertPublisher, snsPublishBatch, type PublishBatch } from './publisher';

export interface AlerterDependencies {
  publishBatch: PublishBatch;
  /** Where alerts go that could not be published (the alerts dead-letter queue). */
  park: ParkAlert;
  defaultThreshold: number;
  logger: Logger;
  metrics: PipelineMetrics;
}

function image(attributes: Record<string, AttributeValue> | undefined): ItemImage | undefined {
  // The stream's AttributeValue shape is the SDK's; the two type packages differ only nominally.
  return attributes === undefined ? undefined : (unmarshall(attributes as Parameters<typeof unmarshall>[0]) as ItemImage);
}

function itemKey(record: DynamoDBRecord): string {
  const keys = image(record.dynamodb?.Keys);
  // Without keys a record cannot be chained with others; its sequence number keeps it on its own.
  return keys ? `${keys.store}\u0000${keys.product}` : `record:${record.dynamodb?.SequenceNumber ?? record.eventID}`;
}

function recordTime(record: DynamoDBRecord): string {
  const seconds = record.dynamodb?.ApproximateCreationDateTime;
  return (seconds === undefined ? new Date() : new Date(seconds * 1000)).toISOString();
}

export function createAlerterHandler(deps: AlerterDependencies) {
  const { logger, metrics } = deps;
  const processor = new BatchProcessor(EventType.DynamoDBStreams);

  return async (event: DynamoDBStreamEvent, context: Context) => {
    logger.addContext(context);
    const publisher = new AlertPublisher(deps.publishBatch, {
      batchSize: settings.alerter.publishBatchSize,
      maxAttempts: settings.alerter.maxPublishAttempts,
      park: deps.park,
    });
    const crossings = crossingsOf(
      event.Records.map((record) => ({
        ref: record,
        item: itemKey(record),
        oldImage: image(record.dynamodb?.OldImage),
        newImage: image(record.dynamodb?.NewImage),
      })),
      deps.defaultThreshold,
    );
    const recordHandler = async (record: DynamoDBRecord): Promise<void> => {
      const crossing = crossings.get(record);
      if (crossing === undefined) return;
      try {
        await publisher.publish({ ...crossing, time: crossing.time ?? recordTime(record) });
      } catch (error) {
        logger.error('alert not published; the stream will retry its record', { alertId: crossing.alertId, error: error as Error });
        throw error;
      }
    };
    try {
      const response = await processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
      if (crossings.size > 0 || response.batchItemFailures.length > 0) {
        logger.info('stream batch processed', {
          records: event.Records.length,
          crossings: crossings.size,
          published: publisher.published,
          parked: publisher.parked,
          failedRecords: response.batchItemFailures.length,
        });
      }
      return response;
    } finally {
      metrics.add(MetricName.AlertsPublished, publisher.published);
      metrics.add(MetricName.AlertsParked, publisher.parked);
      metrics.publish();
    }
  };
}

let lambdaHandler: ReturnType<typeof createAlerterHandler> | undefined;

/** The Lambda entry point; configured from the environment the CDK stack sets. */
export const handler = (event: DynamoDBStreamEvent, context: Context) => {
  if (lambdaHandler === undefined) {
    const clients = createAwsClients();
    lambdaHandler = createAlerterHandler({
      publishBatch: snsPublishBatch(clients.sns, requireEnv(settings.env.topicArn)),
      park: sqsParking(clients.sqs, requireEnv(settings.env.alertDeadLetterQueueUrl)),
      defaultThreshold: defaultThresholdFromEnv(),
      logger: createLogger('alerter'),
      metrics: lambdaMetrics(),
    });
  }
  return lambdaHandler(event, context);
};
