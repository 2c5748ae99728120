/**
 * Deterministic store CSVs for the benchmarks, built on the fly (nothing is committed).
 *
 * Rows look like a real nightly upload: store ids S0001..S0500, product names with spaces, some
 * with commas or inch marks that need quoting, a few non-ASCII; a threshold on a few % of rows;
 * about 0.1% bad rows. Bad rows keep the header's field count (a bad count, an empty store or
 * product) so that a bare csv-parse pass, which rejects ragged records, reads the same bytes
 * correctly.
 */
import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { Prng } from '../src/shared/prng';

export const csvHeader = 'store,product,count,threshold\n';

export interface CsvShape {
  /** Prefixes every store id, so two files with the same seed can name disjoint items. */
  storePrefix?: string;
  seed?: number;
  /** Share of rows with a threshold value (the column is always present). */
  thresholdShare?: number;
  badShare?: number;
}

/** One generated data row as the contract reads it, or the reason it will be rejected. */
export interface GeneratedRow {
  store: string;
  product: string;
  count: number;
  threshold: number | null;
  /** Set on a row the splitter must reject. */
  bad?: string;
}

const adjectives = ['Steel', 'Garden', 'Blue', 'Large', 'Compact', 'Organic', 'Heavy Duty', 'Classic', 'Crème', 'Cordless', 'Smart', 'Mini'];
const nouns = ['Widget', 'Hose', 'Pipe', 'Lamp', 'Drill', 'Kettle', 'Brûlée Set', 'Shelf', 'Bolt Pack', 'Planter', 'Cable', 'Fan'];
const sizes = ['large', 'small', '10 pack', 'XL', 'red', '2 m'];

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * Rows in file order. Every (store, product) is distinct: the product carries a SKU made from the
 * row's index, so every valid row of a file creates a new item.
 */
export class RowSource {
  private readonly next: () => number;
  private index = 0;
  private readonly storePrefix: string;
  private readonly thresholdShare: number;
  private readonly badShare: number;

  constructor(shape: CsvShape = {}) {
    const prng = new Prng(shape.seed ?? 20240601);
    this.next = () => prng.next();
    this.storePrefix = shape.storePrefix ?? '';
    this.thresholdShare = shape.thresholdShare ?? 0.04;
    this.badShare = shape.badShare ?? 0.001;
  }

  private pick(list: readonly string[]): string {
    return list[Math.floor(this.next() * list.length)]!;
  }

  row(): GeneratedRow {
    const sku = String(this.index).padStart(7, '0');
    this.index += 1;
    const store = `${this.storePrefix}S${String(1 + Math.floor(this.next() * 500)).padStart(4, '0')}`;
    const style = this.next();
    let product = `${this.pick(adjectives)} ${this.pick(nouns)}`;
    if (style < 0.15) product += `, ${this.pick(sizes)}`;
    else if (style < 0.18) product += ` ${1 + Math.floor(this.next() * 24)}"`;
    product += ` #${sku}`;
    // Mostly healthy stock; a few % below the default threshold of 10.
    const count = this.next() < 0.05 ? Math.floor(this.next() * 10) : 10 + Math.floor(this.next() * 490);
    const threshold = this.next() < this.thresholdShare ? 5 + Math.floor(this.next() * 20) : null;
    if (this.next() < this.badShare) {
      const kind = Math.floor(this.next() * 3);
      if (kind === 0) return { store, product, count, threshold, bad: 'count-not-a-number' };
      if (kind === 1) return { store: '', product, count, threshold, bad: 'store-empty' };
      return { store, product, count, threshold: null, bad: 'threshold-negative' };
    }
    return { store, product, count, threshold };
  }

  /** The row as a CSV line. */
  static line(row: GeneratedRow): string {
    const count = row.bad === 'count-not-a-number' ? `${row.count}x` : String(row.count);
    const threshold = row.bad === 'threshold-negative' ? '-5' : row.threshold === null ? '' : String(row.threshold);
    return `${row.store},${csvField(row.product)},${count},${threshold}\n`;
  }
}

export interface CsvBytes {
  chunks: Buffer[];
  bytes: number;
  rows: number;
  badRows: number;
}

/** The whole file in memory as ~`chunkBytes` Buffers (boundaries fall mid-row, as in a network stream). */
export function csvInMemory(rows: number, shape: CsvShape = {}, chunkBytes = 64 * 1024): CsvBytes {
  const source = new RowSource(shape);
  const parts: Buffer[] = [Buffer.from(csvHeader)];
  let pending: string[] = [];
  let pendingLength = 0;
  let badRows = 0;
  for (let i = 0; i < rows; i += 1) {
    const row = source.row();
    if (row.bad) badRows += 1;
    const line = RowSource.line(row);
    pending.push(line);
    pendingLength += line.length;
    if (pendingLength >= 1024 * 1024) {
      parts.push(Buffer.from(pending.join('')));
      pending = [];
      pendingLength = 0;
    }
  }
  parts.push(Buffer.from(pending.join('')));
  const whole = Buffer.concat(parts);
  const chunks: Buffer[] = [];
  for (let at = 0; at < whole.length; at += chunkBytes) chunks.push(whole.subarray(at, at + chunkBytes));
  return { chunks, bytes: whole.length, rows, badRows };
}

/** A fresh stream over the same in-memory chunks (a Readable can be read only once). */
export function replay(csv: CsvBytes): Readable {
  let next = 0;
  return new Readable({
    highWaterMark: 64 * 1024,
    read() {
      this.push(next < csv.chunks.length ? csv.chunks[next++] : null);
    },
  });
}

/** A CSV of `rows` rows produced as it is read, ~64 KiB at a time: never held in memory. */
export function generatedCsv(rows: number, shape: CsvShape = {}, onRow?: (row: GeneratedRow) => void): Readable {
  const source = new RowSource(shape);
  let produced = 0;
  let headerSent = false;
  return new Readable({
    highWaterMark: 64 * 1024,
    read() {
      let text = headerSent ? '' : csvHeader;
      headerSent = true;
      if (produced === rows && text === '') {
        this.push(null);
        return;
      }
      while (produced < rows && text.length < 64 * 1024) {
        const row = source.row();
        onRow?.(row);
        text += RowSource.line(row);
        produced += 1;
      }
      this.push(Buffer.from(text));
    },
  });
}

/** Writes a generated CSV to `path`; resolves with the rows it holds, in file order. */
export async function writeCsvFile(path: string, rows: number, shape: CsvShape = {}): Promise<GeneratedRow[]> {
  const written: GeneratedRow[] = [];
  const out = createWriteStream(path);
  for await (const chunk of generatedCsv(rows, shape, (row) => written.push(row)) as AsyncIterable<Buffer>) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return written;
}
