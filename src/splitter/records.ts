/**
 * The splitter's CSV reader: an upload's bytes in, records out, each with the physical line it
 * starts on. csv-parse does the parsing; this class does what a store file needs around it:
 *
 * - it finds the header line (after a BOM and blank lines) and chooses the file's delimiter from it
 *   before the first record is parsed;
 * - LF, CRLF and CR all end a line, for the parser and for line numbers alike;
 * - it checks every chunk for invalid UTF-8 with one native call, and only when a chunk fails pins
 *   the bad bytes to the records that hold them (csv-parse would decode them to U+FFFD silently);
 * - a record csv-parse cannot parse — an unclosed quote, a record past the size limit, a quoted
 *   field closed by a stray quote — is reported once, at the line it starts on, and reading resumes
 *   with a fresh parser at the next line. (csv-parse's own skipping resumes wherever it gave up,
 *   mid-field, and reports the rest of that field as more broken records at lines that don't exist.)
 *
 * To resume, the reader keeps the bytes from the start of the record being parsed (at most the
 * record size limit plus a chunk). Everything here is synchronous: a record is handed over while
 * the chunk that completes it is written.
 */
import { isUtf8 } from 'node:buffer';
import { Parser, type CsvError, type Options } from 'csv-parse';
import { chooseDelimiter, isBlankRecord, UploadRejectedError } from '../shared/csv';

/** Where the reader hands what it read. Blank lines are skipped (they count as lines). */
export interface RecordListener {
  /** A record (the header first), with the line it starts on. */
  record(fields: string[], line: number): void;
  /** A record holding bytes that are not UTF-8 (decoded to U+FFFD in `fields`); `invalid` lists the fields that hold them. */
  invalidText(fields: string[], line: number, invalid: number[]): void;
  /** A record that could not be parsed; reading resumes at the line after `line`. */
  unparseable(line: number, reason: string): void;
}

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const utf8Bom = Buffer.from([0xef, 0xbb, 0xbf]);
const ignore = (): void => undefined;
// Bound once: under tsx (the CLI's local runtime, the benchmarks) every imported binding is read through a getter.
const isBlank = isBlankRecord;
const rethrow = (error?: Error | null): void => {
  if (error) throw error;
};

/**
 * csv-parse's parser, driven synchronously through its Transform implementation (`_transform`,
 * `_flush`) and taking each record from `push` as it is parsed: no stream plumbing, no buffering
 * on a readable side, and nothing between one record and the next. (Not csv-parse's `on_record`
 * hook: that builds an info object for every record, which made it the splitter's largest cost.)
 */
class RecordParser extends Parser {
  onRecord: (record: string[]) => void = ignore;

  override push(record: unknown): boolean {
    if (record !== null) this.onRecord(record as string[]);
    return true;
  }

  feed(bytes: Buffer): void {
    if (bytes.length > 0) this._transform(bytes, 'buffer' as BufferEncoding, rethrow);
  }

  finish(): void {
    this._flush(rethrow);
  }
}

/** Line breaks inside a record's fields: CRLF, CR and LF each end a line. */
function lineBreaks(record: readonly string[]): number {
  let breaks = 0;
  for (const field of record) {
    if (field.indexOf('\n') === -1 && field.indexOf('\r') === -1) continue;
    for (let at = 0; at < field.length; at += 1) {
      const code = field.charCodeAt(at);
      if (code === LF) breaks += 1;
      else if (code === CR) {
        breaks += 1;
        if (field.charCodeAt(at + 1) === LF) at += 1;
      }
    }
  }
  return breaks;
}

/** Whether a field begins with a quote, which relaxed parsing also produces when a quoted field is closed by a stray quote. */
function hasLeadingQuote(record: readonly string[]): boolean {
  for (const field of record) if (field.charCodeAt(0) === QUOTE) return true;
  return false;
}

/** Where a byte stream's last character starts when its end cuts that character short (else the stream's length). */
function incompleteTail(bytes: Buffer): number {
  for (let at = bytes.length - 1; at >= 0 && at >= bytes.length - 4; at -= 1) {
    const byte = bytes[at]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: the character started earlier
    const size = byte < 0xc0 ? 1 : byte < 0xe0 ? 2 : byte < 0xf0 ? 3 : 4;
    return at + size > bytes.length ? at : bytes.length;
  }
  return bytes.length;
}

/** Checks a byte stream for invalid UTF-8 chunk by chunk; a character split between two chunks is checked whole. */
class Utf8Scan {
  private tail: Buffer | undefined;

