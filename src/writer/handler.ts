/**
 * Writer Lambda: SQS batches of RowBatch messages → conditional UpdateItems, with partial batch
 * responses. A message whose rows all applied (or were stale) succeeds; one that could not be
 * decoded or whose writes kept failing after the SDK's retries fails alone, reappears after the
 * visibility timeout, and lands in the dead-letter queue after maxReceiveCount receives.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { createAwsClients } from '../shared/aws';
import { createLimiter } from '../shared/concurrency';
import { defaultThresholdFromEnv, requireEnv } from '../shared/env';
import { decodeRowBatch, stampedRows } from '../shared/messages';
import { createLogger, lambdaMetrics, type PipelineMetrics } from '../shared/observability';
import { MetricName, settings } from '../shared/settings';
import { applyRows, type InventoryTable } from './apply';
import { DynamoInventoryTable } from './dynamodb-table';

export interface WriterDependencies {
  table: InventoryTable;
  logger: Logger;
  metrics: PipelineMetrics;
  /** UpdateItems in flight at once across the whole invocation. */
  writeConcurrency?: number;
}

export function dynamoTable(documents: DynamoDBDocumentClient, tableName: string, defaultThreshold: number): InventoryTable {
  return new DynamoInventoryTable(documents, tableName, defaultThreshold);
}

export function createWriterHandler(deps: WriterDependencies) {
  const { table, logger, metrics } = deps;
  const limit = createLimiter(deps.writeConcurrency ?? settings.writer.writeConcurrency);
  const processor = new BatchProcessor(EventType.SQS);

  return async (event: SQSEvent, context: Context) => {
    logger.addContext(context);
    const started = Date.now();
    let applied = 0;
    let skipped = 0;
    const recordHandler = async (record: SQSRecord): Promise<void> => {
      try {
        const result = await applyRows(stampedRows(decodeRowBatch(record.body)), table, limit);
        applied += result.applied;
        skipped += result.skipped;
      } catch (error) {
        logger.error('message failed; it will be retried, then dead-lettered', {
          messageId: record.messageId,
          receiveCount: record.attributes.ApproximateReceiveCount,
          error: error as Error,
        });
        throw error;
      }
    };
    try {
      const response = await processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
      logger.info('batch applied', {
        messages: event.Records.length,
        failedMessages: response.batchItemFailures.length,
        applied,
        skipped,
        ms: Date.now() - started,
      });
      return response;
    } finally {
      metrics.add(MetricName.RowsApplied, applied);
      metrics.add(MetricName.RowsSkipped, skipped);
      metrics.publish();
    }
  };
}

let lambdaHandler: ReturnType<typeof createWriterHandler> | undefined;

/** The Lambda entry point; configured from the environment the CDK stack sets. */
export const handler = (event: SQSEvent, context: Context) => {
  lambdaHandler ??= createWriterHandler({
    table: dynamoTable(createAwsClients().documents, requireEnv(settings.env.tableName), defaultThresholdFromEnv()),
    logger: createLogger('writer'),
    metrics: lambdaMetrics(),
  });
  return lambdaHandler(event, context);
};
