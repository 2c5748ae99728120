/**
 * `inventory status`: did every upload finish, and what is stuck? Read from what the pipeline
 * leaves behind — the splitter's receipts (`reports/<name>.json`), the uploads that have none yet,
 * the upload events dead-lettered before any receipt was written — and from the queues.
 *
 * It only reads. The one look that is not a plain read, at the upload-events dead-letter queue to
 * learn which uploads its messages announce, hides them for a moment and hands them straight back.
 */
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { clientConfig, createAwsClients, destroyAwsClients, localEndpointCredentials, type AwsClients, type AwsOptions } from '../shared/aws';
import { createLimiter } from '../shared/concurrency';
import type { UploadReport } from '../shared/report';
import { resourceNames, settings } from '../shared/settings';
import { readStackOutputs, stackName, StackOutput } from '../shared/stack';
import { decodeS3Key } from '../shared/upload';
import { textTable } from './text-table';

export type UploadState = 'processed' | 'failed' | 'in-progress';

export interface UploadStatus {
  /** The key below `uploads/`. */
  file: string;
  key: string;
  status: UploadState;
  /** From the receipt; null while there is none. */
  rowsRead: number | null;
  rowsAccepted: number | null;
  rowsRejected: number | null;
  messages: number | null;
  /** Why the upload failed (only when it did). */
  reason?: string;
  uploadedAt: string;
  /** When the splitter filed the receipt; null while there is none. */
  finishedAt: string | null;
}

export type SourceQueue = 'upload-events' | 'rows';
export type DeadLetterQueue = SourceQueue | 'alerts';

export interface QueueState {
  /** Messages available to the consumer. */
  waiting: number;
  /** Received by a consumer and not yet deleted (being processed, or waiting out a visibility timeout). */
  inFlight: number;
  /** CloudWatch's ApproximateAgeOfOldestMessage (latest minute); null where the endpoint reports none. */
  oldestMessageAgeSeconds: number | null;
}

export interface StatusDocument {
  /** Where the pipeline was read: a local endpoint, or a deployed stack. */
  source: { endpoint?: string; stack?: string; region?: string; stage: string; bucket: string };
  /** Uploads (and receipts) from this time on are shown. */
  since: string;
  summary: { uploads: number; processed: number; failed: number; inProgress: number };
  uploads: UploadStatus[];
  queues: Record<SourceQueue, QueueState>;
  /** Messages in each dead-letter queue. */
  deadLetters: Record<DeadLetterQueue, number>;
}

/** A pipeline that is not where the options say: one sentence to act on (exit status 2). */
export class StatusSetupError extends Error {
  override name = 'StatusSetupError';
}

// ---- the pure core -------------------------------------------------------------------------

const durationUnits: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `24h`, `90m`, `7d`, `30s` → milliseconds; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)([smhd])$/.exec(text.trim());
  if (!match) return undefined;
  const ms = Number(match[1]) * durationUnits[match[2]!]!;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : undefined;
}

/** An object under `uploads/` as S3 lists it. */
export interface ListedUpload {
  key: string;
  lastModified: Date;
  /** As S3 lists it, quoted. */
  etag?: string;
}

/** An upload event in the upload-events dead-letter queue: the splitter gave up on it. */
export interface DeadLetteredUpload {
  key: string;
  etag?: string;
}

