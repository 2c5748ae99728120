/**
 * Writer Lambda: SQS batches of RowBatch messages → conditional UpdateItems, with partial batch
 * responses. A message whose rows all applied (or were stale) succeeds. Throttling is
 * back-pressure: rows the table kept pushing back until the invocation's time ran out are re-sent
 * as a new, delayed message and the received one succeeds, so throttling never uses up receives.
 * A message that could not be decoded or whose writes failed otherwise fails alone, is handed back
 * for a growing while, and lands in the dead-letter queue after maxReceiveCount receives.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { createAwsClients } from '../shared/aws';
import { defaultThresholdFromEnv, requireEnv } from '../shared/env';
import { decodeRowBatch, packRows, stampedRows, type RowBatch, type StampedRow } from '../shared/messages';
import { createLogger, lambdaMetrics, type PipelineMetrics } from '../shared/observability';
import { MetricName, settings, visibilityTimeoutSeconds } from '../shared/settings';
import { applyRows, type InventoryTable } from './apply';
import { deferralDelaySeconds, invocationBackPressure, writerLimiter } from './back-pressure';
import { DynamoInventoryTable } from './dynamodb-table';
import { sqsRowsQueue, type RowsQueue } from './rows-queue';

export interface WriterDependencies {
  table: InventoryTable;
  rowsQueue: RowsQueue;
  logger: Logger;
  metrics: PipelineMetrics;
  /** UpdateItems in flight at once across the whole invocation, at most. */
  writeConcurrency?: number;
}

export function dynamoTable(documents: DynamoDBDocumentClient, tableName: string, defaultThreshold: number): InventoryTable {
  return new DynamoInventoryTable(documents, tableName, defaultThreshold);
}

/** How long a failed message stays hidden before its next receive: doubling, up to the queue's own timeout. */
export function failedRetrySeconds(receiveCount: number): number {
  const ceiling = visibilityTimeoutSeconds(settings.writer.timeoutSeconds);
  return Math.min(ceiling, settings.writer.failedRetryBaseSeconds * 2 ** Math.max(0, receiveCount - 1));
}

export function createWriterHandler(deps: WriterDependencies) {
  const { table, rowsQueue, logger, metrics } = deps;
  // One limit per container: what the table told one invocation holds for the next.
  const limiter = writerLimiter(deps.writeConcurrency);
  const processor = new BatchProcessor(EventType.SQS);

  /** Re-sends rows the table kept pushing back, delayed longer each time they come back. */
  async function defer(batch: RowBatch, rows: readonly StampedRow[]): Promise<void> {
    const deferrals = (batch.deferrals ?? 0) + 1;
    for (const message of packRows(batch.upload, rows, settings.packing.maxMessageBytes, deferrals)) {
      await rowsQueue.sendLater(message.body, deferralDelaySeconds(deferrals - 1));
    }
  }

  return async (event: SQSEvent, context: Context) => {
    logger.addContext(context);
    const started = Date.now();
    const pressure = invocationBackPressure(limiter, context);
    let applied = 0;
    let skipped = 0;
    let deferred = 0;
    const recordHandler = async (record: SQSRecord): Promise<void> => {
      try {
        const batch = decodeRowBatch(record.body);
        const result = await applyRows(stampedRows(batch), table, pressure);
        if (result.deferred.length > 0) await defer(batch, result.deferred);
        applied += result.applied;
        skipped += result.skipped;
        deferred += result.deferred.length;
      } catch (error) {
        const receiveCount = Number(record.attributes.ApproximateReceiveCount) || 1;
        const retryInSeconds = failedRetrySeconds(receiveCount);
        // Best effort: if it fails, the queue's own visibility timeout applies.
        await rowsQueue.retryAfter(record.receiptHandle, retryInSeconds).catch((visibilityError: unknown) =>
          logger.warn('could not shorten the failed message\'s wait', { messageId: record.messageId, error: visibilityError as Error }),
        );
        logger.error('message failed; it will be retried, then dead-lettered', {
          messageId: record.messageId,
          receiveCount,
          retryInSeconds,
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
        deferred,
        writeConcurrency: limiter.limit,
        ms: Date.now() - started,
      });
      return response;
    } finally {
      metrics.add(MetricName.RowsApplied, applied);
      metrics.add(MetricName.RowsSkipped, skipped);
      metrics.add(MetricName.RowsDeferred, deferred);
      metrics.publish();
    }
  };
}

let lambdaHandler: ReturnType<typeof createWriterHandler> | undefined;

/** The Lambda entry point; configured from the environment the CDK stack sets. */
export const handler = (event: SQSEvent, context: Context) => {
  if (lambdaHandler === undefined) {
    // Few SDK retries: the writer's own back-pressure must hear of throttling to slow down.
    const clients = createAwsClients({ maxAttempts: settings.writer.backPressure.sdkMaxAttempts });
    lambdaHandler = createWriterHandler({
      table: dynamoTable(clients.documents, requireEnv(settings.env.tableName), defaultThresholdFromEnv()),
      rowsQueue: sqsRowsQueue(clients.sqs, requireEnv(settings.env.workQueueUrl)),
      logger: createLogger('writer'),
      metrics: lambdaMetrics(),
    });
  }
  return lambdaHandler(event, context);
};
