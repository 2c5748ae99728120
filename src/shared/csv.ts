/**
 * The CSV contract: which header a store file must have and which rows are applied or rejected.
 * Pure functions over csv-parse's array records; the splitter calls them once per record.
 */
import { settings } from './settings';

/** Where each contract column sits in a file's records (files may order columns freely). */
export interface CsvHeader {
  columns: number;
  store: number;
  product: number;
  count: number;
  /** -1 when the file has no threshold column. */
  threshold: number;
}

/** A valid data row. `threshold` is null when the row does not set one. */
export interface InventoryRow {
  store: string;
  product: string;
  count: number;
  threshold: number | null;
  line: number;
}

/** A file that cannot be processed at all: nothing from it is applied. */
export class UploadRejectedError extends Error {
  override name = 'UploadRejectedError';
}

export function parseHeader(record: readonly string[], line = 1): CsvHeader {
  const names = record.map((name) => name.trim().toLowerCase());
  const indexOf = (column: string): number => {
    const first = names.indexOf(column);
    if (first !== -1 && names.indexOf(column, first + 1) !== -1) {
      throw new UploadRejectedError(`the header names column '${column}' more than once`);
    }
    return first;
  };
  const header = {
    columns: record.length,
    store: indexOf('store'),
    product: indexOf('product'),
    count: indexOf('count'),
    threshold: indexOf('threshold'),
  };
  const missing = settings.csv.requiredColumns.filter((column) => header[column] === -1);
  if (missing.length > 0) {
    const list = missing.map((column) => `'${column}'`).join(', ');
    throw new UploadRejectedError(
      `the header (line ${line}) lacks the required column${missing.length > 1 ? 's' : ''} ${list}; ` +
        `it must name store, product and count (threshold is optional), found: ${names.map((n) => `'${n}'`).join(', ') || 'nothing'}`,
    );
  }
  return header;
}

/** Blank lines (empty or only whitespace) are skipped, not rejected. */
export function isBlankRecord(record: readonly string[]): boolean {
  return record.length === 1 && record[0]!.trim() === '';
}

const { maxStoreBytes, maxProductBytes } = settings.csv;
const wholeNumber = /^\d+$/;
/** Unicode noncharacters SQS refuses in a message body (everything else is escaped by JSON). */
const nonCharacter = /[\uFFFE\uFFFF]/;

/** A whole number ≥ 0 that fits in a double exactly, or an error reason. */
function parseCount(raw: string, column: string): number | string {
  // Fast path, the common case: up to 15 ASCII digits (always a safe integer).
  if (raw.length > 0 && raw.length <= 15) {
    let value = 0;
    let at = 0;
    for (; at < raw.length; at += 1) {
      const digit = raw.charCodeAt(at) - 48;
      if (digit < 0 || digit > 9) break;
      value = value * 10 + digit;
    }
    if (at === raw.length) return value;
  }
  if (!wholeNumber.test(raw)) {
    return raw === '' ? `${column} is empty` : `${column} '${truncate(raw)}' is not a whole number ≥ 0`;
  }
  const value = Number(raw);
  return Number.isSafeInteger(value) ? value : `${column} '${truncate(raw)}' is too large`;
}

function truncate(text: string, max = 40): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Where `acceptRow` hands a valid row, field by field (the splitter's packer: no row object per record). */
export interface RowSink {
  row(store: string, product: string, count: number, threshold: number | null, line: number): void;
}

/**
 * Validates one data record against the header: the row to apply, or the reason it is rejected.
 * Fields are trimmed; `count` and a non-empty `threshold` must be whole numbers ≥ 0.
 */
export function validateRow(record: readonly string[], header: CsvHeader, line: number): InventoryRow | string {
  let row: InventoryRow | undefined;
  const reason = acceptRow(record, header, line, {
    row: (store, product, count, threshold) => (row = { store, product, count, threshold, line }),
  });
  return reason ?? row!;
}

/** `validateRow` for the hot path: a valid row goes to `sink`; a rejected row's reason is returned. */
export function acceptRow(record: readonly string[], header: CsvHeader, line: number, sink: RowSink): string | undefined {
  if (record.length !== header.columns) {
    return `has ${record.length} field${record.length === 1 ? '' : 's'}, the header has ${header.columns}`;
  }
  const store = record[header.store]!.trim();
  const product = record[header.product]!.trim();
  if (store === '') return 'store is empty';
  if (product === '') return 'product is empty';
  // Fast path: a string of n UTF-16 units has at most 3n UTF-8 bytes.
  if (store.length * 3 > maxStoreBytes && Buffer.byteLength(store) > maxStoreBytes) {
    return `store is longer than ${maxStoreBytes} bytes (the DynamoDB partition key limit)`;
  }
  if (product.length * 3 > maxProductBytes && Buffer.byteLength(product) > maxProductBytes) {
    return `product is longer than ${maxProductBytes} bytes (the DynamoDB sort key limit)`;
  }
  if (nonCharacter.test(store) || nonCharacter.test(product)) {
    return 'store or product contains U+FFFE/U+FFFF, which is not text';
  }
  const count = parseCount(record[header.count]!.trim(), 'count');
  if (typeof count === 'string') return count;
  let threshold: number | null = null;
  if (header.threshold !== -1) {
    const raw = record[header.threshold]!.trim();
    if (raw !== '') {
      const parsed = parseCount(raw, 'threshold');
      if (typeof parsed === 'string') return parsed;
      threshold = parsed;
    }
  }
  sink.row(store, product, count, threshold, line);
  return undefined;
}
