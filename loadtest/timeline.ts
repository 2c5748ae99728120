/**
 * What a load test watched while it ran: rows written to the table and the depth of the source
 * queues, sampled every few seconds from the first upload on — the time series the HTML report
 * draws. A value a target cannot observe is null (a deployed stack's writes are CloudWatch metrics).
 */
export type WatchedQueue = 'upload-events' | 'rows';

export interface TimelineSample {
  /** Since the first upload. */
  seconds: number;
  /** Rows the writers have written so far (applied, or found stale and skipped); null where not observable. */
  rowsWritten: number | null;
  /** Messages waiting or in flight on each source queue. */
  queues: Record<WatchedQueue, number>;
}

export interface Timeline {
  intervalSeconds: number;
  samples: TimelineSample[];
}

export type Observation = Omit<TimelineSample, 'seconds'>;

export class TimelineRecorder {
  private readonly samples: TimelineSample[] = [];

  constructor(
    private readonly startedAt: number,
    readonly intervalSeconds: number,
  ) {}

  record(observation: Observation, at = Date.now()): void {
    this.samples.push({ seconds: Math.round((at - this.startedAt) / 100) / 10, ...observation });
  }

  /**
   * Records `observe()` now and then every `intervalSeconds` until the returned stop() — which takes
   * a last sample, so the series ends where the run did. An observation that fails ends the
   * sampling, and stop() throws its error. Call stop() whatever happens, or the sampling goes on.
   */
  every(observe: () => Promise<Observation>): () => Promise<void> {
    let stopped = false;
    let failure: { error: unknown } | undefined;
    let wake = () => {};
    const loop = (async () => {
      while (!stopped) {
        this.record(await observe());
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.intervalSeconds * 1000);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    })().catch((error: unknown) => {
      failure = { error };
    });
    return async () => {
      stopped = true;
      wake();
      await loop;
      if (failure) throw failure.error;
      this.record(await observe());
    };
  }

  timeline(): Timeline {
    return { intervalSeconds: this.intervalSeconds, samples: [...this.samples] };
  }
}