const unquoted = (etag: string | undefined) => etag?.replace(/"/g, '');
const fileOf = (key: string) => (key.startsWith(settings.uploads.prefix) ? key.slice(settings.uploads.prefix.length) : key);
const isUpload = (key: string) => key.startsWith(settings.uploads.prefix) && settings.uploads.suffixes.some((suffix) => key.toLowerCase().endsWith(suffix));

function fromReceipt(receipt: UploadReport): UploadStatus {
  return {
    file: fileOf(receipt.upload.key),
    key: receipt.upload.key,
    status: receipt.status,
    rowsRead: receipt.rowsRead,
    rowsAccepted: receipt.rowsAccepted,
    rowsRejected: receipt.rowsRejected,
    messages: receipt.messages,
    ...(receipt.status === 'failed' ? { reason: receipt.reason ?? 'the splitter gave no reason' } : {}),
    uploadedAt: receipt.upload.eventTime,
    finishedAt: receipt.finishedAt,
  };
}

const stateOrder: Record<UploadState, number> = { failed: 0, 'in-progress': 1, processed: 2 };

/** Failed first, then in progress, then processed; each in upload order. */
export function byAttention(a: UploadStatus, b: UploadStatus): number {
  return stateOrder[a.status] - stateOrder[b.status] || a.uploadedAt.localeCompare(b.uploadedAt) || a.key.localeCompare(b.key);
}

/**
 * One status per upload key, for the uploads and receipts since `since`: the receipt's account
 * when it is for the object now under the key (same ETag); otherwise the upload is newer than any
 * receipt — failed if its event was dead-lettered, else in progress.
 */
export function uploadStatuses(input: {
  uploads: readonly ListedUpload[];
  receipts: readonly UploadReport[];
  deadLettered: readonly DeadLetteredUpload[];
  since: Date;
}): UploadStatus[] {
  const receipts = new Map<string, UploadReport>();
  for (const receipt of input.receipts) {
    const known = receipts.get(receipt.upload.key);
    if (!known || known.finishedAt < receipt.finishedAt) receipts.set(receipt.upload.key, receipt);
  }
  const statuses = new Map<string, UploadStatus>();
  for (const receipt of receipts.values()) {
    if (new Date(receipt.finishedAt) >= input.since) statuses.set(receipt.upload.key, fromReceipt(receipt));
  }
  for (const upload of input.uploads) {
    if (!isUpload(upload.key)) continue;
    const receipt = receipts.get(upload.key);
    const etag = unquoted(upload.etag);
    if (receipt && (receipt.upload.etag === undefined || etag === undefined || receipt.upload.etag === etag)) continue;
    if (upload.lastModified < input.since) continue;
    const deadLettered = input.deadLettered.some((event) => event.key === upload.key && (event.etag === undefined || etag === undefined || event.etag === etag));
    statuses.set(upload.key, {
      file: fileOf(upload.key),
      key: upload.key,
      status: deadLettered ? 'failed' : 'in-progress',
      rowsRead: null,
      rowsAccepted: null,
      rowsRejected: null,
      messages: null,
      ...(deadLettered
        ? {
            reason:
              `its upload event is in the upload-events dead-letter queue: the splitter failed on it ${settings.queues.maxReceiveCount} times ` +
              'without filing a receipt (see its logs); once the cause is fixed, `inventory redrive --queue upload-events` retries it',
          }
        : {}),
      uploadedAt: upload.lastModified.toISOString(),
      finishedAt: null,
    });
  }
  return [...statuses.values()].sort(byAttention);
}

export function summarizeStatuses(uploads: readonly UploadStatus[]): StatusDocument['summary'] {
  const count = (state: UploadState) => uploads.filter((upload) => upload.status === state).length;
  return { uploads: uploads.length, processed: count('processed'), failed: count('failed'), inProgress: count('in-progress') };
}

/** 0 when no upload failed and every dead-letter queue is empty; 1 otherwise. */
export function statusExitCode(document: StatusDocument): number {
  const deadLetters = Object.values(document.deadLetters).reduce((a, b) => a + b, 0);
  return document.summary.failed === 0 && deadLetters === 0 ? 0 : 1;
}

const shown = (value: number | null) => (value === null ? '–' : String(value));
/** `2026-12-01T23:04:05.678Z` → `2026-12-01 23:04:05` (UTC, as S3 and the receipts record it). */
const shownTime = (iso: string | null) => (iso === null ? '–' : iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ''));
const shownAge = (seconds: number | null) => (seconds === null ? 'oldest –' : `oldest ${seconds} s`);

export function renderStatus(document: StatusDocument): string {
  const { source, summary } = document;
  const where = source.stack ? `stack ${source.stack} (${source.region})` : `${source.endpoint} (stage ${source.stage})`;
  const lines = [`Uploads to s3://${source.bucket}/${settings.uploads.prefix} on ${where} since ${shownTime(document.since)} UTC:`, ''];
  if (document.uploads.length === 0) lines.push('  none');
  else {
    const header = ['file', 'status', 'read', 'accepted', 'rejected', 'messages', 'uploaded (UTC)', 'finished (UTC)'];
    const rows = document.uploads.map((u) => [
      u.file,
      u.status,
      shown(u.rowsRead),
      shown(u.rowsAccepted),
      shown(u.rowsRejected),
      shown(u.messages),
      shownTime(u.uploadedAt),
      shownTime(u.finishedAt),
    ]);
    lines.push(textTable([header, ...rows]));
  }
  lines.push('', `${summary.uploads} upload(s): ${summary.failed} failed, ${summary.inProgress} in progress, ${summary.processed} processed.`);
  const failed = document.uploads.filter((u) => u.status === 'failed');
  if (failed.length > 0) {
    lines.push('', 'Failed (nothing from them was applied):');
    for (const upload of failed) lines.push(`  ${upload.file}: ${upload.reason}`);
  }
  const queue = (name: SourceQueue) => {
    const state = document.queues[name];
    return `${name} ${state.waiting} waiting, ${state.inFlight} in flight, ${shownAge(state.oldestMessageAgeSeconds)}`;
  };
  const { deadLetters } = document;
  lines.push(
    '',
    `Queues:        ${queue('upload-events')}; ${queue('rows')}`,
    `Dead letters:  upload-events ${deadLetters['upload-events']}, rows ${deadLetters.rows}, alerts ${deadLetters.alerts}` +
      (Object.values(deadLetters).some((count) => count > 0) ? '  (inspect them, fix the cause, then `inventory redrive`)' : ''),
  );
  return `${lines.join('\n')}\n`;
}

