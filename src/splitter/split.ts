/**
 * The splitter's core: streams one upload's bytes through csv-parse, validates every record
 * against the CSV contract, packs valid rows into RowBatch messages for the sender and hands
 * rejected rows to the rejects writer. No AWS here: the sender and rejects writer are ports.
 *
 * Records are taken from csv-parse as it parses them (RecordParser), never buffered on the parser's
 * readable side, so the per-record cost is the parse plus our validation and packing. Memory
 * is bounded by a gate in front of the parser that waits while the sender or the rejects writer
 * is saturated; `max_record_size` bounds a runaway quoted field.
 */
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Parser, type CsvError, type Options } from 'csv-parse';
import { acceptRow, isBlankRecord, parseHeader, UploadRejectedError, type CsvHeader } from '../shared/csv';
import { RowBatchPacker } from '../shared/messages';
import { maxLine, type Upload } from '../shared/upload';
import type { SplitOutcome } from '../shared/report';
import { settings } from '../shared/settings';
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

export interface SplitResult extends SplitOutcome {
  lines: number;
}

export interface SplitOptions {
  upload: Pick<Upload, 'key' | 'stamp'>;
  input: Readable;
  sendBatch: SendBatch;
  rejects: RejectSink;
  limits?: SenderLimits & { maxMessageBytes: number };
  /** Longest record csv-parse will buffer (guards against an unclosed quote swallowing the file). */
  maxRecordBytes?: number;
}

const defaultMaxRecordBytes = 1024 * 1024;

function countNewlines(record: readonly string[]): number {
  let newlines = 0;
  for (const field of record) {
    for (let at = field.indexOf('\n'); at !== -1; at = field.indexOf('\n', at + 1)) newlines += 1;
  }
  return newlines;
}

const utf8Bom = [0xef, 0xbb, 0xbf];

/**
 * Drops the BOM and any blank lines before the first content, counting the lines it drops.
 * csv-parse takes the expected field count from the first record; a blank first record would make
 * it build (and, relaxed, discard) an error object for every row after it — five times slower.
 */
class LeadingBlankLines extends Transform {
  dropped = 0;
  private offset = 0;
  private content = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null, data?: Buffer) => void): void {
    if (this.content) {
      callback(null, chunk);
      return;
    }
    let lineStart = 0;
    for (let at = 0; at < chunk.length; at += 1, this.offset += 1) {
      const byte = chunk[at]!;
      if (this.offset < utf8Bom.length && byte === utf8Bom[this.offset]) lineStart = at + 1;
      else if (byte === 0x0a) {
        this.dropped += 1;
        lineStart = at + 1;
      } else if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) {
        this.content = true;
        callback(null, chunk.subarray(lineStart));
        return;
      }
    }
    callback();
  }
}

/**
 * csv-parse's stream parser, consumed as it parses: each record goes straight to `onRecord`
 * instead of through the readable side's buffer. (A Transform's output is whatever it push()es, so
 * this is the stream contract itself.) Not csv-parse's `on_record` hook: that builds an info object
 * for every record, which made it the splitter's largest single cost.
 */
class RecordParser extends Parser {
  constructor(
    private readonly onRecord: (record: string[]) => void,
    options: Options,
  ) {
    super(options);
  }

  override push(record: unknown): boolean {
    if (record === null) return super.push(null);
    if (this.destroyed) return false;
    try {
      this.onRecord(record as string[]);
    } catch (error) {
      this.destroy(error as Error);
    }
    return true;
  }
}

function describeParseError(error: CsvError): string {
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field opened on this line is never closed, so the rest of the file could not be read as rows';
    case 'CSV_MAX_RECORD_SIZE':
      return 'the record is longer than the 1 MiB limit (an unclosed quote?)';
    default:
      return `the record is not valid CSV (${error.message})`;
  }
}

export async function splitUpload(options: SplitOptions): Promise<SplitResult> {
  const limits = options.limits ?? settings.packing;
  const sender = new BatchSender(options.sendBatch, limits);
  const packer = new RowBatchPacker(options.upload, limits.maxMessageBytes, (message) => sender.add(message));
  const { rejects } = options;
  let header: CsvHeader | undefined;
  let rowsRead = 0;
  let rowsAccepted = 0;
  let rowsRejected = 0;
  const reject = (rejected: RejectedRow) => {
    rowsRejected += 1;
    rejects.add(rejected);
  };

  // Physical line numbers are counted here: a record spans one line plus the line breaks inside
  // its quoted fields. (csv-parse's own count goes wrong on CRLF inside quotes.)
  const leading = new LeadingBlankLines();
  let nextLine = 1;
  const onRecord = (record: string[]): void => {
    if (header === undefined) nextLine += leading.dropped;
    const line = nextLine;
    nextLine += 1 + countNewlines(record);
    if (header === undefined) {
      header = parseHeader(record, line);
      return;
    }
    if (isBlankRecord(record)) return;
    rowsRead += 1;
    const reason = line > maxLine ? `the line number is beyond ${maxLine}, the last a version stamp can order` : acceptRow(record, header, line, packer);
    if (reason === undefined) rowsAccepted += 1;
    else reject({ line, reason, record });
  };

  const parser = new RecordParser(onRecord, {
    // LF and CRLF, even mixed in one file (the first line's ending does not decide for the rest).
    record_delimiter: ['\r\n', '\n'],
    // Blank lines reach onRecord, which skips them (and whitespace-only lines) and counts them.
    relax_column_count: true,
    relax_quotes: true,
    skip_records_with_error: true,
    max_record_size: options.maxRecordBytes ?? defaultMaxRecordBytes,
  });
  // A record csv-parse cannot parse is a rejected row; the rest of the file still applies.
  // Before the header, though, the file has no usable header and fails as a whole.
  let headerFailure: UploadRejectedError | undefined;
  parser.on('skip', (error: CsvError) => {
    if (header === undefined) nextLine += leading.dropped;
    const line = nextLine;
    // Where the next record starts is csv-parse's best guess once a record could not be parsed.
    nextLine = Math.max(nextLine + 1, parser.info.lines);
    if (header === undefined) {
      headerFailure ??= new UploadRejectedError(`the header (line ${line}) is not valid CSV: ${describeParseError(error)}`);
      parser.destroy(headerFailure);
      return;
    }
    rowsRead += 1;
    reject({ line, reason: describeParseError(error), record: [] });
  });

  // Pauses the bytes flowing into the parser while the sender or the rejects writer is saturated.
  const gate = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const wait = sender.ready() ?? rejects.ready();
      if (wait === undefined) callback(null, chunk);
      else wait.then(() => callback(null, chunk), callback);
    },
  });
  const discard = new Writable({ objectMode: true, write: (_record, _encoding, callback) => callback() });
  const stages = options.upload.key.toLowerCase().endsWith('.gz') ? [createGunzip(), leading, gate] : [leading, gate];

  try {
    await pipeline([options.input, ...stages, parser, discard]);
    if (header === undefined) throw new UploadRejectedError('the file is empty: it has no header row');
    packer.flush();
    await sender.close();
  } catch (error) {
    const failure = headerFailure ?? (error instanceof UploadRejectedError ? error : undefined);
    if (failure === undefined) throw error;
    // Nothing is sent before the header is accepted, so a failed file has applied nothing.
    return { status: 'failed', reason: failure.message, rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, messages: 0, lines: nextLine - 1 };
  }
  return { status: 'processed', rowsRead, rowsAccepted, rowsRejected, messages: sender.messagesSent, lines: nextLine - 1 };
}