  /** False when the chunk (with the end of the one before) holds bytes that are not UTF-8. */
  check(chunk: Buffer): boolean {
    const bytes = this.tail === undefined ? chunk : Buffer.concat([this.tail, chunk]);
    const cut = incompleteTail(bytes);
    this.tail = cut < bytes.length ? Buffer.from(bytes.subarray(cut)) : undefined;
    return isUtf8(bytes.subarray(0, cut));
  }

  /** False when the stream ended inside a character. */
  complete(): boolean {
    return this.tail === undefined;
  }
}

function sizeText(bytes: number): string {
  const MiB = 1024 * 1024;
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
}

function describeParseError(error: CsvError, maxRecordBytes: number): string {
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field opened on this line is never closed';
    case 'CSV_MAX_RECORD_SIZE':
      return `the record is longer than the ${sizeText(maxRecordBytes)} limit (a quoted field opened on this line and never closed?)`;
    default:
      return `the record is not valid CSV (${error.message})`;
  }
}

const strayQuoteReason = 'a quoted field on this line is closed by a quote that is followed by more text (a quote inside a quoted field is written twice: "")';

type ReaderState =
  /** Looking for the first non-blank line, from `headerSearch`. */
  | 'header'
  | 'parsing'
  /** After a record that could not be parsed: looking for the end of its first line, from `skip`. */
  | 'skipping'
  | 'done';

export class RecordReader {
  /** The bytes from the earliest offset still needed (`chunksStart`) to the last received. */
  private readonly chunks: Buffer[] = [];
  private chunksStart = 0;
  private received = 0;
  private ended = false;
  /**
   * Until a CR arrives, LF is the only line end: the parser is given that one record delimiter (three
   * cost csv-parse ~7% more per byte) and counts the lines itself. The first chunk holding a CR
   * hands the record in progress to a parser that knows CRLF and CR too, and lines are counted
   * from the fields from then on (csv-parse counts a CRLF inside quotes twice).
   */
  private carriageReturns = false;
  private readonly utf8 = new Utf8Scan();
  /** Records that start before this offset may hold invalid UTF-8 and are checked byte by byte. */
  private uncheckedUntil = 0;

  private state: ReaderState = 'header';
  private readonly headerSearch = { offset: 0, line: 1 };
  private readonly skip = { from: 0, line: 0 };
  private delimiter = ',';
  /** The header's field count, once it has been read (0 before). */
  private columns = 0;

  private parser: RecordParser | undefined;
  private parserInfo: { bytes: number; lines: number } = { bytes: 0, lines: 1 };
  /** The input offset of the parser's first byte (before it, when a primer record was fed first). */
  private parserStart = 0;
  private recordStart = 0;
  private nextLine = 1;
  /** The file's line before the parser's first line (its line 1), for csv-parse's own line count. */
  private parserLineBase = 0;
  /** Set when the parser met a record it cannot parse: where a fresh parser is to start. */
  private resume: { from: number; line: number } | undefined;

  constructor(
    private readonly listener: RecordListener,
    private readonly maxRecordBytes: number,
    /** A store-scoped upload: its header may leave the store column out (the delimiter is chosen accordingly). */
    private readonly storeScoped = false,
  ) {}

  write(chunk: Buffer): void {
    if (chunk.length === 0) return;
    const firstCarriageReturn = !this.carriageReturns && chunk.includes(CR);
    if (!this.utf8.check(chunk)) this.uncheckedUntil = this.received + chunk.length;
    this.chunks.push(chunk);
    this.received += chunk.length;
    this.dropConsumed();
    if (firstCarriageReturn) {
      this.carriageReturns = true;
      if (this.state === 'parsing') {
        this.run(this.startParser(this.recordStart, this.nextLine));
        return;
      }
    }
    this.run(chunk);
  }

  end(): void {
    this.ended = true;
    if (!this.utf8.complete()) this.uncheckedUntil = this.received;
    this.run(undefined);
  }

  /** Feeds the newest bytes to the parser, starting a fresh one wherever a record could not be parsed. */
  private run(input: Buffer | undefined): void {
    let bytes = input;
    if (this.state === 'header') bytes = this.findHeader();
    else if (this.state === 'skipping') bytes = this.skipLine();
    for (;;) {
      if (this.state !== 'parsing') return;
      const parser = this.parser!;
      if (bytes !== undefined) parser.feed(bytes);
      if (this.resume === undefined && this.ended) parser.finish();
      if (this.resume === undefined) return;
      this.skip.from = this.resume.from;
      this.skip.line = this.resume.line;
      this.resume = undefined;
      this.state = 'skipping';
      bytes = this.skipLine();
    }
  }

