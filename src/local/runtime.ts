/**
 * The local runtime: the real handlers, end to end, against a local AWS (a moto server it starts,
 * or any AWS-compatible endpoint). It plays Lambda's part — S3 notification → splitter, SQS →
 * writer, stream → alerter — and reads back what a user would look at: the upload's receipt, its
 * rejected rows and the alerts that reached a queue subscribed to the topic.
 *
 * Files are processed one after another; each is fully processed (queues and stream drained)
 * before the next is uploaded.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Console } from 'node:console';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { Upload as S3Upload } from '@aws-sdk/lib-storage';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Context, SQSEvent } from 'aws-lambda';
import { createAlerterHandler } from '../alerter/handler';
import { sqsParking } from '../alerter/parking';
import { snsPublishBatch } from '../alerter/publisher';
import { createAwsClients, destroyAwsClients, localEndpointCredentials, type AwsClients } from '../shared/aws';
import { CountingMetrics } from '../shared/observability';
import type { InventoryItem } from '../shared/item';
import type { UploadReport } from '../shared/report';
import { concurrencyBudget, MetricName, settings } from '../shared/settings';
import { decodeS3Key, reportKey } from '../shared/upload';
import { createSplitterHandler } from '../splitter/handler';
import { DynamoInventoryTable } from '../writer/dynamodb-table';
import { createWriterHandler } from '../writer/handler';
import { sqsRowsQueue } from '../writer/rows-queue';
import { DynamoStreamEventSource, SqsEventSource } from './event-sources';
import { batchIdentity, FaultInjector, noFaults, type FaultSpec } from './faults';
import { startMoto, type MotoServer } from './moto';
import { oneRequestAtATime } from './serialize';
import { ensureResources, type LocalResources } from './resources';

export interface LocalPipelineOptions {
  /** An AWS-compatible endpoint to use; without one a fresh moto server is started (and stopped). */
  endpoint?: string;
  /** Threshold for items no row gave one (default: settings.inventory.defaultThreshold). */
  defaultThreshold?: number;
  stage?: string;
  /** Handler log level (Powertools); logs go to stderr. Default SILENT. */
  logLevel?: string;
  /** How soon a failed message is retried (on AWS: the queue's visibility timeout). */
  retryDelaySeconds?: number;
  /** Concurrent writer invocations. */
  writerConcurrency?: number;
  /** Faults to inject below the handlers (`--faults`); none by default. */
  faults?: FaultSpec;
  onInvoke?: InvocationObserver;
}

export interface CapturedAlert {
  alertId: string;
  type: 'LOW_STOCK' | 'RESTOCKED';
  store: string;
  product: string;
  count: number;
  previousCount: number | null;
  threshold: number;
  time: string;
  upload: string | null;
  line: number | null;
  subject: string;
  /** The SNS message attributes subscribers can filter on. */
  attributes: Record<string, string>;
}

export interface RejectedLine {
  line: number;
  reason: string;
}

/** What the pipeline did during one file or one drain. */
export interface Activity {
  rowsRead: number;
  rowsRejected: number;
  rowsApplied: number;
  rowsSkipped: number;
  /** Messages that reached a dead-letter queue meanwhile. */
  deadLettered: number;
  /** Alerts that reached the topic meanwhile, one per alertId, in store and product order. */
  alerts: CapturedAlert[];
  /** Repeated deliveries of those alerts (same alertId), which a subscriber ignores. */
  duplicateAlerts: number;
}

export interface FileOutcome extends Activity {
  file: string;
  path: string;
  key: string;
  status: 'processed' | 'failed';
  reason?: string;
  seconds: number;
  rejects: RejectedLine[];
}

export type FunctionName = 'splitter' | 'writer' | 'alerter';

/** Called with every event a function is invoked with (tests use it to capture and replay). */
export type InvocationObserver = (functionName: FunctionName, event: unknown) => void;

export interface FileProgress {
  file: string;
  rowsDone: number;
  /** An estimate from the file's line count. */
  rowsTotal: number;
}

