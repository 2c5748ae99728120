/**
 * Splitter Lambda: S3 ObjectCreated notifications (delivered through the upload-events SQS queue, so
 * a split that hit a transient fault is retried and finally dead-lettered) → one split per upload →
 * RowBatch messages on the work queue, rejected rows and a receipt next to the upload. Glue and
 * failure classification only; the work is in split.ts. With store-scoped uploads
 * (STORE_SCOPED_UPLOADS=true) each upload's key names its store, and its rows may be for that store only.
 */
import type { Readable } from 'node:stream';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { GetObjectCommand, InvalidObjectState, PutObjectCommand, S3ServiceException, type S3Client } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, S3Event, SQSEvent, SQSRecord } from 'aws-lambda';
import { createAwsClients } from '../shared/aws';
import type { StoreScope } from '../shared/csv';
import { requireEnv, storeScopedUploadsFromEnv } from '../shared/env';
import { createLogger, lambdaMetrics, type PipelineMetrics } from '../shared/observability';
import type { SplitOutcome, UploadReport } from '../shared/report';
import { MetricName, settings } from '../shared/settings';
import { rejectsKey, reportKey, storeScopeOf, uploadFromS3Record, type S3EventRecordLike, type Upload } from '../shared/upload';
import type { SendBatch } from './sender';
import { openS3Rejects } from './rejects';
import { splitUpload } from './split';

export interface SplitterDependencies {
  s3: S3Client;
  sqs: SQSClient;
  workQueueUrl: string;
  /** Each upload's key names its store (`uploads/<store>/<name>.csv`); its rows may be for that store only. */
  storeScoped: boolean;
  logger: Logger;
  metrics: PipelineMetrics;
}

export function sqsSendBatch(sqs: SQSClient, queueUrl: string): SendBatch {
  return async (entries) => {
    const { Failed } = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
    return (Failed ?? []).map((entry) => ({ Id: entry.Id!, SenderFault: entry.SenderFault ?? false, Code: entry.Code, Message: entry.Message }));
  };
}

/** The S3 event records an SQS message carries; S3's own test event (sent on setup) carries none. */
function notificationRecords(record: SQSRecord): S3EventRecordLike[] {
  let notification: { Event?: string; Records?: S3EventRecordLike[] };
  try {
    notification = JSON.parse(record.body) as typeof notification;
  } catch {
    throw new Error(`upload-events message ${record.messageId} is not an S3 event notification (not JSON)`);
  }
  if (notification.Event === 's3:TestEvent') return [];
  if (!Array.isArray(notification.Records)) {
    throw new Error(`upload-events message ${record.messageId} is not an S3 event notification (no Records)`);
  }
  return notification.Records.filter((r) => r.eventName === undefined || r.eventName.startsWith('ObjectCreated'));
}

function isSqsEvent(event: SQSEvent | S3Event): event is SQSEvent {
  return (event.Records[0] as { eventSource?: string } | undefined)?.eventSource === 'aws:sqs';
}

function statusOf(error: unknown): number | undefined {
  return error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
}

/** An upload that fails as a whole before a byte of it is read. */
function failedBeforeReading(reason: string): SplitOutcome {
  return { status: 'failed', reason, rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, messages: 0 };
}

