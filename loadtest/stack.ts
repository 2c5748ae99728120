/**
 * The deployed target: a stack's bucket, table and queues, found through its CloudFormation outputs.
 *
 * The files are uploaded one after another with a gap, so their S3 eventTimes (the upload order
 * the pipeline goes by) follow the scenario's order. Then the run is complete when every upload
 * has its receipt and both source queues have stayed empty for a while: SQS's message counts are
 * approximate and can lag by up to a minute, so one empty reading proves nothing.
 */
import { createReadStream } from 'node:fs';
import { GetObjectCommand, NoSuchKey } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { Upload as S3Upload } from '@aws-sdk/lib-storage';
import { parse as parseCsv } from 'csv-parse/sync';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../src/shared/aws';
import type { UploadReport } from '../src/shared/report';
import { settings } from '../src/shared/settings';
import { readStackOutputs, StackOutput } from '../src/shared/stack';
import { reportKey } from '../src/shared/upload';
import type { ScenarioFile } from './scenario';
import type { FileRun, Progress, Target, TargetDescription, TargetRun } from './target';
import { TimelineRecorder, type WatchedQueue } from './timeline';
import type { ObservedReject } from './verify';

/** Between uploads: S3 stamps eventTime in milliseconds; a second keeps the order beyond doubt. */
const uploadGapMs = 1_000;
const pollMs = 5_000;
/** How long both source queues must read empty (SQS documents up to a minute of lag). */
const settleMs = 60_000;

interface StackResources {
  bucket: string;
  table: string;
  sourceQueues: { label: WatchedQueue; url: string }[];
  deadLetterQueues: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function stackResources(stack: string, region: string | undefined): Promise<StackResources> {
  const outputs = await readStackOutputs(stack, region === undefined ? {} : { region });
  return {
    bucket: outputs.required(StackOutput.UploadsBucketName),
    table: outputs.required(StackOutput.InventoryTableName),
    sourceQueues: [
      { label: 'upload-events', url: outputs.required(StackOutput.UploadEventsQueueUrl) },
      { label: 'rows', url: outputs.required(StackOutput.RowsQueueUrl) },
    ],
    deadLetterQueues: [StackOutput.UploadEventsDeadLetterQueueUrl, StackOutput.RowsDeadLetterQueueUrl, StackOutput.AlertsDeadLetterQueueUrl]
      .map((key) => outputs.values.get(key))
      .filter((url): url is string => Boolean(url)),
  };
}

export class StackTarget implements Target {
  readonly description: TargetDescription;

  private constructor(
    private readonly clients: AwsClients,
    private readonly outputs: StackResources,
    stack: string,
    region: string,
    private readonly timeoutSeconds: number,
  ) {
    this.description = { mode: 'stack', stack, region, bucket: outputs.bucket, table: outputs.table };
  }

  static async open(options: { stack: string; region?: string; timeoutSeconds: number }): Promise<StackTarget> {
    const outputs = await stackResources(options.stack, options.region);
    const clients = createAwsClients(options.region === undefined ? {} : { region: options.region });
    return new StackTarget(clients, outputs, options.stack, await clients.s3.config.region(), options.timeoutSeconds);
  }

  get documents() {
    return this.clients.documents;
  }

  private async queueDepth(url: string): Promise<number> {
    const { Attributes = {} } = await this.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  }

  private async deadLetterDepth(): Promise<number> {
    const depths = await Promise.all(this.outputs.deadLetterQueues.map((url) => this.queueDepth(url)));
    return depths.reduce((a, b) => a + b, 0);
  }

  private async readObject(key: string): Promise<string | undefined> {
    try {
      const object = await this.clients.s3.send(new GetObjectCommand({ Bucket: this.outputs.bucket, Key: key }));
      return await object.Body!.transformToString('utf8');
    } catch (error) {
      if (error instanceof NoSuchKey) return undefined;
      throw error;
    }
  }

