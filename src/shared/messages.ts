/**
 * The message the splitter sends and the writer applies: a `RowBatch`, JSON with rows as tuples.
 *
 *   {"v":1,"upload":{"key":"uploads/s12.csv","stamp":"…"},"first":2,"last":1501,
 *    "rows":[["S12","Widget, large",7,null,2], …]}
 *
 * A message says which upload and which lines it carries. Rows are packed by size: a body never
 * exceeds `maxBytes` (UTF-8), counted exactly as rows are added. Rows the writer could not apply in
 * time because the table pushed back are re-sent in the same format with `"deferrals":n`.
 */
import { rowStamp, maxLine } from './upload';
import type { InventoryRow, RowSink } from './csv';

export const messageVersion = 1;

/** [store, product, count, threshold (null: keep the item's), line] */
export type RowTuple = [string, string, number, number | null, number];

export interface BatchUpload {
  key: string;
  stamp: string;
}

export interface RowBatch {
  v: typeof messageVersion;
  upload: BatchUpload;
  /** How many times the writer has deferred these rows (throttling); absent from the splitter's messages. */
  deferrals?: number;
  first: number;
  last: number;
  rows: RowTuple[];
}

/** A row as the writer applies it: the contract row plus its version stamp and source upload. */
export interface StampedRow extends InventoryRow {
  version: string;
  upload: string;
}

/** A message that can never be applied: retrying cannot help, so it ends in the dead-letter queue. */
export class MessageDecodeError extends Error {
  override name = 'MessageDecodeError';
}

export interface PackedMessage {
  body: string;
  bytes: number;
  rows: number;
  first: number;
  last: number;
}

/** Decimal digits of a whole number ≥ 0 (what JSON spends on it). */
function digits(value: number): number {
  if (value < 10) return 1;
  if (value < 100) return 2;
  if (value < 1000) return 3;
  if (value < 10000) return 4;
  let count = 5;
  for (let rest = Math.floor(value / 100000); rest >= 1; rest = Math.floor(rest / 10)) count += 1;
  return count;
}

/** Bytes a tuple takes in JSON when its strings are ASCII and need no escaping: `["s","p",7,null,2],` */
function plainTupleBytes(store: string, product: string, count: number, threshold: number | null, line: number): number {
  return store.length + product.length + digits(count) + (threshold === null ? 4 : digits(threshold)) + digits(line) + 11;
}

/**
 * Packs rows into messages of at most `maxBytes`. Sizes are counted cheaply per row as if every
 * string were plain ASCII, filling to `fill` of the limit; each body is then measured exactly once,
 * and a body that non-ASCII text or escaping pushed over the limit is split in two.
 */
export class RowBatchPacker implements RowSink {
  private readonly head: string;
  private readonly overhead: number;
  private readonly budget: number;
  private rows: RowTuple[] = [];
  private bytes = 0;

  constructor(
    upload: BatchUpload,
    private readonly maxBytes: number,
    private readonly emit: (message: PackedMessage) => void,
    options: { fill?: number; deferrals?: number } = {},
  ) {
    const { fill = 0.9, deferrals } = options;
    const deferral = deferrals === undefined ? '' : `,"deferrals":${deferrals}`;
    this.head = `{"v":${messageVersion},"upload":${JSON.stringify({ key: upload.key, stamp: upload.stamp })}${deferral}`;
    // Budget the envelope for the widest line numbers so the body can never outgrow maxBytes.
    this.overhead = Buffer.byteLength(`${this.head},"first":${maxLine},"last":${maxLine},"rows":[]}`);
    this.budget = Math.floor(maxBytes * fill) - this.overhead;
    if (this.budget <= 0) throw new Error(`a message of ${maxBytes} bytes cannot even hold its envelope`);
  }

  add(row: InventoryRow): void {
    this.row(row.store, row.product, row.count, row.threshold, row.line);
  }

  /** `add`, field by field (a RowSink for csv.ts's acceptRow). */
  row(store: string, product: string, count: number, threshold: number | null, line: number): void {
    const size = plainTupleBytes(store, product, count, threshold, line);
    // The plain size is a lower bound: a row over the limit by it can never be sent.
    if (this.overhead + size > this.maxBytes) throw new Error(`line ${line}: a row of ${size} bytes does not fit in a ${this.maxBytes}-byte message`);
    if (this.rows.length > 0 && this.bytes + size > this.budget) this.flush();
    this.rows.push([store, product, count, threshold, line]);
    this.bytes += size;
  }

  flush(): void {
    if (this.rows.length === 0) return;
    const rows = this.rows;
    this.rows = [];
    this.bytes = 0;
    this.emitRows(rows);
  }

  private emitRows(rows: RowTuple[]): void {
    const first = rows[0]![4];
    const last = rows[rows.length - 1]![4];
    const body = `${this.head},"first":${first},"last":${last},"rows":${JSON.stringify(rows)}}`;
    const bytes = Buffer.byteLength(body);
    if (bytes <= this.maxBytes) {
      this.emit({ body, bytes, rows: rows.length, first, last });
      return;
    }
    if (rows.length === 1) throw new Error(`line ${first}: a row of ${bytes - this.overhead} bytes does not fit in a ${this.maxBytes}-byte message`);
    const half = Math.ceil(rows.length / 2);
    this.emitRows(rows.slice(0, half));
    this.emitRows(rows.slice(half));
  }
}

const isString = (value: unknown): value is string => typeof value === 'string' && value !== '';
const isWhole = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/** Parses and checks a message body; anything malformed is a MessageDecodeError. */
export function decodeRowBatch(body: string): RowBatch {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new MessageDecodeError(`message body is not JSON (starts with ${JSON.stringify(body.slice(0, 40))})`);
  }
  const batch = parsed as Partial<RowBatch> | null;
  if (batch === null || typeof batch !== 'object' || batch.v !== messageVersion) {
    throw new MessageDecodeError(`message is not a version-${messageVersion} row batch`);
  }
  if (!batch.upload || !isString(batch.upload.key) || !isString(batch.upload.stamp)) {
    throw new MessageDecodeError('message does not name its upload');
  }
  if (batch.deferrals !== undefined && !isWhole(batch.deferrals)) throw new MessageDecodeError('message has a malformed deferral count');
  if (!Array.isArray(batch.rows)) throw new MessageDecodeError('message has no rows array');
  batch.rows.forEach((row, index) => {
    const valid =
      Array.isArray(row) &&
      row.length === 5 &&
      isString(row[0]) &&
      isString(row[1]) &&
      isWhole(row[2]) &&
      (row[3] === null || isWhole(row[3])) &&
      isWhole(row[4]);
    if (!valid) throw new MessageDecodeError(`row ${index} of the message is malformed: ${JSON.stringify(row).slice(0, 100)}`);
  });
  return batch as RowBatch;
}

export function stampedRows(batch: RowBatch): StampedRow[] {
  return batch.rows.map(([store, product, count, threshold, line]) => ({
    store,
    product,
    count,
    threshold,
    line,
    version: rowStamp(batch.upload.stamp, line),
    upload: batch.upload.key,
  }));
}

/** Re-packs rows of one upload (a deferred remainder) into as many messages as they need. */
export function packRows(upload: BatchUpload, rows: readonly InventoryRow[], maxBytes: number, deferrals: number): PackedMessage[] {
  const messages: PackedMessage[] = [];
  const packer = new RowBatchPacker(upload, maxBytes, (message) => messages.push(message), { deferrals });
  for (const row of rows) packer.add(row);
  packer.flush();
  return messages;
}