/**
 * Invocations get this many times their function's timeout (the Lambda context's remaining time).
 * moto applies one write at a time, tens of times slower than DynamoDB takes a writer's 8 in
 * flight, so a batch that takes the writer seconds on AWS takes minutes here; with Lambda's own
 * 60 s the writer's time budget would run out and defer rows only because the local AWS is slow.
 */
const localTimeScale = 20;

/** Orders by store, then product (a stable sort keeps one item's alerts in arrival order). */
function byItem(a: { store: string; product: string }, b: { store: string; product: string }): number {
  if (a.store !== b.store) return a.store < b.store ? -1 : 1;
  return a.product < b.product ? -1 : a.product > b.product ? 1 : 0;
}

/** Handler logs go to stderr: stdout belongs to the CLI's output (its --json document above all). */
function localLogger(component: string, level: string): Logger {
  const logger = new Logger({ serviceName: settings.observability.serviceName, logLevel: level as never, persistentKeys: { component } });
  (logger as unknown as { console: Console }).console = new Console({ stdout: process.stderr, stderr: process.stderr });
  return logger;
}

function uploadKeyFor(path: string): string {
  const name = basename(path);
  const accepted = settings.uploads.suffixes.some((suffix) => name.toLowerCase().endsWith(suffix));
  // The bucket notification only announces accepted suffixes; anything else is uploaded as CSV.
  return `${settings.uploads.prefix}${accepted ? name : `${name}.csv`}`;
}

async function countLines(path: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1;
  }
  return lines;
}

async function readObject(s3: S3Client, bucket: string, key: string): Promise<string | undefined> {
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return await object.Body!.transformToString('utf8');
  } catch (error) {
    if (error instanceof NoSuchKey) return undefined;
    throw error;
  }
}

export class LocalPipeline {
  readonly metrics = new CountingMetrics();
  readonly faults: FaultInjector;
  private rowsWritten = 0;
  private readonly captured = new Map<string, CapturedAlert>();
  private duplicateAlerts = 0;
  private readonly announced = new Set<string>();
  private readonly uploads: SqsEventSource;
  private readonly rows: SqsEventSource;
  private readonly stream: DynamoStreamEventSource;