  private async upload(file: ScenarioFile): Promise<{ key: string; etag: string | undefined }> {
    const key = `${settings.uploads.prefix}${file.name}`;
    const result = await new S3Upload({
      client: this.clients.s3,
      params: { Bucket: this.outputs.bucket, Key: key, Body: createReadStream(file.path), ContentType: 'text/csv' },
      partSize: 64 * 1024 * 1024,
    }).done();
    return { key, etag: result.ETag?.replace(/"/g, '') };
  }

  private async rejectsOf(report: UploadReport): Promise<ObservedReject[]> {
    const text = await this.readObject(report.rejectsKey);
    if (text === undefined) return [];
    const records = parseCsv(text, { from_line: 2 }) as string[][];
    return records.map(([line, reason]) => ({ line: Number(line), reason: reason ?? '' }));
  }

  async run(files: readonly ScenarioFile[], progress: Progress): Promise<TargetRun> {
    const deadLetteredBefore = await this.deadLetterDepth();
    const started = Date.now();
    const uploads: { file: ScenarioFile; key: string; etag: string | undefined; startedAt: number; report?: UploadReport; seconds?: number }[] = [];
    for (const [index, file] of files.entries()) {
      if (index > 0) await sleep(uploadGapMs);
      const startedAt = Date.now();
      progress(`uploading ${index + 1}/${files.length} ${file.name} (${file.rows} rows)`);
      uploads.push({ file, startedAt, ...(await this.upload(file)) });
    }

    // Sampled at every poll; the writes themselves are CloudWatch metrics, not observed here.
    const timeline = new TimelineRecorder(started, pollMs / 1000);
    const deadline = started + this.timeoutSeconds * 1000;
    let emptySince: number | undefined;
    const notes: string[] = [];
    for (;;) {
      for (const upload of uploads) {
        if (upload.report) continue;
        const text = await this.readObject(reportKey(upload.key));
        const report = text === undefined ? undefined : (JSON.parse(text) as UploadReport);
        // A receipt for another object under the same key would be an older upload's.
        if (report && (upload.etag === undefined || report.upload.etag === upload.etag)) {
          upload.report = report;
          upload.seconds = (Date.now() - upload.startedAt) / 1000;
        }
      }
      const receipts = uploads.filter((u) => u.report).length;
      const depths = await Promise.all(this.outputs.sourceQueues.map(async (queue) => ({ ...queue, depth: await this.queueDepth(queue.url) })));
      const queued = depths.reduce((sum, queue) => sum + queue.depth, 0);
      const now = Date.now();
      timeline.record({ rowsWritten: null, queues: Object.fromEntries(depths.map((queue) => [queue.label, queue.depth])) as Record<WatchedQueue, number> }, now);
      if (receipts === uploads.length && queued === 0) emptySince ??= now;
      else emptySince = undefined;
      progress(
        `${Math.round((now - started) / 1000)} s: receipts ${receipts}/${uploads.length}, ` +
          `${depths.map((q) => `${q.label} ${q.depth}`).join(', ')} message(s) queued` +
          (emptySince === undefined ? '' : `, empty for ${Math.round((now - emptySince) / 1000)} of ${settleMs / 1000} s`),
      );
      if (emptySince !== undefined && now - emptySince >= settleMs) break;
      if (now > deadline) {
        notes.push(
          `gave up waiting after ${this.timeoutSeconds} s (receipts ${receipts}/${uploads.length}, ${queued} message(s) still queued): ` +
            'the table was verified as it stood',
        );
        break;
      }
      await sleep(pollMs);
    }
    const seconds = ((emptySince ?? Date.now()) - started) / 1000;

    const runs: FileRun[] = [];
    for (const upload of uploads) {
      const report = upload.report;
      runs.push({
        file: upload.file,
        status: report?.status ?? 'not processed',
        ...(report?.reason === undefined ? {} : { reason: report.reason }),
        rowsRead: report?.rowsRead ?? null,
        rejects: report ? await this.rejectsOf(report) : [],
        rowsApplied: null,
        rowsSkipped: null,
        alerts: null,
        duplicateAlerts: null,
        seconds: upload.seconds ?? seconds,
        startSeconds: (upload.startedAt - started) / 1000,
      });
    }
    notes.push(
      'alerts were not verified: a deployed stack publishes them to SNS, which this load test does not subscribe to',
      'rows applied and skipped are not counted on AWS (they are CloudWatch metrics: see the dashboard)',
    );
    return { files: runs, seconds, deadLettered: (await this.deadLetterDepth()) - deadLetteredBefore, appliedTwice: null, faults: null, notes, timeline: timeline.timeline() };
  }

  async close(): Promise<void> {
    destroyAwsClients(this.clients);
  }
}
