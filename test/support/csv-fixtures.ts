/**
 * Random store files for property tests, built together with what the CSV contract says must come
 * out of them: the valid rows (trimmed, with the physical line each record starts on) and the lines
 * that must be rejected. Lines are counted from the text as it is written, not by the code under test.
 */
import fc from 'fast-check';
import type { InventoryRow } from '../../src/shared/csv';
import { Prng } from '../../src/shared/prng';

/** Pieces of product names: multibyte characters, and everything RFC 4180 makes a field quote. */
export const productPieces = ['a', 'Z', 'widget', ' ', ',', '"', '\n', '\r\n', 'é', '€', '日本', '🙂', 'x-1'];
const storePieces = ['S', '12', '-', 'é', '東京', ' '];

/** A field as a CSV writer would put it: quoted when RFC 4180 requires it, sometimes when it doesn't. */
export function csvField(value: string, prng?: Prng): string {
  const mustQuote = /[",\r\n]/.test(value);
  if (mustQuote || prng?.chance(0.1)) return `"${value.replace(/"/g, '""')}"`;
  return value;
}

export function pad(value: string, prng: Prng): string {
  return prng.chance(0.2) ? ` ${value}  ` : value;
}

/** A store name that is never blank after trimming. */
export function randomStore(prng: Prng): string {
  return `S${prng.text(storePieces, 0, 4)}`;
}

/** A product name that is never blank after trimming (it starts with a letter). */
export function randomProduct(prng: Prng, maxPieces: number): string {
  return `${prng.pick(['P', 'q', 'Ü'])}${prng.text(productPieces, 0, maxPieces)}`;
}

/** A valid contract row as the splitter produces it (already trimmed). */
export function randomRow(prng: Prng, line: number, maxPieces: number): InventoryRow {
  return {
    store: randomStore(prng).trim(),
    product: randomProduct(prng, maxPieces).trim(),
    count: prng.chance(0.1) ? 0 : prng.int(0, 1_000_000),
    threshold: prng.chance(0.5) ? null : prng.int(0, 500),
    line,
  };
}

type RejectKind = 'negative count' | 'decimal count' | 'word count' | 'empty count' | 'empty store' | 'empty product' | 'too few fields' | 'too many fields' | 'bad threshold';

/** What the reason for each kind of bad row must mention. */
export const rejectReason: Record<RejectKind, RegExp> = {
  'negative count': /^count '-\d+' is not a whole number/,
  'decimal count': /^count '\d+\.\d+' is not a whole number/,
  'word count': /^count 'abc' is not a whole number/,
  'empty count': /^count is empty$/,
  'empty store': /^store is empty$/,
  'empty product': /^product is empty$/,
  'too few fields': /^has \d+ fields?, the header has \d+$/,
  'too many fields': /^has \d+ fields?, the header has \d+$/,
  'bad threshold': /^threshold '.*' is not a whole number/,
};

export interface ExpectedReject {
  line: number;
  reason: RegExp;
}

export interface GeneratedUpload {
  text: string;
  valid: InventoryRow[];
  rejected: ExpectedReject[];
}

export interface UploadShape {
  rows: number;
  maxProductPieces: number;
  /** Share of rows that break the contract. */
  invalidShare: number;
}

/**
 * A file with the header columns in a random order, case and padding (sometimes with threshold and
 * an ignored extra column), a BOM sometimes, LF and CRLF mixed, blank and whitespace-only lines.
 */
export function generateUpload(prng: Prng, shape: UploadShape): GeneratedUpload {
  const columns = ['store', 'product', 'count'];
  if (prng.chance(0.7)) columns.push('threshold');
  if (prng.chance(0.3)) columns.push('note');
  const order = prng.shuffle(columns);
  const hasThreshold = order.includes('threshold');

  let text = prng.chance(0.3) ? '\uFEFF' : '';
  let newlines = 0;
  const write = (chunk: string) => {
    text += chunk;
    for (const char of chunk) if (char === '\n') newlines += 1;
  };
  const eol = () => prng.pick(['\n', '\r\n']);
  const blankLines = () => {
    while (prng.chance(0.1)) write(`${prng.pick(['', '   ', ' \t'])}${eol()}`);
  };

  blankLines();
  const headerName = (name: string) => pad(prng.chance(0.5) ? name.toUpperCase() : name, prng);
  write(order.map(headerName).join(',') + eol());

  const valid: InventoryRow[] = [];
  const rejected: ExpectedReject[] = [];
  const kinds = Object.keys(rejectReason).filter((kind) => hasThreshold || kind !== 'bad threshold') as RejectKind[];
  for (let index = 0; index < shape.rows; index += 1) {
    blankLines();
    const line = newlines + 1;
    const row = randomRow(prng, line, shape.maxProductPieces);
    if (!hasThreshold) row.threshold = null;
    const fields: Record<string, string> = {
      store: pad(row.store, prng),
      product: pad(row.product, prng),
      count: pad(String(row.count), prng),
      threshold: row.threshold === null ? prng.pick(['', ' ']) : pad(String(row.threshold), prng),
      note: prng.text(productPieces, 0, 3),
    };
    let record = order.map((column) => fields[column]!);
    const kind = prng.chance(shape.invalidShare) ? prng.pick(kinds) : undefined;
    if (kind === undefined) {
      valid.push(row);
    } else {
      rejected.push({ line, reason: rejectReason[kind] });
      const set = (column: string, value: string) => {
        record[order.indexOf(column)] = value;
      };
      if (kind === 'negative count') set('count', `-${prng.int(1, 99)}`);
      if (kind === 'decimal count') set('count', `${prng.int(0, 99)}.5`);
      if (kind === 'word count') set('count', 'abc');
      if (kind === 'empty count') set('count', prng.pick(['', '  ']));
      if (kind === 'empty store') set('store', prng.pick(['', ' ']));
      if (kind === 'empty product') set('product', prng.pick(['', '   ']));
      if (kind === 'bad threshold') set('threshold', prng.pick(['-3', '2.5', 'ten']));
      if (kind === 'too few fields') record = record.slice(0, -1);
      if (kind === 'too many fields') record = [...record, 'extra'];
    }
    write(record.map((field) => csvField(field, prng)).join(','));
    // The last record may end the file without a line break (and then without blank lines after it).
    if (index < shape.rows - 1 || prng.chance(0.5)) write(eol());
    else return { text, valid, rejected };
  }
  blankLines();
  return { text, valid, rejected };
}

/** The bytes cut at random places (also inside multibyte characters), as a network stream delivers them. */
export function randomChunks(bytes: Buffer, prng: Prng, maxChunk: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; ) {
    const size = prng.int(1, maxChunk);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

// ---------------------------------------------------------------------------------------------
// Property-test fixtures: store files in every dialect the contract accepts, and a reference
// reader that says what must come out of them, written as plainly as the contract reads.

/** The field delimiters the contract accepts (what settings.csv.delimiters must hold). */
export const delimiters = [',', ';', '\t', '|'] as const;
export type Delimiter = (typeof delimiters)[number];

/** The accepted header names, spelled out here as the README lists them. */
export const acceptedNames = {
  store: ['store', 'store id', 'store number', 'store no', 'location', 'site'],
  product: ['product', 'product id', 'sku', 'item', 'item id', 'upc', 'ean', 'gtin'],
  count: ['count', 'qty', 'quantity', 'on hand', 'onhand', 'stock', 'available'],
  threshold: ['threshold', 'min', 'min qty', 'reorder point', 'par', 'safety stock'],
} as const;
type Field = keyof typeof acceptedNames;

export interface ReferenceRow {
  store: string;
  product: string;
  count: number;
  threshold: number | null;
  line: number;
}

export interface ReferenceOutcome {
  status: 'processed' | 'failed';
  rows: ReferenceRow[];
  /** The lines of the rejected rows, in file order. */
  rejectedLines: number[];
}

/**
 * RFC 4180 read character by character: records with the physical line each starts on. CRLF, CR
 * and LF each end a line (outside quotes they also end the record); `""` inside quotes is a quote.
 * Only for well-formed text: a quote inside an unquoted field or an unclosed quote is not handled.
 */
export function referenceRecords(text: string, delimiter: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let pending = false; // whether the current record has begun
  const endRecord = () => {
    fields.push(field);
    records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    pending = false;
  };
  for (let at = 0; at < body.length; at += 1) {
    const char = body[at]!;
    if (!pending) {
      pending = true;
      recordLine = line;
    }
    if (quoted) {
      if (char === '"' && body[at + 1] === '"') {
        field += '"';
        at += 1;
      } else if (char === '"') quoted = false;
      else {
        field += char;
        if (char === '\n' || char === '\r') line += 1;
        if (char === '\r' && body[at + 1] === '\n') {
          field += '\n';
          at += 1;
        }
      }
    } else if (char === '"' && field === '') quoted = true;
    else if (char === delimiter) {
      fields.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      if (char === '\r' && body[at + 1] === '\n') at += 1;
      line += 1;
      endRecord();
    } else field += char;
  }
  if (pending) endRecord();
  return records;
}

const nameKey = (name: string) => name.toLowerCase().replace(/[ _-]+/g, ' ').trim();
const isBlank = (fields: readonly string[], delimiter: string) =>
  fields.every((field) => field.trim() === '') && (fields.length === 1 || delimiter === '\t');

/** What the CSV contract makes of well-formed text: the valid rows and the lines it rejects. */
export function referenceOutcome(text: string, delimiter: string): ReferenceOutcome {
  const records = referenceRecords(text, delimiter).filter((record) => !isBlank(record.fields, delimiter));
  const [header, ...data] = records;
  if (header === undefined) return { status: 'failed', rows: [], rejectedLines: [] };
  const position = (field: Field) => header.fields.findIndex((name) => (acceptedNames[field] as readonly string[]).includes(nameKey(name)));
  const at = { store: position('store'), product: position('product'), count: position('count'), threshold: position('threshold') };
  if (at.store < 0 || at.product < 0 || at.count < 0) return { status: 'failed', rows: [], rejectedLines: [] };
  const rows: ReferenceRow[] = [];
  const rejectedLines: number[] = [];
  const whole = (raw: string) => (/^\d+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : undefined);
  for (const { line, fields } of data) {
    const value = (index: number) => fields[index]!.trim();
    const count = fields.length === header.fields.length ? whole(value(at.count)) : undefined;
    const rawThreshold = at.threshold < 0 || fields.length !== header.fields.length ? '' : value(at.threshold);
    const threshold = rawThreshold === '' ? null : whole(rawThreshold);
    if (fields.length !== header.fields.length || value(at.store) === '' || value(at.product) === '' || count === undefined || threshold === undefined) {
      rejectedLines.push(line);
    } else {
      rows.push({ store: value(at.store), product: value(at.product), count, threshold, line });
    }
  }
  return { status: 'processed', rows, rejectedLines };
}

/** The physical lines of a file's bytes (CRLF, CR and LF each end one): what a reported line number must point into. */
export function physicalLines(bytes: Buffer): Buffer[] {
  const lines: Buffer[] = [];
  let start = 0;
  for (let at = 0; at < bytes.length; at += 1) {
    if (bytes[at] !== 0x0a && bytes[at] !== 0x0d) continue;
    lines.push(bytes.subarray(start, at));
    if (bytes[at] === 0x0d && bytes[at + 1] === 0x0a) at += 1;
    start = at + 1;
  }
  if (start < bytes.length) lines.push(bytes.subarray(start));
  return lines;
}

/** Text pieces for field values: every character a dialect makes special, multibyte characters, digits. */
const valuePieces = ['a', 'Z', 'widget', ' ', ',', ';', '\t', '|', '"', '\n', '\r\n', '\r', 'é', '€', '日本', '🙂', 'x-1', '7'];

interface GeneratedRowSpec {
  store: string;
  product: string;
  count: string;
  threshold: string;
  note: string;
  /** 'short' drops the last field, 'long' adds one. */
  shape: 'ok' | 'short' | 'long';
  quoteAll: boolean;
  pad: boolean;
  blankBefore: string | null;
  lineEnd: string;
}

export interface StoreFileSpec {
  delimiter: Delimiter;
  bom: boolean;
  columns: string[];
  names: Record<string, string>;
  quoteHeader: boolean;
  lineEnds: 'LF' | 'CRLF' | 'CR' | 'mixed';
  rows: GeneratedRowSpec[];
  finalLineEnd: boolean;
  trailingBlankLines: number;
}

const valueArbitrary = (prefix: string) => fc.array(fc.constantFrom(...valuePieces), { maxLength: 6 }).map((pieces) => prefix + pieces.join(''));

/** A header name as exports write it: any accepted name, in any case, with spaces, dashes or underscores. */
const nameArbitrary = (field: Field) =>
  fc
    .tuple(fc.constantFrom(...acceptedNames[field]), fc.constantFrom(' ', '_', '-', ' - '), fc.constantFrom('lower', 'upper', 'title'), fc.boolean())
    .map(([name, separator, letterCase, padded]) => {
      let spelled = name.replace(/ /g, separator);
      if (letterCase === 'upper') spelled = spelled.toUpperCase();
      if (letterCase === 'title') spelled = spelled.replace(/\b\w/g, (letter) => letter.toUpperCase());
      return padded ? ` ${spelled} ` : spelled;
    });

const rowArbitrary: fc.Arbitrary<GeneratedRowSpec> = fc.record({
  store: valueArbitrary('S'),
  product: valueArbitrary('P'),
  count: fc.oneof({ weight: 6, arbitrary: fc.nat({ max: 1_000_000 }).map(String) }, { weight: 1, arbitrary: fc.constantFrom('-1', '4.5', 'abc', '', ' ') }),
  threshold: fc.oneof(fc.constant(''), fc.nat({ max: 500 }).map(String), fc.constantFrom('x', '-2')),
  note: valueArbitrary(''),
  shape: fc.constantFrom<GeneratedRowSpec['shape']>('ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'short', 'long'),
  quoteAll: fc.boolean(),
  pad: fc.boolean(),
  blankBefore: fc.oneof({ weight: 8, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.constantFrom('', '   ', ' \t ') }),
  lineEnd: fc.constantFrom('\n', '\r\n', '\r'),
});

/** A store file's shape: dialect, header, rows (some bad), blank lines, line ends. */
export const storeFileArbitrary: fc.Arbitrary<StoreFileSpec> = fc
  .record({
    delimiter: fc.constantFrom(...delimiters),
    bom: fc.boolean(),
    threshold: fc.boolean(),
    note: fc.boolean(),
    order: fc.array(fc.nat(), { minLength: 5, maxLength: 5 }),
    names: fc.record({ store: nameArbitrary('store'), product: nameArbitrary('product'), count: nameArbitrary('count'), threshold: nameArbitrary('threshold') }),
    quoteHeader: fc.boolean(),
    lineEnds: fc.constantFrom<StoreFileSpec['lineEnds']>('LF', 'CRLF', 'CR', 'mixed'),
    rows: fc.array(rowArbitrary, { maxLength: 12 }),
    finalLineEnd: fc.boolean(),
    trailingBlankLines: fc.nat({ max: 2 }),
  })
  .map(({ threshold, note, order, ...spec }) => {
    const present = ['store', 'product', 'count', ...(threshold ? ['threshold'] : []), ...(note ? ['note'] : [])];
    // A permutation from the random keys: sort the columns by them.
    const columns = present.map((column, index) => ({ column, key: order[index]! })).sort((a, b) => a.key - b.key).map(({ column }) => column);
    return { ...spec, columns, names: { ...spec.names, note: 'Description' } };
  });

/** The file's text, written as a CSV writer would: fields quoted where the dialect requires it (and sometimes where not). */
export function renderStoreFile(spec: StoreFileSpec): string {
  const { delimiter } = spec;
  const field = (value: string, quote: boolean) =>
    quote || value.includes(delimiter) || /["\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
  const lineEnd = (preferred: string) => ({ LF: '\n', CRLF: '\r\n', CR: '\r', mixed: preferred })[spec.lineEnds];
  let text = spec.bom ? '\uFEFF' : '';
  text += spec.columns.map((column) => field(spec.names[column]!, spec.quoteHeader)).join(delimiter) + lineEnd('\n');
  spec.rows.forEach((row, index) => {
    if (row.blankBefore !== null) text += row.blankBefore + lineEnd(row.lineEnd);
    const pad = (value: string) => (row.pad ? ` ${value} ` : value);
    const values: Record<string, string> = { store: pad(row.store), product: pad(row.product), count: pad(row.count), threshold: row.threshold, note: row.note };
    let fields = spec.columns.map((column) => field(values[column]!, row.quoteAll));
    if (row.shape === 'short') fields = fields.slice(0, -1);
    if (row.shape === 'long') fields = [...fields, 'extra'];
    text += fields.join(delimiter);
    if (index < spec.rows.length - 1 || spec.finalLineEnd) text += lineEnd(row.lineEnd);
  });
  if (spec.finalLineEnd || spec.rows.length === 0) for (let blank = 0; blank < spec.trailingBlankLines; blank += 1) text += ` ${lineEnd('\n')}`;
  return text;
}
