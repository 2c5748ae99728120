/**
 * The splitter's core: streams one upload's bytes (gunzipped when they are gzip) through the CSV
 * reader, validates every record against the CSV contract, packs valid rows into RowBatch messages
 * for the sender and hands rejected rows to the rejects writer. No AWS here: the sender and rejects
 * writer are ports.
 *
 * Memory is bounded: each chunk waits before it is read while the sender or the rejects writer is
 * saturated, and the reader keeps at most one record's bytes (`maxRecordBytes`) beyond a chunk.
 *
 * Outcomes: `processed` (valid rows queued, bad rows rejected with their line), or `failed` when
 * the file itself is unusable — no header, a header that does not fit, a header that is not UTF-8,
 * gzip data that is corrupt or truncated. A failure is deterministic (reading the object again
 * would fail the same way), so it is returned, not thrown; what is thrown (S3 or SQS trouble) is
 * worth retrying. Rows accepted before a failure mid-file are genuine and are queued all the same;
 * the outcome counts them.
 */
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { acceptRow, invalidTextReason, parseHeader, UploadRejectedError, type CsvHeader, type StoreScope } from '../shared/csv';
import { RowBatchPacker } from '../shared/messages';
import { maxLine, type Upload } from '../shared/upload';
import type { SplitOutcome } from '../shared/report';
import { settings } from '../shared/settings';
import { GunzipByContent } from './gunzip';
import { RecordReader } from './records';
import { BatchSender, type SendBatch, type SenderLimits } from './sender';

export interface RejectedRow {
  line: number;
  reason: string;
  /** The record's fields as read (empty when the record could not be parsed at all). */
  record: readonly string[];
}

export interface RejectSink {
  add(rejected: RejectedRow): void;
  /** Undefined when more may be added now; otherwise resolves when the sink has caught up. */
  ready(): Promise<void> | undefined;
}

export interface SplitOptions {
  upload: Pick<Upload, 'key' | 'stamp'>;
  input: Readable;
  sendBatch: SendBatch;
  rejects: RejectSink;
  limits?: SenderLimits & { maxMessageBytes: number };
  /** Longest record the reader buffers (guards against an unclosed quote swallowing the file). */
  maxRecordBytes?: number;
  /** A store-scoped upload's store (its key names it): rows for another store are rejected, and the store column may be left out. */
  scope?: StoreScope;
}

// Bound once: under tsx (the CLI's local runtime, the benchmarks) every imported binding is read through a getter.
const accept = acceptRow;
const lastLine = maxLine;

export async function splitUpload(options: SplitOptions): Promise<SplitOutcome> {
  const limits = options.limits ?? settings.packing;
  const sender = new BatchSender(options.sendBatch, limits);
  const packer = new RowBatchPacker(options.upload, limits.maxMessageBytes, (message) => sender.add(message));
  const { rejects, scope } = options;
  let header: CsvHeader | undefined;
  let rowsRead = 0;
  let rowsAccepted = 0;
  let rowsRejected = 0;
  const reject = (rejected: RejectedRow) => {
    rowsRead += 1;
    rowsRejected += 1;
    rejects.add(rejected);
  };

  const reader = new RecordReader(
    {
      record(record, line) {
        if (header === undefined) {
          header = parseHeader(record, line, scope);
          return;
        }
        const reason = line > lastLine ? `the line number is beyond ${lastLine}, the last a version stamp can order` : accept(record, header, line, packer);
        if (reason !== undefined) reject({ line, reason, record });
        else {
          rowsRead += 1;
          rowsAccepted += 1;
        }
      },
      invalidText(record, line, invalid) {
        // Never the header: the reader checks the header line (the whole header record) before any record.
        reject({ line, reason: invalidTextReason(header!, invalid), record });
      },
      unparseable(line, reason) {
        reject({ line, reason, record: [] });
      },
    },
    options.maxRecordBytes ?? settings.csv.maxRecordBytes,
    scope !== undefined,
  );

  /** A reader step as a stream callback: what the reader throws (a failed file, a failed send) fails the pipeline. */
  const step = (action: () => void, callback: (error?: Error | null) => void) => {
    try {
      action();
    } catch (error) {
      callback(error as Error);
      return;
    }
    callback();
  };
  const csv = new Writable({
    // Each chunk waits while the sender or the rejects writer is saturated: the stream pauses.
    write(chunk: Buffer, _encoding, callback) {
      const wait = sender.ready() ?? rejects.ready();
      if (wait === undefined) step(() => reader.write(chunk), callback);
      else wait.then(() => step(() => reader.write(chunk), callback), callback);
    },
    final(callback) {
      step(() => reader.end(), callback);
    },
  });

  let failure: UploadRejectedError | undefined;
  try {
    await pipeline(options.input, new GunzipByContent(), csv);
    if (header === undefined) failure = new UploadRejectedError('the file is empty: it has no header row');
  } catch (error) {
    if (!(error instanceof UploadRejectedError)) throw error;
    failure = error;
  }
  // Nothing is accepted before the header is, so a file failing on its header queues nothing.
  packer.flush();
  await sender.close();
  const counts = { rowsRead, rowsAccepted, rowsRejected, messages: sender.messagesSent };
  if (failure === undefined) return { status: 'processed', ...counts };
  const queued = rowsAccepted > 0 ? ` (the ${rowsAccepted} valid row${rowsAccepted === 1 ? '' : 's'} read before that ${rowsAccepted === 1 ? 'was' : 'were'} queued)` : '';
  return { status: 'failed', reason: `${failure.message}${queued}`, ...counts };
}
