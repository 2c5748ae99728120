/**
 * The local target: the real handlers on the local runtime, against a moto server it starts or an
 * endpoint it is given. Each file is completely processed before the next is uploaded, so every
 * file's rejects and alerts are observed on their own.
 */
import { LocalPipeline } from '../src/local/runtime';
import type { ScenarioFile } from './scenario';
import type { FileRun, Progress, Target, TargetDescription, TargetRun } from './target';

/** Progress lines at most this often: a long file on moto writes ~50 rows/s. */
const progressEveryMs = 5_000;

export class LocalTarget implements Target {
  readonly description: TargetDescription;

  private constructor(private readonly pipeline: LocalPipeline) {
    this.description = { mode: 'local', endpoint: pipeline.endpoint, bucket: pipeline.resources.bucket, table: pipeline.resources.table };
  }

  static async start(options: { endpoint?: string; defaultThreshold: number }): Promise<LocalTarget> {
    const pipeline = await LocalPipeline.start({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      defaultThreshold: options.defaultThreshold,
    });
    return new LocalTarget(pipeline);
  }

  /** The runtime's own client: same endpoint, region and credentials as the tables it created. */
  get documents() {
    return this.pipeline.clients.documents;
  }

  async run(files: readonly ScenarioFile[], progress: Progress): Promise<TargetRun> {
    const started = Date.now();
    const runs: FileRun[] = [];
    let deadLettered = 0;
    for (const [index, file] of files.entries()) {
      let lastShown = Date.now();
      const outcome = await this.pipeline.processFile(file.path, ({ rowsDone, rowsTotal }) => {
        if (Date.now() - lastShown < progressEveryMs) return;
        lastShown = Date.now();
        progress(`file ${index + 1}/${files.length} ${file.name}: ${rowsDone}/${rowsTotal} rows written`);
      });
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
        seconds: outcome.seconds,
      });
    }
    return { files: runs, seconds: (Date.now() - started) / 1000, deadLettered, notes: [] };
  }

  close(): Promise<void> {
    return this.pipeline.close();
  }
}