// ---- reading the pipeline ------------------------------------------------------------------

export interface PipelineLocation {
  source: Omit<StatusDocument['source'], 'bucket'>;
  bucket: string;
  queues: Record<SourceQueue, string>;
  deadLetterQueues: Record<DeadLetterQueue, string>;
}

async function locateOnEndpoint(sqs: SQSClient, endpoint: string, stage: string): Promise<PipelineLocation> {
  const names = resourceNames(stage);
  const urlOf = async (name: string) => {
    try {
      return (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
    } catch (error) {
      if (!(error instanceof QueueDoesNotExist)) throw error;
      throw new StatusSetupError(
        `there is no inventory pipeline (stage ${stage}) at ${endpoint}: its queue ${name} does not exist (\`inventory local --endpoint ${endpoint}\` creates them)`,
      );
    }
  };
  return {
    source: { endpoint, stage },
    bucket: names.bucket,
    queues: { 'upload-events': await urlOf(names.uploadQueue), rows: await urlOf(names.workQueue) },
    deadLetterQueues: {
      'upload-events': await urlOf(names.uploadDeadLetterQueue),
      rows: await urlOf(names.deadLetterQueue),
      alerts: await urlOf(names.alertDeadLetterQueue),
    },
  };
}

async function locateStack(stage: string, options: AwsOptions): Promise<PipelineLocation> {
  const outputs = await readStackOutputs(stackName(stage), options);
  return {
    source: { stack: outputs.stack, region: outputs.region, stage },
    bucket: outputs.required(StackOutput.UploadsBucketName),
    queues: { 'upload-events': outputs.required(StackOutput.UploadEventsQueueUrl), rows: outputs.required(StackOutput.RowsQueueUrl) },
    deadLetterQueues: {
      'upload-events': outputs.required(StackOutput.UploadEventsDeadLetterQueueUrl),
      rows: outputs.required(StackOutput.RowsDeadLetterQueueUrl),
      alerts: outputs.required(StackOutput.AlertsDeadLetterQueueUrl),
    },
  };
}

async function listObjects(s3: S3Client, bucket: string, prefix: string): Promise<ListedUpload[]> {
  const objects: ListedUpload[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      objects.push({ key: object.Key!, lastModified: object.LastModified!, ...(object.ETag ? { etag: object.ETag } : {}) });
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return objects;
}

/** Receipts fetched at once: a night of a thousand stores is a thousand small GETs. */
const receiptReads = 16;

async function readReceipts(s3: S3Client, bucket: string, keys: readonly string[]): Promise<UploadReport[]> {
  const limit = createLimiter(receiptReads);
  return Promise.all(
    keys.map((key) =>
      limit(async () => {
        const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return JSON.parse(await object.Body!.transformToString('utf8')) as UploadReport;
      }),
    ),
  );
}

async function queueDepths(sqs: SQSClient, url: string): Promise<{ waiting: number; inFlight: number }> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { waiting: Number(Attributes.ApproximateNumberOfMessages ?? 0), inFlight: Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) };
}

/**
 * SQS itself does not tell a message's age; CloudWatch's AWS/SQS ApproximateAgeOfOldestMessage
 * does, once a minute. An endpoint without those metrics (a local one) has no datapoints: null.
 */
async function oldestMessageAge(cloudWatch: CloudWatchClient, queueUrl: string, now: Date): Promise<number | null> {
  const queueName = queueUrl.slice(queueUrl.lastIndexOf('/') + 1);
  const { MetricDataResults = [] } = await cloudWatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(now.getTime() - 15 * 60_000),
      EndTime: now,
      ScanBy: 'TimestampDescending',
      MetricDataQueries: [
        {
          Id: 'age',
          MetricStat: {
            Metric: { Namespace: 'AWS/SQS', MetricName: 'ApproximateAgeOfOldestMessage', Dimensions: [{ Name: 'QueueName', Value: queueName }] },
            Period: 60,
            Stat: 'Maximum',
          },
        },
      ],
    }),
  );
  const latest = MetricDataResults[0]?.Values?.[0];
  return latest === undefined ? null : Math.round(latest);
}

