/**
 * The local runtime: the pipeline's functions, end to end, against a local AWS (a moto server it
 * starts, or any AWS-compatible endpoint). It plays Lambda's part — S3 notification → splitter, SQS
 * → writer, stream → alerter — and reads back what a user would look at: the upload's receipt, its
 * rejected rows and the alerts that reached a queue subscribed to the topic.
 *
 * One pipeline, assembled in one of two ways (a `PipelineAssembly`): from the settings module, with
 * the handlers' sources in this process (settings-pipeline.ts, `inventory local`), or from a cloud
 * assembly, with the bundled functions in processes of their own under their synthesized roles
 * (template/template-pipeline.ts, `inventory local --from-template`). Both are driven alike here.
 *
 * Files are processed one after another; each is fully processed (queues and stream drained)
 * before the next is uploaded.
 */
import { createReadStream } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { Upload as S3Upload } from '@aws-sdk/lib-storage';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Context, DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import type { AwsClients } from '../shared/aws';
import type { InventoryItem } from '../shared/item';
import type { UploadReport } from '../shared/report';
import { MetricName, settings } from '../shared/settings';
import { decodeS3Key, reportKey, storeScopeOf } from '../shared/upload';
import {
  DynamoStreamEventSource,
  SqsEventSource,
  type BatchResponse,
  type FunctionSpec,
  type SqsSourceOptions,
  type StreamBatchResponse,
  type StreamSourceOptions,
} from './event-sources';
import type { FaultInjector } from './faults';
import type { PipelineResources } from './resources';
import { assembleFromSettings, type SettingsPipelineOptions } from './settings-pipeline';
import type { IamReport } from './template/local-deployment';
import type { TemplatePipelineOptions } from './template/template-pipeline';

export type FunctionName = 'splitter' | 'writer' | 'alerter';

/** An SQS event source mapping: the function it invokes, the client it polls with, its settings. */
export interface SqsMapping {
  function: FunctionSpec<SQSEvent, BatchResponse> & { name: FunctionName };
  sqs: SQSClient;
  options: SqsSourceOptions;
}

/** The stream's event source mapping: the function, the clients it reads and records failures with, its settings. */
export interface StreamMapping {
  function: FunctionSpec<DynamoDBStreamEvent, StreamBatchResponse> & { name: FunctionName };
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
  options: StreamSourceOptions;
}

/** What the pipeline is made of, however it was assembled. */
export interface PipelineAssembly {
  endpoint: string;
  /** Clients for what the operator and "AWS itself" do: upload, read receipts, count dead letters, capture alerts. */
  clients: AwsClients;
  resources: PipelineResources;
  /** Whether the splitter reads uploads as store-scoped: each file then goes under its store's folder. */
  storeScoped: boolean;
  splitter: SqsMapping;
  writer: SqsMapping;
  alerter: StreamMapping;
  /** The functions' counters (rows read, rejected, applied, skipped …), as they report them. */
  metrics: { get(name: MetricName): number };
  /** Rows the writer has written so far: what a progress bar shows. */
  rowsWritten(): number;
  faults: FaultInjector;
  /** With IAM enforced: what IAM decided for the functions' roles so far. */
  iamReport?: () => Promise<IamReport>;
  close(): Promise<void>;
}

