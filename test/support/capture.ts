/** In-memory stand-ins for the splitter's ports: a SendMessageBatch that records every call, a rejects sink. */
import { Readable } from 'node:stream';
import type { RejectedRow, RejectSink } from '../../src/splitter/split';
import type { BatchEntry, FailedEntry, SendBatch } from '../../src/splitter/sender';
import { decodeRowBatch, stampedRows, type RowBatch, type StampedRow } from '../../src/shared/messages';

export interface CapturingQueueOptions {
  /** How long a call takes (resolved after this many macrotask turns); varied to interleave calls. */
  turns?: () => number;
  /** Entries to report as failed for this call (the rest are taken). */
  fail?: (entries: BatchEntry[], call: number) => FailedEntry[];
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class CapturingQueue {
  /** Every call's entries, in call order (including retries). */
  readonly calls: BatchEntry[][] = [];
  /** The bodies SQS took, in the order it took them. */
  readonly accepted: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(private readonly options: CapturingQueueOptions = {}) {}

  readonly sendBatch: SendBatch = async (entries) => {
    const call = this.calls.push(entries) - 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      for (let turns = this.options.turns?.() ?? 0; turns > 0; turns -= 1) await nextTurn();
      const failed = this.options.fail?.(entries, call) ?? [];
      const failedIds = new Set(failed.map((entry) => entry.Id));
      for (const entry of entries) if (!failedIds.has(entry.Id)) this.accepted.push(entry.MessageBody);
      return failed;
    } finally {
      this.inFlight -= 1;
    }
  };

  batches(): RowBatch[] {
    return this.accepted.map(decodeRowBatch);
  }

  rows(): StampedRow[] {
    return this.batches().flatMap(stampedRows);
  }
}

export class CapturingRejects implements RejectSink {
  readonly rows: RejectedRow[] = [];

  add(rejected: RejectedRow): void {
    this.rows.push(rejected);
  }

  ready(): undefined {
    return undefined;
  }
}

export function readableOf(...chunks: (string | Buffer)[]): Readable {
  return Readable.from(chunks.map((chunk) => (typeof chunk === 'string' ? Buffer.from(chunk) : chunk)));
}