/** The longest a dead-lettered message is hidden while its upload is read from it. */
const peekSeconds = 30;
/** Enough to name the uploads of a bad night; beyond it, the queue's count still tells. */
const maxPeeked = 100;

/**
 * Which uploads the upload-events dead-letter queue announces. Messages are received (hidden for
 * at most `peekSeconds`, so each is seen once) and made visible again at once.
 */
async function deadLetteredUploads(sqs: SQSClient, url: string, expected: number): Promise<DeadLetteredUpload[]> {
  if (expected === 0) return [];
  const received: Message[] = [];
  try {
    while (received.length < Math.min(expected, maxPeeked)) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: peekSeconds, WaitTimeSeconds: 1 }),
      );
      if (Messages.length === 0) break;
      received.push(...Messages);
    }
  } finally {
    for (let start = 0; start < received.length; start += 10) {
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: received.slice(start, start + 10).map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 })),
        }),
      );
    }
  }
  return received.flatMap((message) => {
    try {
      const notification = JSON.parse(message.Body ?? '') as { Records?: { s3?: { object?: { key?: string; eTag?: string } } }[] };
      return (notification.Records ?? []).flatMap((record) =>
        record.s3?.object?.key ? [{ key: decodeS3Key(record.s3.object.key), ...(record.s3.object.eTag ? { etag: record.s3.object.eTag } : {}) }] : [],
      );
    } catch {
      return []; // not an S3 notification: counted in the queue's depth, names no upload
    }
  });
}

export interface StatusOptions {
  stage?: string;
  endpoint?: string;
  /** How far back to look, in milliseconds. */
  sinceMs: number;
  now?: Date;
}

export async function readStatus(options: StatusOptions): Promise<StatusDocument> {
  const stage = options.stage ?? (options.endpoint ? settings.stage.local : settings.stage.default);
  const awsOptions: AwsOptions = options.endpoint ? { endpoint: options.endpoint, credentials: localEndpointCredentials() } : {};
  const clients: AwsClients = createAwsClients(awsOptions);
  const cloudWatch = new CloudWatchClient(clientConfig(awsOptions));
  try {
    const location = options.endpoint ? await locateOnEndpoint(clients.sqs, options.endpoint, stage) : await locateStack(stage, awsOptions);
    const now = options.now ?? new Date();
    const since = new Date(now.getTime() - options.sinceMs);
    const sourceQueues: SourceQueue[] = ['upload-events', 'rows'];
    const deadLetterQueues: DeadLetterQueue[] = ['upload-events', 'rows', 'alerts'];

    const [uploads, reports, queueStates, deadLetterDepths] = await Promise.all([
      listObjects(clients.s3, location.bucket, settings.uploads.prefix),
      listObjects(clients.s3, location.bucket, settings.uploads.reportsPrefix),
      Promise.all(
        sourceQueues.map(async (queue) => ({
          ...(await queueDepths(clients.sqs, location.queues[queue])),
          oldestMessageAgeSeconds: await oldestMessageAge(cloudWatch, location.queues[queue], now),
        })),
      ),
      Promise.all(deadLetterQueues.map(async (queue) => queueDepths(clients.sqs, location.deadLetterQueues[queue]))),
    ]);
    const deadLetters = Object.fromEntries(deadLetterQueues.map((queue, index) => [queue, deadLetterDepths[index]!.waiting + deadLetterDepths[index]!.inFlight])) as Record<
      DeadLetterQueue,
      number
    >;
    // A receipt is filed after its upload, so one older than `since` is for an older upload.
    const receipts = await readReceipts(
      clients.s3,
      location.bucket,
      reports.filter((report) => report.lastModified >= since).map((report) => report.key),
    );
    const deadLettered = await deadLetteredUploads(clients.sqs, location.deadLetterQueues['upload-events'], deadLetters['upload-events']);
    const statuses = uploadStatuses({ uploads, receipts, deadLettered, since });
    return {
      source: { ...location.source, bucket: location.bucket },
      since: since.toISOString(),
      summary: summarizeStatuses(statuses),
      uploads: statuses,
      queues: Object.fromEntries(sourceQueues.map((queue, index) => [queue, queueStates[index]!])) as Record<SourceQueue, QueueState>,
      deadLetters,
    };
  } finally {
    cloudWatch.destroy();
    destroyAwsClients(clients);
  }
}

export async function runStatus(options: StatusOptions & { json?: boolean }): Promise<number> {
  const document = await readStatus(options);
  process.stdout.write(options.json ? `${JSON.stringify(document, null, 2)}\n` : renderStatus(document));
  return statusExitCode(document);
}