  /** The hot path: one call per record. */
  private readonly onRecord = (record: string[]): void => {
    const start = this.recordStart;
    const end = (this.recordStart = this.parserStart + this.parserInfo.bytes);
    const line = this.nextLine;
    this.nextLine = this.carriageReturns ? line + 1 + lineBreaks(record) : this.parserLineBase + this.parserInfo.lines + 1;
    if (hasLeadingQuote(record) && this.closedByStrayQuote(start, end)) {
      this.unparseable(line, start, strayQuoteReason);
      return;
    }
    if (isBlank(record, this.delimiter)) return;
    if (this.columns === 0) this.columns = record.length;
    if (start < this.uncheckedUntil && !isUtf8(this.bytesFrom(start, end))) {
      this.listener.invalidText(record, line, this.fieldsWithReplacements(record));
      return;
    }
    this.listener.record(record, line);
  };

  private readonly onSkip = (error: CsvError | undefined): undefined => {
    // After the first error the parser is abandoned; what it still reports from the same chunk is not ours.
    if (error !== undefined && this.resume === undefined) this.unparseable(this.nextLine, this.recordStart, describeParseError(error, this.maxRecordBytes));
    return undefined;
  };

  /** Reports the record starting at `line` (offset `start`) and has reading resume at the next line. */
  private unparseable(line: number, start: number, reason: string): void {
    if (this.columns === 0) throw new UploadRejectedError(`the header (line ${line}) is not valid CSV: ${reason}`);
    // This parser is done: whatever it parses after this point is ignored.
    this.parser!.onRecord = ignore;
    this.resume = { from: start, line: line + 1 };
    this.listener.unparseable(line, `${reason}; reading resumed on the next line`);
  }

  private fieldsWithReplacements(record: readonly string[]): number[] {
    const fields: number[] = [];
    record.forEach((field, index) => {
      if (field.includes('\uFFFD')) fields.push(index);
    });
    return fields;
  }

  /**
   * Whether the record's quoted fields are closed by a stray quote (`"abc"def`): relaxed parsing,
   * which the file needs for quotes inside unquoted fields (`12" pipe`), would glue the rest of the
   * field — often the lines up to the next quote — onto it. A strict parse of the record's bytes tells.
   */
  private closedByStrayQuote(start: number, end: number): boolean {
    let stray = false;
    const check = new RecordParser(
      this.options({
        relax_quotes: false,
        on_skip: (error) => {
          if (error?.code === 'CSV_INVALID_CLOSING_QUOTE') stray = true;
          return undefined;
        },
      }),
    );
    check.feed(this.bytesFrom(start, end));
    check.finish();
    return stray;
  }

  private options(overrides: Options = {}): Options {
    return {
      delimiter: this.delimiter,
      // LF, CRLF and CR, even mixed in one file (the first line's ending does not decide for the rest).
      record_delimiter: this.carriageReturns ? ['\n', '\r\n', '\r'] : ['\n'],
      // Ragged rows and blank lines reach onRecord: the contract rejects or skips them, with their line.
      relax_column_count: true,
      relax_quotes: true,
      skip_records_with_error: true,
      max_record_size: this.maxRecordBytes,
      on_skip: this.onSkip,
      ...overrides,
    };
  }

  /** A fresh parser reading from `offset`, where a record starts on `line`; returns the bytes it has to read so far. */
  private startParser(offset: number, line: number): Buffer {
    // csv-parse takes the expected field count from its first record and builds an error object for
    // every record that differs (relaxed, then discarded): five times slower. After the header, a
    // fresh parser is therefore primed with a blank record of the header's width.
    const primer = this.columns > 0 ? Buffer.from(`${this.delimiter.repeat(this.columns - 1)}\n`) : undefined;
    const parser = new RecordParser(this.options());
    parser.onRecord = primer === undefined ? this.onRecord : () => (parser.onRecord = this.onRecord);
    this.parser = parser;
    this.parserInfo = parser.info;
    this.parserStart = offset - (primer?.length ?? 0);
    this.recordStart = offset;
    this.nextLine = line;
    this.parserLineBase = line - 1 - (primer === undefined ? 0 : 1);
    this.state = 'parsing';
    const rest = this.bytesFrom(offset);
    return primer === undefined ? rest : Buffer.concat([primer, rest]);
  }