export function createSplitterHandler(deps: SplitterDependencies) {
  const { s3, logger, metrics } = deps;
  const sendBatch = sqsSendBatch(deps.sqs, deps.workQueueUrl);

  /**
   * The announced object's bytes; undefined when it no longer exists as announced (skipped); or,
   * for an object no retry can read, the failed outcome to file as its receipt.
   */
  async function openUpload(upload: Upload): Promise<{ body: Readable } | { unreadable: SplitOutcome } | undefined> {
    // Read exactly the object this event announced: its version, or its content while unchanged.
    const selector = upload.versionId ? { VersionId: upload.versionId } : upload.etag ? { IfMatch: `"${upload.etag}"` } : {};
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: upload.bucket, Key: upload.key, ...selector }));
      return { body: object.Body as Readable };
    } catch (error) {
      const status = statusOf(error);
      // The object was overwritten or deleted since this event: the newer upload's own event carries
      // its content, and an older content version must not be applied with this event's stamp.
      if (status === 412 || status === 404) {
        logger.warn('upload no longer exists as announced; skipped', { upload: upload.key, etag: upload.etag, status });
        return undefined;
      }
      if (error instanceof InvalidObjectState) {
        return {
          unreadable: failedBeforeReading(
            `the object is archived (storage class ${error.StorageClass ?? 'unknown'}) and cannot be read until it is restored; upload it again once restored`,
          ),
        };
      }
      throw error;
    }
  }

  /** Splits an open upload, streaming its rejected rows next to it. */
  async function split(upload: Upload, input: Readable, scope: StoreScope | undefined): Promise<SplitOutcome> {
    const rejects = openS3Rejects(s3, upload.bucket, rejectsKey(upload.key));
    try {
      const outcome = await splitUpload({ upload, input, sendBatch, rejects: rejects.writer, scope });
      await rejects.finish();
      return outcome;
    } catch (error) {
      input.destroy();
      await rejects.abort().catch(() => undefined);
      throw error;
    }
  }

  /** What splitting the upload came to; undefined when it no longer exists as announced (skipped). */
  async function outcomeOf(upload: Upload): Promise<SplitOutcome | undefined> {
    const scope = deps.storeScoped ? storeScopeOf(upload.key) : undefined;
    // A key that names no store fails the same way however often it is read: no need to read it.
    if (scope !== undefined && 'reason' in scope) return failedBeforeReading(scope.reason);
    const opened = await openUpload(upload);
    if (opened === undefined) return undefined;
    return 'body' in opened ? split(upload, opened.body, scope) : opened.unreadable;
  }

  /**
   * One upload, to its receipt. Failure classification: whatever re-reading the same object would
   * repeat (a file that is not usable CSV, corrupt or truncated gzip, an archived object, a
   * store-scoped key that names no store) is a `failed` outcome — the receipt says why, the event is
   * done, nothing is retried or dead-lettered. What is thrown (S3 or SQS errors the SDK's own retries
   * did not overcome, timeouts) is transient: the event goes back to the queue and the whole upload
   * is read again.
   */
  async function processUpload(upload: Upload): Promise<void> {
    const startedAt = new Date();
    const outcome = await outcomeOf(upload);
    if (outcome === undefined) return;
    const { bucket, key, etag, versionId, eventTime, stamp } = upload;
    const report: UploadReport = {
      upload: { bucket, key, etag, versionId, eventTime, stamp },
      ...outcome,
      rejectsKey: rejectsKey(upload.key),
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
    };
    await s3.send(
      new PutObjectCommand({
        Bucket: upload.bucket,
        Key: reportKey(upload.key),
        Body: `${JSON.stringify(report, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    );
    metrics.add(outcome.status === 'failed' ? MetricName.UploadsFailed : MetricName.UploadsProcessed, 1);
    metrics.add(MetricName.RowsRead, outcome.rowsRead);
    metrics.add(MetricName.RowsRejected, outcome.rowsRejected);
    metrics.add(MetricName.MessagesSent, outcome.messages);
    const summary = { upload: upload.key, ...outcome, ms: Date.now() - startedAt.getTime() };
    if (outcome.status === 'failed') logger.error('upload failed as a whole', summary);
    else logger.info('upload split', summary);
  }

  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = async (record: SQSRecord): Promise<void> => {
    for (const s3Record of notificationRecords(record)) await processUpload(uploadFromS3Record(s3Record));
  };

  return async (event: SQSEvent | S3Event, context: Context) => {
    logger.addContext(context);
    try {
      if (isSqsEvent(event)) return await processPartialResponse(event, recordHandler, processor, { context, throwOnFullBatchFailure: false });
      // Wired directly to S3 (no queue): every record of the event, failing the invocation on error.
      for (const record of event.Records) await processUpload(uploadFromS3Record(record));
      return undefined;
    } finally {
      metrics.publish();
    }
  };
}

let lambdaHandler: ReturnType<typeof createSplitterHandler> | undefined;

/** The Lambda entry point; configured from the environment the CDK stack sets. */
export const handler = (event: SQSEvent | S3Event, context: Context) => {
  lambdaHandler ??= createSplitterHandler({
    ...createAwsClients(),
    workQueueUrl: requireEnv(settings.env.workQueueUrl),
    storeScoped: storeScopedUploadsFromEnv(),
    logger: createLogger('splitter'),
    metrics: lambdaMetrics(),
  });
  return lambdaHandler(event, context);
};
