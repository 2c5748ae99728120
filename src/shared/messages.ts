/**
 * The message the splitter sends and the writer applies: a `RowBatch`, JSON with rows as tuples.
 *
 *   {"v":1,"upload":{"key":"uploads/s12.csv","stamp":"…"},"first":2,"last":1501,
 *    "rows":[["S12","Widget, large",7,null,2], …]}
 *
 * A message says which upload and which lines it carries. Rows are packed by size: a body never
 * exceeds `maxBytes` (UTF-8), counted exactly as rows are added.
 */
import { rowStamp, maxLine } from './upload';
import type { InventoryRow } from './csv';

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

export class RowBatchPacker {
  private readonly head: string;
  private readonly overhead: number;
  private parts: string[] = [];
  private bytes = 0;
  private first = 0;
  private last = 0;

  constructor(
    upload: BatchUpload,
    private readonly maxBytes: number,
    private readonly emit: (message: PackedMessage) => void,
  ) {
    this.head = `{"v":${messageVersion},"upload":${JSON.stringify({ key: upload.key, stamp: upload.stamp })}`;
    // Budget the envelope for the widest line numbers so the body can never outgrow maxBytes.
    this.overhead = Buffer.byteLength(`${this.head},"first":${maxLine},"last":${maxLine},"rows":[]}`);
    if (this.overhead >= maxBytes) throw new Error(`a message of ${maxBytes} bytes cannot even hold its envelope`);
  }

  add(row: InventoryRow): void {
    const tuple = JSON.stringify([row.store, row.product, row.count, row.threshold, row.line]);
    // JSON.stringify leaves non-ASCII as is, so UTF-16 length equals UTF-8 bytes unless some is present.
    const size = Buffer.byteLength(tuple) + 1;
    if (this.parts.length > 0 && this.overhead + this.bytes + size > this.maxBytes) this.flush();
    if (this.overhead + size > this.maxBytes) {
      throw new Error(`line ${row.line}: a row of ${size} bytes does not fit in a ${this.maxBytes}-byte message`);
    }
    if (this.parts.length === 0) this.first = row.line;
    this.last = row.line;
    this.parts.push(tuple);
    this.bytes += size;
  }

  flush(): void {
    if (this.parts.length === 0) return;
    const body = `${this.head},"first":${this.first},"last":${this.last},"rows":[${this.parts.join(',')}]}`;
    const message = { body, bytes: Buffer.byteLength(body), rows: this.parts.length, first: this.first, last: this.last };
    this.parts = [];
    this.bytes = 0;
    this.emit(message);
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