  /** Skips blank lines (and a BOM) up to the header line, then chooses the delimiter and starts parsing there. */
  private findHeader(): Buffer | undefined {
    const search = this.headerSearch;
    const bytes = this.bytesFrom(search.offset);
    let at = 0;
    if (search.offset === 0) {
      const start = bytes.subarray(0, utf8Bom.length);
      if (start.equals(utf8Bom.subarray(0, start.length))) {
        if (start.length < utf8Bom.length && !this.ended) return undefined;
        if (start.length === utf8Bom.length) at = utf8Bom.length;
      }
    }
    for (;;) {
      const lf = bytes.indexOf(LF, at);
      const cr = bytes.indexOf(CR, at);
      const lineEnd = cr === -1 ? lf : lf === -1 ? cr : Math.min(lf, cr);
      const to = lineEnd === -1 ? bytes.length : lineEnd;
      // Whether the line is complete yet or not, so that how the bytes arrive changes nothing.
      if (to - at > this.maxRecordBytes) {
        throw new UploadRejectedError(`the header (line ${search.line}) is longer than ${sizeText(this.maxRecordBytes)}: this is not a CSV file`);
      }
      if (lineEnd === -1 && !this.ended) {
        // The line has not ended yet.
        search.offset += at;
        return undefined;
      }
      if (bytes.toString('utf8', at, to).trim() !== '') return this.startAtHeader(bytes.subarray(at, to), search.offset + at, search.line);
      if (lineEnd === -1) {
        this.state = 'done';
        return undefined;
      }
      if (lineEnd === bytes.length - 1 && bytes[lineEnd] === CR && !this.ended) {
        // A blank line ending in CR: whether an LF follows (one line end, not two) is not known yet.
        search.offset += at;
        return undefined;
      }
      at = lineEnd + (bytes[lineEnd] === CR && bytes[lineEnd + 1] === LF ? 2 : 1);
      search.line += 1;
    }
  }

  /** The header line is complete: checks it is UTF-8, chooses the delimiter from it and starts parsing at it. */
  private startAtHeader(line: Buffer, offset: number, lineNumber: number): Buffer {
    const text = line.toString('utf8');
    if (!isUtf8(line)) {
      const bad = text.indexOf('\uFFFD');
      throw new UploadRejectedError(
        `the header (line ${lineNumber}) is not valid UTF-8 (near '${text.slice(Math.max(0, bad - 20), bad + 20)}'): the file must be saved as UTF-8`,
      );
    }
    this.delimiter = chooseDelimiter(text, lineNumber, this.storeScoped);
    return this.startParser(offset, lineNumber);
  }

  /** After a record that could not be parsed: a fresh parser at the line after the one it started on. */
  private skipLine(): Buffer | undefined {
    const { from, line } = this.skip;
    const bytes = this.bytesFrom(from);
    const lf = bytes.indexOf(LF);
    const cr = bytes.indexOf(CR);
    const lineEnd = cr === -1 ? lf : lf === -1 ? cr : Math.min(lf, cr);
    if (lineEnd === -1 || (lineEnd === bytes.length - 1 && bytes[lineEnd] === CR && !this.ended)) {
      if (this.ended) this.state = 'done';
      else this.skip.from = lineEnd === -1 ? this.received : from + lineEnd;
      return undefined;
    }
    const next = from + lineEnd + (bytes[lineEnd] === CR && bytes[lineEnd + 1] === LF ? 2 : 1);
    return this.startParser(next, line);
  }

  /** Drops the chunks wholly before the earliest offset a record, a restart or the header search may still need. */
  private dropConsumed(): void {
    const keep = this.state === 'header' ? this.headerSearch.offset : this.state === 'skipping' ? this.skip.from : this.recordStart;
    while (this.chunks.length > 1 && this.chunksStart + this.chunks[0]!.length <= keep) {
      this.chunksStart += this.chunks.shift()!.length;
    }
  }

  private bytesFrom(from: number, to = this.received): Buffer {
    const parts: Buffer[] = [];
    let start = this.chunksStart;
    for (const chunk of this.chunks) {
      const end = start + chunk.length;
      if (end > from && start < to) parts.push(chunk.subarray(Math.max(0, from - start), Math.min(chunk.length, to - start)));
      start = end;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