  private constructor(
    readonly endpoint: string,
    readonly clients: AwsClients,
    /** The writer's: its table client makes as few SDK attempts as on Lambda (settings.writer.backPressure). */
    private readonly writerClients: AwsClients,
    readonly resources: LocalResources,
    private readonly moto: MotoServer | undefined,
    options: LocalPipelineOptions,
  ) {
    const logLevel = options.logLevel ?? 'SILENT';
    const retryDelaySeconds = options.retryDelaySeconds ?? 1;
    const defaultThreshold = options.defaultThreshold ?? settings.inventory.defaultThreshold;
    const faults = (this.faults = new FaultInjector(options.faults ?? noFaults));
    for (const client of [clients.s3, clients.sqs, clients.sns, writerClients.dynamodb]) faults.crashableCalls(client);
    faults.throttleUpdates(writerClients.dynamodb);
    faults.failPublishes(clients.sns);
    const splitter = createSplitterHandler({
      s3: clients.s3,
      sqs: clients.sqs,
      workQueueUrl: resources.workQueueUrl,
      logger: localLogger('splitter', logLevel),
      metrics: this.metrics,
    });
    const table = new DynamoInventoryTable(writerClients.documents, resources.table, defaultThreshold);
    const rowsQueue = sqsRowsQueue(clients.sqs, resources.workQueueUrl);
    const writer = createWriterHandler({
      // Counted as each row is written, so a progress bar moves within a long invocation.
      table: {
        applyRow: (row) => table.applyRow(row).then((applied) => ((this.rowsWritten += 1), applied)),
        applyThreshold: (row) => table.applyThreshold(row),
      },
      // The local runtime's one difference in timing: what waits for minutes on AWS (a deferred
      // batch's delay, a failed message's growing visibility timeout) waits `retryDelaySeconds`.
      rowsQueue: {
        sendLater: (body, delaySeconds) => rowsQueue.sendLater(body, Math.min(delaySeconds, retryDelaySeconds)),
        retryAfter: (receiptHandle, seconds) => rowsQueue.retryAfter(receiptHandle, Math.min(seconds, retryDelaySeconds)),
      },
      logger: localLogger('writer', logLevel),
      metrics: this.metrics,
    });
    const alerter = createAlerterHandler({
      publishBatch: snsPublishBatch(clients.sns, resources.topicArn),
      park: sqsParking(clients.sqs, resources.alertDeadLetterQueueUrl),
      defaultThreshold,
      logger: localLogger('alerter', logLevel),
      metrics: this.metrics,
    });
    // Every invocation is shown to the observer first (tests capture events to replay them).
    const observed =
      <E, R>(name: FunctionName, handler: (event: E, context: Context) => Promise<R>) =>
      (event: E, context: Context): Promise<R> => {
        options.onInvoke?.(name, event);
        return faults.invoke(name, batchIdentity(event as { Records: unknown[] }), () => handler(event, context));
      };
    this.uploads = new SqsEventSource(
      clients.sqs,
      { url: resources.uploadQueueUrl, arn: resources.uploadQueueArn },
      {
        name: 'splitter',
        timeoutSeconds: settings.splitter.timeoutSeconds * localTimeScale,
        handler: observed('splitter', (event: SQSEvent, context) => {
          this.noteAnnouncements(event);
          return splitter(event, context);
        }),
      },
      { batchSize: settings.splitter.batchSize, concurrency: 1, retryDelaySeconds, duplicates: (m) => faults.duplicates('upload-events', m) },
    );
    this.rows = new SqsEventSource(
      clients.sqs,
      { url: resources.workQueueUrl, arn: resources.workQueueArn },
      { name: 'writer', timeoutSeconds: settings.writer.timeoutSeconds * localTimeScale, handler: observed('writer', writer) },
      {
        batchSize: settings.writer.batchSize,
        concurrency: options.writerConcurrency ?? Math.min(concurrencyBudget().writer, 4),
        retryDelaySeconds,
        duplicates: (m) => faults.duplicates('rows', m),
      },
    );
    this.stream = new DynamoStreamEventSource(
      clients.streams,
      clients.sqs,
      resources.streamArn,
      { name: 'alerter', timeoutSeconds: settings.alerter.timeoutSeconds * localTimeScale, handler: observed('alerter', alerter) },
      { batchSize: settings.alerter.batchSize, retryAttempts: settings.alerter.retryAttempts, onFailureQueueUrl: resources.alertDeadLetterQueueUrl },
    );
  }

  static async start(options: LocalPipelineOptions = {}): Promise<LocalPipeline> {
    const moto = options.endpoint ? undefined : await startMoto();
    const endpoint = options.endpoint ?? moto!.endpoint;
    try {
      const credentials = localEndpointCredentials();
      const clients = createAwsClients({ endpoint, credentials });
      oneRequestAtATime(clients.sqs);
      const writerClients = createAwsClients({ endpoint, credentials, maxAttempts: settings.writer.backPressure.sdkMaxAttempts });
      oneRequestAtATime(writerClients.dynamodb);
      const resources = await ensureResources(clients, options.stage ?? settings.stage.local);
      const pipeline = new LocalPipeline(endpoint, clients, writerClients, resources, moto, options);
      // Alerts left over from an earlier run against the same endpoint are not this run's. (Not
      // PurgeQueue: SQS allows one purge a minute, and runs can follow each other faster.)
      await pipeline.captureAlerts();
      pipeline.takeAlerts();
      await pipeline.stream.startAtLatest();
      return pipeline;
    } catch (error) {
      await moto?.stop();
      throw error;
    }
  }

