/**
 * The CSV contract: which header a store file must have and which rows are applied or rejected.
 * Pure functions over csv-parse's array records; the splitter calls them once per record.
 */
import { parse as parseCsv } from 'csv-parse/sync';
import { settings } from './settings';

/** The fields a store file carries; a header may name each by any of its accepted names (settings.csv.columns). */
export type ContractColumn = keyof typeof settings.csv.columns;

/**
 * The store a store-scoped upload is for (settings.uploads.storeScoped), named by its key: its rows
 * may be for that store only, and its header may leave the store column out.
 */
export interface StoreScope {
  store: string;
  /** `uploads/<store>/`: where the store's uploads are, for reasons that name it. */
  prefix: string;
}

/** Where each contract column sits in a file's records (files may order columns freely). */
export interface CsvHeader {
  columns: number;
  /** -1 when the file has no store column: only in a store-scoped upload, whose key names the store. */
  store: number;
  product: number;
  count: number;
  /** -1 when the file has no threshold column. */
  threshold: number;
  /** The header's names as written (trimmed), for reasons that name a column. */
  names: string[];
  /** Set for a store-scoped upload: every row is for this store. */
  scope?: StoreScope;
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

/** How header names compare: case, surrounding spaces and the choice of ' ', '-' or '_' (or a run of them) do not matter. */
export function columnKey(name: string): string {
  return name.toLowerCase().replace(/[ _-]+/g, ' ').trim();
}

const contractColumns = Object.keys(settings.csv.columns) as ContractColumn[];
const columnOfName = new Map<string, ContractColumn>(
  contractColumns.flatMap((column) => settings.csv.columns[column].map((name): [string, ContractColumn] => [columnKey(name), column])),
);

/** The positions in `names` that name each contract column, in header order. */
function findColumns(names: readonly string[]): Record<ContractColumn, number[]> {
  const found: Record<ContractColumn, number[]> = { store: [], product: [], count: [], threshold: [] };
  names.forEach((name, index) => {
    const column = columnOfName.get(columnKey(name));
    if (column !== undefined) found[column].push(index);
  });
  return found;
}

/** In a store-scoped upload the key names the store, so the header needs the rest. */
const scopedRequiredColumns = settings.csv.requiredColumns.filter((column) => column !== 'store');

function missingColumns(found: Record<ContractColumn, number[]>, storeScoped: boolean): ContractColumn[] {
  return (storeScoped ? scopedRequiredColumns : settings.csv.requiredColumns).filter((column) => found[column].length === 0);
}

const quotedList = (names: readonly string[]): string => names.map((name) => `'${truncate(name)}'`).join(', ') || 'nothing';

/** `split`: how the names were split from the header line, when the delimiter was being chosen. */
function lacksReason(missing: readonly ContractColumn[], names: readonly string[], line: number, split = ''): string {
  const accepted = missing.map((column) => `${column}: ${settings.csv.columns[column].join(', ')}`).join('; ');
  return (
    `the header (line ${line}) lacks the required column${missing.length > 1 ? 's' : ''} ${quotedList(missing)}; ` +
    `found: ${quotedList(names)}${split} (accepted names for ${accepted})`
  );
}

/**
 * Matches a header record's names to the contract columns; a header that does not fit fails the file.
 * With a `scope` (a store-scoped upload) the store column is optional.
 */
export function parseHeader(record: readonly string[], line = 1, scope?: StoreScope): CsvHeader {
  const names = record.map((name) => name.trim());
  const found = findColumns(names);
  const missing = missingColumns(found, scope !== undefined);
  if (missing.length > 0) throw new UploadRejectedError(lacksReason(missing, names, line));
  for (const column of contractColumns) {
    const positions = found[column];
    if (positions.length > 1) {
      const named = positions.map((at) => `'${truncate(names[at]!)}' (column ${at + 1})`);
      throw new UploadRejectedError(
        `the header (line ${line}) names ${column} more than once: ${named.slice(0, -1).join(', ')} and ${named.at(-1)!}; keep one of them`,
      );
    }
  }
  return {
    columns: record.length,
    store: found.store[0] ?? -1,
    product: found.product[0]!,
    count: found.count[0]!,
    threshold: found.threshold[0] ?? -1,
    names,
    ...(scope === undefined ? {} : { scope }),
  };
}

const delimiterName = (delimiter: string): string => (delimiter === '\t' ? 'tab' : `'${delimiter}'`);

/** A header line's names as csv-parse reads them with one candidate delimiter; undefined when a quote in it is never closed. */
function splitHeaderLine(text: string, delimiter: string): string[] | undefined {
  try {
    const [names] = parseCsv(text, { delimiter, relax_quotes: true, relax_column_count: true }) as string[][];
    return (names ?? []).map((name) => name.trim());
  } catch {
    return undefined;
  }
}

/**
 * The field delimiter of a file, told from its header line (the first non-blank line, without its
 * line break): the one of settings.csv.delimiters that splits it into the required columns (in a
 * store-scoped upload, those but store). None or more than one fails the file, naming the delimiters tried.
 */
export function chooseDelimiter(headerLine: string, line: number, storeScoped = false): string {
  // A delimiter the line does not hold would leave it one name, which is never the required columns.
  const present = settings.csv.delimiters.filter((delimiter) => headerLine.includes(delimiter));
  const splits = (present.length > 0 ? present : settings.csv.delimiters.slice(0, 1)).flatMap((delimiter) => {
    const names = splitHeaderLine(headerLine, delimiter);
    return names === undefined ? [] : [{ delimiter, names, missing: missingColumns(findColumns(names), storeScoped) }];
  });
  if (splits.length === 0) throw new UploadRejectedError(`the header (line ${line}) is not valid CSV: a quoted field opened on this line is never closed`);
  const tried = settings.csv.delimiters.map(delimiterName).join(', ');
  const fitting = splits.filter((split) => split.missing.length === 0);
  if (fitting.length === 1) return fitting[0]!.delimiter;
  if (fitting.length > 1) {
    throw new UploadRejectedError(
      `the header (line ${line}) splits into the required columns on ${fitting.map((split) => delimiterName(split.delimiter)).join(' and ')} alike, ` +
        `so which delimiter separates the fields is ambiguous (delimiters tried: ${tried})`,
    );
  }
  const closest = splits.reduce((best, split) => (split.missing.length < best.missing.length ? split : best));
  throw new UploadRejectedError(lacksReason(closest.missing, closest.names, line, ` splitting on ${delimiterName(closest.delimiter)} (delimiters tried: ${tried})`));
}

/** Why a record holding bytes that are not UTF-8 is rejected, naming its fields that hold them (indexes into the record). */
export function invalidTextReason(header: CsvHeader, fields: readonly number[]): string {
  const named = fields.map((at) => (header.names[at] ? `'${truncate(header.names[at])}' (column ${at + 1})` : `column ${at + 1}`));
  const list = named.length > 1 ? `${named.slice(0, -1).join(', ')} and ${named.at(-1)!}` : (named[0] ?? 'unknown');
  return `field${named.length > 1 ? 's' : ''} ${list} ${named.length > 1 ? 'are' : 'is'} not valid UTF-8 (the file must be saved as UTF-8)`;
}

/**
 * Blank lines (empty or only whitespace) are skipped, not rejected. In a tab-separated file a line
 * of tabs and spaces is a blank line too; in any other a line of delimiters (`,,,`) is a record.
 */
export function isBlankRecord(record: readonly string[], delimiter = ','): boolean {
  if (record.length === 1) return record[0]!.trim() === '';
  return delimiter.trim() === '' && record.every((field) => field.trim() === '');
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

function otherStoreReason(store: string, scope: StoreScope): string {
  return `the row is for store '${truncate(store)}', but this upload (under ${scope.prefix}) may only hold rows for store '${truncate(scope.store)}'`;
}

/** Where `acceptRow` hands a valid row, field by field (the splitter's packer: no row object per record). */
export interface RowSink {
  row(store: string, product: string, count: number, threshold: number | null, line: number): void;
}

/**
 * Validates one data record against the header: the row to apply, or the reason it is rejected.
 * Fields are trimmed; `count` and a non-empty `threshold` must be whole numbers ≥ 0; in a
 * store-scoped upload the store is the scope's, whether the row names it or not.
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
  let store: string;
  const { scope } = header;
  if (scope === undefined) store = record[header.store]!.trim();
  else {
    store = header.store === -1 ? scope.store : record[header.store]!.trim();
    if (store !== scope.store && store !== '') return otherStoreReason(store, scope);
  }
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
