/**
 * The local target: the real handlers on the local runtime, against a moto server it starts or an
 * endpoint it is given. Each file is completely processed before the next is uploaded, so every
 * file's rejects and alerts are observed on their own.
 */
import type { DynamoDBStreamEvent } from 'aws-lambda';
import type { FaultSpec } from '../src/local/faults';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { LocalPipeline } from '../src/local/runtime';
import type { ScenarioFile } from './scenario';
import type { FileRun, Progress, Target, TargetDescription, TargetRun } from './target';
import { TimelineRecorder, type WatchedQueue } from './timeline';

/**
 * Counts writes that applied a row the item already held, from the stream records the alerter is
 * invoked with (each record once, however often a retried batch delivers it): a write that changed
 * neither the item's version nor its thresholdVersion.
 */
class RepeatedWrites {
  private readonly seen = new Set<string>();
  count = 0;

  observe(event: DynamoDBStreamEvent): void {
    for (const record of event.Records) {
      const change = record.dynamodb;
      const sequence = change?.SequenceNumber ?? '';
      if (this.seen.has(sequence)) continue;
      this.seen.add(sequence);
      const before = change?.OldImage;
      const after = change?.NewImage;
      // Key-only images (an item created in steps) hold no version: not a row's write.
      if (before?.version === undefined || after?.version === undefined) continue;
      if (before.version.S === after.version.S && before.thresholdVersion?.S === after.thresholdVersion?.S) this.count += 1;
    }
  }
}

/** Progress lines at most this often: a long file on moto writes ~50 rows/s. */
const progressEveryMs = 5_000;
/** The timeline's sampling: each sample costs moto two requests, served alongside the writes. */
const sampleEverySeconds = 2;

export class LocalTarget implements Target {
  readonly description: TargetDescription;

  private constructor(
    private readonly pipeline: LocalPipeline,
    private readonly repeatedWrites: RepeatedWrites,
  ) {
    this.description = { mode: 'local', endpoint: pipeline.endpoint, bucket: pipeline.resources.bucket, table: pipeline.resources.table };
  }

  static async start(options: { endpoint?: string; defaultThreshold: number; faults?: FaultSpec }): Promise<LocalTarget> {
    const repeatedWrites = new RepeatedWrites();
    const pipeline = await LocalPipeline.start({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      defaultThreshold: options.defaultThreshold,
      ...(options.faults === undefined ? {} : { faults: options.faults }),
      onInvoke: (fn, event) => {
        if (fn === 'alerter') repeatedWrites.observe(event as DynamoDBStreamEvent);
      },
    });
    return new LocalTarget(pipeline, repeatedWrites);
  }

  /** The runtime's own client: same endpoint, region and credentials as the tables it created. */
  get documents() {
    return this.pipeline.clients.documents;
  }

  /** Messages waiting or in flight on each source queue. */
  private async queueDepths(): Promise<Record<WatchedQueue, number>> {
    const depth = async (url: string) => {
      const { Attributes = {} } = await this.pipeline.clients.sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
      );
      return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
    };
    const { uploadQueueUrl, workQueueUrl } = this.pipeline.resources;
    return { 'upload-events': await depth(uploadQueueUrl), rows: await depth(workQueueUrl) };
  }

  async run(files: readonly ScenarioFile[], progress: Progress): Promise<TargetRun> {
    const started = Date.now();
    const runs: FileRun[] = [];
    let deadLettered = 0;
    // Rows written by the files done, and so far by the one in progress (the runtime counts each write).
    let writtenBefore = 0;
    let writtenInFile = 0;
    const timeline = new TimelineRecorder(started, sampleEverySeconds);
    const stopSampling = timeline.every(async () => ({ rowsWritten: writtenBefore + writtenInFile, queues: await this.queueDepths() }));
    try {
      for (const [index, file] of files.entries()) {
        const startSeconds = (Date.now() - started) / 1000;
        let lastShown = Date.now();
        const outcome = await this.pipeline.processFile(file.path, ({ rowsDone, rowsTotal }) => {
          writtenInFile = rowsDone;
          if (Date.now() - lastShown < progressEveryMs) return;
          lastShown = Date.now();
          progress(`file ${index + 1}/${files.length} ${file.name}: ${rowsDone}/${rowsTotal} rows written`);
        });
        writtenBefore += writtenInFile;
        writtenInFile = 0;
        deadLettered += outcome.deadLettered;
        progress(`file ${index + 1}/${files.length} ${file.name}: ${outcome.status} in ${outcome.seconds.toFixed(1)} s`);
        runs.push({
          file,
          status: outcome.status,
          ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
          rowsRead: outcome.rowsRead,
          rejects: outcome.rejects,
          rowsApplied: outcome.rowsApplied,
          rowsSkipped: outcome.rowsSkipped,
          alerts: outcome.alerts,
          duplicateAlerts: outcome.duplicateAlerts,
          seconds: outcome.seconds,
          startSeconds,
        });
      }
    } finally {
      await stopSampling();
    }
    return {
      files: runs,
      seconds: (Date.now() - started) / 1000,
      deadLettered,
      appliedTwice: this.repeatedWrites.count,
      faults: { ...this.pipeline.faults.counts },
      notes: [],
      timeline: timeline.timeline(),
    };
  }

  close(): Promise<void> {
    return this.pipeline.close();
  }
}