  async close(): Promise<void> {
    destroyAwsClients(this.clients);
    destroyAwsClients(this.writerClients);
    await this.moto?.stop();
  }

  private noteAnnouncements(event: SQSEvent): void {
    for (const record of event.Records) {
      try {
        const notification = JSON.parse(record.body) as { Records?: { s3?: { object?: { key?: string } } }[] };
        for (const r of notification.Records ?? []) if (r.s3?.object?.key) this.announced.add(decodeS3Key(r.s3.object.key));
      } catch {
        // Not a notification: the splitter reports it; nothing to note.
      }
    }
  }

  private async deadLetterDepth(): Promise<number> {
    const urls = [this.resources.uploadDeadLetterQueueUrl, this.resources.deadLetterQueueUrl, this.resources.alertDeadLetterQueueUrl];
    const depths = await Promise.all(
      urls.map(async (url) => {
        const { Attributes = {} } = await this.clients.sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
        );
        return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
      }),
    );
    return depths.reduce((a, b) => a + b, 0);
  }

  /**
   * Takes every alert that reached the capture queue so far into `captured`. Like any subscriber,
   * it keeps one alert per alertId: delivery is at least once (a retried publish or stream batch
   * sends the same alert again), and the alertId is what makes a repeat recognisable.
   */
  private async captureAlerts(): Promise<void> {
    for (;;) {
      const { Messages = [] } = await this.clients.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.resources.alertCaptureQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      if (Messages.length === 0) return;
      for (const message of Messages) {
        const envelope = JSON.parse(message.Body!) as {
          Message: string;
          Subject?: string;
          MessageAttributes?: Record<string, { Value: string }>;
        };
        const alert: CapturedAlert = {
          ...(JSON.parse(envelope.Message) as Omit<CapturedAlert, 'subject' | 'attributes'>),
          subject: envelope.Subject ?? '',
          attributes: Object.fromEntries(Object.entries(envelope.MessageAttributes ?? {}).map(([k, v]) => [k, v.Value])),
        };
        if (this.captured.has(alert.alertId)) this.duplicateAlerts += 1;
        else this.captured.set(alert.alertId, alert);
      }
      await this.clients.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.resources.alertCaptureQueueUrl,
          Entries: Messages.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
  }

  /** The alerts captured since the last call, in store and product order. */
  private takeAlerts(): { alerts: CapturedAlert[]; duplicateAlerts: number } {
    const taken = { alerts: [...this.captured.values()].sort(byItem), duplicateAlerts: this.duplicateAlerts };
    this.captured.clear();
    this.duplicateAlerts = 0;
    return taken;
  }

  private async rejectsOf(report: UploadReport): Promise<RejectedLine[]> {
    if (report.rowsRejected === 0) return [];
    const text = await readObject(this.clients.s3, this.resources.bucket, report.rejectsKey);
    if (text === undefined) return [];
    const records = parseCsv(text, { from_line: 2 }) as string[][];
    return records.map(([line, reason]) => ({ line: Number(line), reason: reason ?? '' }));
  }

  /** Counters, dead letters and alerts of everything the pipeline did while `work` ran. */
  private async measure(work: () => Promise<void>): Promise<Activity> {
    const before = new Map(this.metrics.totals);
    const delta = (name: MetricName) => this.metrics.get(name) - (before.get(name) ?? 0);
    const deadLetteredBefore = await this.deadLetterDepth();
    await work();
    return {
      rowsRead: delta(MetricName.RowsRead),
      rowsRejected: delta(MetricName.RowsRejected),
      rowsApplied: delta(MetricName.RowsApplied),
      rowsSkipped: delta(MetricName.RowsSkipped),
      deadLettered: (await this.deadLetterDepth()) - deadLetteredBefore,
      ...this.takeAlerts(),
    };
  }

  /** Runs the event sources until the upload queue, the work queue and the stream are all drained. */
  private async drainAll(uploadsAnnounced: () => boolean): Promise<void> {
    let splitterDone = false;
    let writerDone = false;
    let alerterDone = false;
    let wakeCapture = () => {};
    await Promise.all([
      this.uploads.drain(uploadsAnnounced).finally(() => (splitterDone = true)),
      this.rows.drain(() => splitterDone).finally(() => (writerDone = true)),
      this.stream.drain(() => writerDone).finally(() => {
        alerterDone = true;
        wakeCapture();
      }),
      // Alerts are taken as they arrive (a queue left to fill up gets slow to read on moto), about
      // once a second: each look costs the local AWS a request, shared with the writes. The last
      // look comes as soon as the alerter is done, not at the end of a second's wait.
      (async () => {
        while (!alerterDone) {
          await this.captureAlerts();
          if (alerterDone) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, 1000);
            wakeCapture = () => {
              clearTimeout(timer);
              resolve();
            };
          });
        }
        await this.captureAlerts();
      })(),
    ]);
  }

  /**
   * Processes whatever is waiting in the pipeline's queues (a replayed upload event, a redriven
   * message) until everything is drained, and reports what that did.
   */
  drain(): Promise<Activity> {
    return this.measure(() => this.drainAll(() => true));
  }

  /** Every item in the table, ordered by store then product. */
  async inventory(): Promise<InventoryItem[]> {
    const items: InventoryItem[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.clients.documents.send(new ScanCommand({ TableName: this.resources.table, ExclusiveStartKey: start }));
      items.push(...((page.Items ?? []) as InventoryItem[]));
      start = page.LastEvaluatedKey;
    } while (start);
    return items.sort(byItem);
  }

  /** Uploads one file and waits until the pipeline has completely processed it. */
  async processFile(path: string, onProgress?: (progress: FileProgress) => void): Promise<FileOutcome> {
    const started = Date.now();
    const file = basename(path);
    const key = uploadKeyFor(path);
    const rowsTotal = Math.max(0, (await countLines(path)) - 1);
    let etag: string | undefined;
    const writtenBefore = this.rowsWritten;
    this.faults.startFile();
    const activity = await this.measure(async () => {
      const progress = () => onProgress?.({ file, rowsDone: Math.min(this.rowsWritten - writtenBefore, rowsTotal), rowsTotal });
      const ticker = onProgress ? setInterval(progress, 200) : undefined;
      try {
        this.announced.delete(key);
        const upload = await new S3Upload({
          client: this.clients.s3,
          params: { Bucket: this.resources.bucket, Key: key, Body: createReadStream(path), ContentType: 'text/csv' },
          partSize: 64 * 1024 * 1024,
        }).done();
        etag = upload.ETag?.replace(/"/g, '');
        const announcedBy = Date.now() + 30_000;
        await this.drainAll(() => {
          if (this.announced.has(key)) return true;
          if (Date.now() > announcedBy) throw new Error(`S3 never announced ${key}: is the bucket notification configured?`);
          return false;
        });
      } finally {
        if (ticker) clearInterval(ticker);
        progress();
      }
    });

    const reportText = await readObject(this.clients.s3, this.resources.bucket, reportKey(key));
    const report = reportText === undefined ? undefined : (JSON.parse(reportText) as UploadReport);
    const outcome: FileOutcome = { file, path, key, status: 'processed', ...activity, seconds: (Date.now() - started) / 1000, rejects: [] };
    if (report === undefined || report.upload.etag !== etag) {
      outcome.status = 'failed';
      outcome.reason = 'the splitter did not finish this upload (its event was retried and dead-lettered; see the logs with --log-level)';
    } else {
      outcome.status = report.status;
      if (report.reason !== undefined) outcome.reason = report.reason;
      // From the receipt, not the splitter's metrics: a duplicated or retried upload event makes the
      // splitter read the file again, but the file has the rows it has.
      outcome.rowsRead = report.rowsRead;
      outcome.rowsRejected = report.rowsRejected;
      outcome.rejects = await this.rejectsOf(report);
    }
    return outcome;
  }
}
