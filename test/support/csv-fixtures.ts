/**
 * Random store files for property tests, built together with what the CSV contract says must come
 * out of them: the valid rows (trimmed, with the physical line each record starts on) and the lines
 * that must be rejected. Lines are counted from the text as it is written, not by the code under test.
 */
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