export interface LocalPipelineOptions extends SettingsPipelineOptions {
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

/** Called with every event a function is invoked with (tests use it to capture and replay). */
export type InvocationObserver = (functionName: FunctionName, event: unknown) => void;

export interface FileProgress {
  file: string;
  rowsDone: number;
  /** An estimate from the file's line count. */
  rowsTotal: number;
}

/** Orders by store, then product (a stable sort keeps one item's alerts in arrival order). */
function byItem(a: { store: string; product: string }, b: { store: string; product: string }): number {
  if (a.store !== b.store) return a.store < b.store ? -1 : 1;
  return a.product < b.product ? -1 : a.product > b.product ? 1 : 0;
}

/** A local file as the pipeline's upload: its key, and how reports name it. */
export interface LocalUpload {
  /** The file's name; store-scoped, `<store>/<name>` (two stores' files are often named alike). */
  file: string;
  key: string;
}

/** A file a store-scoped run cannot upload: it is in no directory that could name its store. */
export class StoreDirectoryError extends Error {
  override name = 'StoreDirectoryError';
}

/**
 * Where a local file is uploaded: `uploads/<name>`, or store-scoped `uploads/<its directory's
 * name>/<name>` — `stores/S0012/monday.csv` is store S0012's `uploads/S0012/monday.csv`.
 */
function localUploadOf(path: string, storeScoped: boolean): LocalUpload {
  const name = basename(path);
  const accepted = settings.uploads.suffixes.some((suffix) => name.toLowerCase().endsWith(suffix));
  // The bucket notification only announces accepted suffixes; anything else is uploaded as CSV.
  const object = accepted ? name : `${name}.csv`;
  if (!storeScoped) return { file: name, key: `${settings.uploads.prefix}${object}` };
  const store = basename(dirname(resolve(path)));
  const key = `${settings.uploads.prefix}${store}/${object}`;
  if ('reason' in storeScopeOf(key)) {
    const where = store === '' ? 'it is in no directory' : `its directory's name '${store}' begins or ends with a space`;
    throw new StoreDirectoryError(
      `${path} cannot be uploaded store-scoped, as uploads/<its directory's name>/${object}: ${where}; put it in a directory named after its store, e.g. S0012/${name}`,
    );
  }
  return { file: `${store}/${name}`, key };
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

/** An error of an access check: what AWS (and an IAM-enforcing moto) answers a call no policy allows. */
function isAccessDenied(error: unknown): boolean {
  const name = (error as { name?: unknown } | undefined)?.name;
  return name === 'AccessDeniedException' || name === 'AccessDenied' || name === 'AuthorizationError';
}

/** An event source mapping was denied one of its own calls (receive, delete, read the stream …). */
export class MappingDenied extends Error {
  override name = 'MappingDenied';

  constructor(
    readonly functionName: FunctionName,
    cause: Error,
  ) {
    super(`the ${functionName}'s event source mapping stopped: ${cause.message}`);
  }
}

/** Rethrows an event source's failure, as a MappingDenied when it was refused a call. */
const mappingFailure =
  (functionName: FunctionName) =>
  (error: unknown): never => {
    throw isAccessDenied(error) ? new MappingDenied(functionName, error as Error) : error;
  };

export class LocalPipeline {
  private readonly captured = new Map<string, CapturedAlert>();
  private duplicateAlerts = 0;
  private readonly announced = new Set<string>();
  /** The stream's mapping, when it was denied finding where the stream ends: it cannot read it at all. */
  private streamDenied: MappingDenied | undefined;
  private readonly uploads: SqsEventSource;
  private readonly rows: SqsEventSource;
  private readonly stream: DynamoStreamEventSource;

  private constructor(
    private readonly assembly: PipelineAssembly,
    options: { onInvoke?: InvocationObserver },
  ) {
    const { resources, splitter, writer, alerter } = assembly;
    // Every invocation is shown to the observer first (tests capture events to replay them).
    const observed = <E, R>(fn: FunctionSpec<E, R> & { name: FunctionName }, before?: (event: E) => void): FunctionSpec<E, R> => ({
      ...fn,
      handler: (event: E, context: Context) => {
        options.onInvoke?.(fn.name, event);
        before?.(event);
        return fn.handler(event, context);
      },
    });
    this.uploads = new SqsEventSource(
      splitter.sqs,
      { url: resources.uploadQueueUrl, arn: resources.uploadQueueArn },
      observed(splitter.function, (event) => this.noteAnnouncements(event)),
      splitter.options,
    );
    this.rows = new SqsEventSource(writer.sqs, { url: resources.workQueueUrl, arn: resources.workQueueArn }, observed(writer.function), writer.options);
    this.stream = new DynamoStreamEventSource(alerter.streams, alerter.sqs, resources.streamArn, observed(alerter.function), alerter.options);
  }

  /** The pipeline as `inventory local` runs it: from the settings module, the handlers in this process. */
  static async start(options: LocalPipelineOptions = {}): Promise<LocalPipeline> {
    return LocalPipeline.begin(await assembleFromSettings(options), options);
  }

  /**
   * The pipeline as `inventory local --from-template` runs it: everything from a cloud assembly, the
   * bundled functions in processes of their own under their roles, IAM enforced.
   */
  static async fromTemplate(options: TemplatePipelineOptions & { onInvoke?: InvocationObserver }): Promise<LocalPipeline> {
    // Loaded only when asked for: the plain runtime's start-up does not pay for IAM, STS and the assembly reader.
    const { assembleFromTemplate } = require('./template/template-pipeline') as typeof import('./template/template-pipeline');
    return LocalPipeline.begin(await assembleFromTemplate(options), options);
  }

  private static async begin(assembly: PipelineAssembly, options: { onInvoke?: InvocationObserver }): Promise<LocalPipeline> {
    try {
      const pipeline = new LocalPipeline(assembly, options);
      // Alerts left over from an earlier run against the same endpoint are not this run's. (Not
      // PurgeQueue: SQS allows one purge a minute, and runs can follow each other faster.)
      await pipeline.captureAlerts();
      pipeline.takeAlerts();
      await pipeline.stream.startAtLatest().catch((error: unknown) => {
        // Reported with every file, like any denial of a mapping's call; the rest still runs.
        if (!isAccessDenied(error)) throw error;
        pipeline.streamDenied = new MappingDenied('alerter', error as Error);
      });
      return pipeline;
    } catch (error) {
      await assembly.close();
      throw error;
    }
  }

  get endpoint(): string {
    return this.assembly.endpoint;
  }

  get clients(): AwsClients {
    return this.assembly.clients;
  }

  get resources(): PipelineResources {
    return this.assembly.resources;
  }

  get faults(): FaultInjector {
    return this.assembly.faults;
  }

  /** Whether the splitter reads uploads as store-scoped (from the settings pipeline's option, or the template). */
  get storeScoped(): boolean {
    return this.assembly.storeScoped;
  }

  /** Where `processFile` uploads a file; a StoreDirectoryError when store-scoped and no directory names its store. */
  uploadOf(path: string): LocalUpload {
    return localUploadOf(path, this.storeScoped);
  }

  /** What IAM decided for the functions' roles so far, when the pipeline runs with IAM enforced. */
  iamReport(): Promise<IamReport> | undefined {
    return this.assembly.iamReport?.();
  }

  async close(): Promise<void> {
    await this.assembly.close();
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

  /**
   * Counters, dead letters and alerts of everything the pipeline did while `work` ran — and, if an
   * event source mapping was denied one of its own calls (a grant missing from the function's
   * role), that denial: the pipeline stops there, as a mapping on AWS does.
   */
  private async measure(work: () => Promise<void>): Promise<Activity & { mappingDenied?: MappingDenied }> {
    const counted: MetricName[] = [MetricName.RowsRead, MetricName.RowsRejected, MetricName.RowsApplied, MetricName.RowsSkipped];
    const before = new Map(counted.map((name) => [name, this.assembly.metrics.get(name)]));
    const delta = (name: MetricName) => this.assembly.metrics.get(name) - (before.get(name) ?? 0);
    const deadLetteredBefore = await this.deadLetterDepth();
    let mappingDenied: MappingDenied | undefined;
    try {
      await work();
    } catch (error) {
      if (!(error instanceof MappingDenied)) throw error;
      mappingDenied = error;
    }
    return {
      ...(mappingDenied ? { mappingDenied } : {}),
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
    // A source that fails ends its own draining only: those downstream of it drain what reached
    // them and stop, and the first failure is reported once all have.
    const drained = await Promise.allSettled([
      this.uploads.drain(uploadsAnnounced).catch(mappingFailure('splitter')).finally(() => (splitterDone = true)),
      this.rows.drain(() => splitterDone).catch(mappingFailure('writer')).finally(() => (writerDone = true)),
      (this.streamDenied ? Promise.reject(this.streamDenied) : this.stream.drain(() => writerDone))
        .catch(mappingFailure('alerter'))
        .finally(() => {
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
    const failure = drained.find((result) => result.status === 'rejected');
    if (failure) throw failure.reason;
  }

  /**
   * Processes whatever is waiting in the pipeline's queues (a replayed upload event, a redriven
   * message) until everything is drained, and reports what that did.
   */
  async drain(): Promise<Activity> {
    const { mappingDenied, ...activity } = await this.measure(() => this.drainAll(() => true));
    if (mappingDenied) throw mappingDenied;
    return activity;
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
    const { file, key } = this.uploadOf(path);
    const rowsTotal = Math.max(0, (await countLines(path)) - 1);
    let etag: string | undefined;
    const writtenBefore = this.assembly.rowsWritten();
    this.faults.startFile();
    const { mappingDenied, ...activity } = await this.measure(async () => {
      const progress = () => onProgress?.({ file, rowsDone: Math.min(this.assembly.rowsWritten() - writtenBefore, rowsTotal), rowsTotal });
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
    if (mappingDenied) {
      outcome.status = 'failed';
      outcome.reason = mappingDenied.message;
    } else if (report === undefined || report.upload.etag !== etag) {
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
