/**
 * A load-test scenario: F nightly files over S stores × P products, written to disk as they are
 * generated, and what the pipeline must end in — computed here, independently of src/.
 *
 * Every store id carries the run's prefix (`LT<runId>-S0001`), so a run names only its own items
 * and can share a table with anything else. Each night lists most items with new absolute counts
 * (the later night overrides), some items twice (the later line wins), some rows set a threshold,
 * a few rows are bad, and product names need CSV quoting (commas, inch marks) — the catalog comes
 * from bench/generate.ts's RowSource, as does the line format.
 *
 * The expectation follows the README's contract: files apply in order, lines in order; a row's
 * threshold replaces the item's, else the item keeps its own, else the default applies; an item is
 * low when count < threshold; a file raises one alert per item whose low state differs before and
 * after that file. It is kept in typed arrays and files are streamed, so millions of rows fit.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { csvHeader, RowSource, type GeneratedRow } from '../bench/generate';
import { Prng } from '../src/shared/prng';

const defaultScenarioThreshold = 10;

/** Share of the item universe a night lists: the rest keep last night's state or stay absent. */
const nightCoverage = 0.8;
const badRowShare = 0.005;
/** Share of already-stocked items a night lists twice (an earlier stale line, then the real one). */
const repeatShare = 0.03;
const thresholdShare = 0.06;
/** Share of counts drawn below the default threshold, so nights raise and clear alerts. */
const lowCountShare = 0.15;

export interface ScenarioOptions {
  /** Goes into every store id and file name: unique per run. */
  runId: string;
  /** Data rows over all files (bad and repeated lines included). */
  rows: number;
  files: number;
  /** Default: grows with the square root of the items a night lists. */
  stores?: number;
  seed?: number;
  defaultThreshold?: number;
  /** Where the CSV files are written. */
  directory: string;
}

export type BadRowKind = 'bad-count' | 'empty-product' | 'field-count';

/**
 * What a rejection's reason must mention. Loose on purpose: the README fixes which rows are
 * rejected and at which line, not the wording of the reason.
 */
export const rejectReasonPatterns: Record<BadRowKind, RegExp> = {
  'bad-count': /count/i,
  'empty-product': /product/i,
  'field-count': /field/i,
};

export interface ExpectedReject {
  /** Physical line, header = 1. */
  line: number;
  kind: BadRowKind;
}

export interface ExpectedItem {
  store: string;
  product: string;
  count: number;
  threshold: number;
}

export interface ExpectedAlert {
  type: 'LOW_STOCK' | 'RESTOCKED';
  store: string;
  product: string;
  count: number;
  previousCount: number | null;
  threshold: number;
}

export interface ScenarioFile {
  name: string;
  path: string;
  /** Data rows (the header not counted). */
  rows: number;
  rejects: ExpectedReject[];
  alerts: ExpectedAlert[];
}

/** A run's stores and products: item i is store ⌊i / P⌋, product i mod P. */
class Catalog {
  readonly products: readonly string[];
  private readonly productIndex: Map<string, number>;
  private readonly storeDigits: number;

  constructor(
    readonly storePrefix: string,
    readonly stores: number,
    productsPerStore: number,
    seed: number,
  ) {
    // RowSource names products as bench files do and makes each unique with a SKU; every store
    // carries the same catalog, as a chain's stores do.
    const source = new RowSource({ seed, badShare: 0 });
    this.products = Array.from({ length: productsPerStore }, () => source.row().product);
    this.productIndex = new Map(this.products.map((product, index) => [product, index]));
    this.storeDigits = Math.max(4, String(stores).length);
  }

  get size(): number {
    return this.stores * this.products.length;
  }

  store(item: number): string {
    return `${this.storePrefix}S${String(1 + Math.floor(item / this.products.length)).padStart(this.storeDigits, '0')}`;
  }

  product(item: number): string {
    return this.products[item % this.products.length]!;
  }

  /** The item a table row names, or undefined when it is none of this run's items. */
  itemOf(store: string, product: string): number | undefined {
    const match = store.startsWith(this.storePrefix) ? /^S(\d+)$/.exec(store.slice(this.storePrefix.length)) : null;
    const productIndex = this.productIndex.get(product);
    if (match === null || productIndex === undefined) return undefined;
    const storeIndex = Number(match[1]) - 1;
    if (storeIndex < 0 || storeIndex >= this.stores || this.store(storeIndex * this.products.length) !== store) return undefined;
    return storeIndex * this.products.length + productIndex;
  }
}

/** The contract applied row by row; alerts judged per file (state before it against state after it). */
class Expectation {
  /** -1: the item has never been listed. */
  private readonly counts: Int32Array;
  private readonly thresholds: Int32Array;
  private readonly lastFile: Int32Array;
  private readonly countsBefore: Int32Array;
  private readonly thresholdsBefore: Int32Array;
  private touched: number[] = [];
  private file = 0;

  constructor(
    size: number,
    private readonly defaultThreshold: number,
  ) {
    this.counts = new Int32Array(size).fill(-1);
    this.thresholds = new Int32Array(size);
    this.lastFile = new Int32Array(size);
    this.countsBefore = new Int32Array(size);
    this.thresholdsBefore = new Int32Array(size);
  }

  beginFile(): void {
    this.file += 1;
    this.touched = [];
  }

  /** The item's count before the current file, or undefined if it had none. */
  countBeforeFile(item: number): number | undefined {
    const count = this.lastFile[item] === this.file ? this.countsBefore[item]! : this.counts[item]!;
    return count === -1 ? undefined : count;
  }

  apply(item: number, count: number, threshold: number | null): void {
    const current = this.counts[item]!;
    if (this.lastFile[item] !== this.file) {
      this.lastFile[item] = this.file;
      this.countsBefore[item] = current;
      this.thresholdsBefore[item] = this.thresholds[item]!;
      this.touched.push(item);
    }
    this.thresholds[item] = threshold ?? (current === -1 ? this.defaultThreshold : this.thresholds[item]!);
    this.counts[item] = count;
  }

  endFile(catalog: Catalog): ExpectedAlert[] {
    const alerts: ExpectedAlert[] = [];
    for (const item of this.touched) {
      const previousCount = this.countsBefore[item]!;
      const wasLow = previousCount !== -1 && previousCount < this.thresholdsBefore[item]!;
      const count = this.counts[item]!;
      const threshold = this.thresholds[item]!;
      const isLow = count < threshold;
      if (wasLow === isLow) continue;
      alerts.push({
        type: isLow ? 'LOW_STOCK' : 'RESTOCKED',
        store: catalog.store(item),
        product: catalog.product(item),
        count,
        previousCount: previousCount === -1 ? null : previousCount,
        threshold,
      });
    }
    return alerts;
  }

  item(item: number, catalog: Catalog): ExpectedItem | undefined {
    const count = this.counts[item]!;
    return count === -1 ? undefined : { store: catalog.store(item), product: catalog.product(item), count, threshold: this.thresholds[item]! };
  }
}

/** Buffers lines into ~64 KiB writes and waits when the disk falls behind. */
class CsvFileWriter {
  private readonly out: WriteStream;
  private pending = '';

  constructor(path: string) {
    this.out = createWriteStream(path);
  }

  async write(text: string): Promise<void> {
    this.pending += text;
    if (this.pending.length < 64 * 1024) return;
    const chunk = this.pending;
    this.pending = '';
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }

  async close(): Promise<void> {
    this.out.end(this.pending);
    await once(this.out, 'finish');
  }
}

/** `rows` split over `files`, the first files taking the remainder. */
function rowsPerFile(rows: number, files: number): number[] {
  return Array.from({ length: files }, (_, index) => Math.floor(rows / files) + (index < rows % files ? 1 : 0));
}

export class Scenario {
  readonly runId: string;
  readonly storePrefix: string;
  readonly seed: number;
  readonly defaultThreshold: number;
  readonly rows: number;
  readonly files: ScenarioFile[] = [];
  private readonly catalog: Catalog;
  private readonly expectation: Expectation;
  private readonly prng: Prng;

  private constructor(options: ScenarioOptions) {
    if (!/^[A-Za-z0-9]+$/.test(options.runId)) throw new Error(`the run id '${options.runId}' must be letters and digits only`);
    if (!Number.isSafeInteger(options.files) || options.files < 1) throw new Error('a scenario needs at least one file');
    if (!Number.isSafeInteger(options.rows) || options.rows < options.files) throw new Error('a scenario needs at least one row per file');
    this.runId = options.runId;
    this.storePrefix = `LT${options.runId}-`;
    this.seed = options.seed ?? 1;
    this.defaultThreshold = options.defaultThreshold ?? defaultScenarioThreshold;
    this.rows = options.rows;
    const universe = Math.ceil(Math.ceil(options.rows / options.files) / nightCoverage);
    const stores = options.stores ?? Math.max(1, Math.round(Math.sqrt(universe) / 4));
    if (!Number.isSafeInteger(stores) || stores < 1) throw new Error('a scenario needs at least one store');
    this.catalog = new Catalog(this.storePrefix, stores, Math.ceil(universe / stores), this.seed);
    this.expectation = new Expectation(this.catalog.size, this.defaultThreshold);
    this.prng = new Prng(this.seed);
  }

  /** Writes every file of the scenario to `options.directory`, one after another. */
  static async generate(options: ScenarioOptions): Promise<Scenario> {
    const scenario = new Scenario(options);
    await mkdir(options.directory, { recursive: true });
    const nights = rowsPerFile(options.rows, options.files);
    for (const [index, rows] of nights.entries()) {
      const name = `lt-${options.runId}-night-${String(index + 1).padStart(String(nights.length).length, '0')}.csv`;
      scenario.files.push(await scenario.writeNight(join(options.directory, name), name, rows));
    }
    return scenario;
  }

  get stores(): number {
    return this.catalog.stores;
  }

  get productsPerStore(): number {
    return this.catalog.products.length;
  }

  /** Items the universe has room for (not all of them need be listed by any night). */
  get universe(): number {
    return this.catalog.size;
  }

  /** Item number of a table row, or undefined when the row is none of this run's items. */
  itemOf(store: string, product: string): number | undefined {
    return this.catalog.itemOf(store, product);
  }

  /** What item `item` must hold at the end, or undefined when no valid row ever listed it. */
  expectedItem(item: number): ExpectedItem | undefined {
    return this.expectation.item(item, this.catalog);
  }

  *expectedItems(): Generator<ExpectedItem & { item: number }> {
    for (let item = 0; item < this.catalog.size; item += 1) {
      const expected = this.expectation.item(item, this.catalog);
      if (expected) yield { item, ...expected };
    }
  }

  private count(): number {
    const lowCeiling = Math.max(1, this.defaultThreshold);
    return this.prng.chance(lowCountShare) ? this.prng.int(0, lowCeiling - 1) : this.prng.int(lowCeiling, lowCeiling + 490);
  }

  /** Item numbers in a fresh random order: a night lists each item at most once (bar repeats). */
  private shuffledItems(): Uint32Array {
    const order = new Uint32Array(this.catalog.size);
    for (let i = 0; i < order.length; i += 1) order[i] = i;
    for (let i = order.length - 1; i > 0; i -= 1) {
      const j = this.prng.int(0, i);
      const swap = order[i]!;
      order[i] = order[j]!;
      order[j] = swap;
    }
    return order;
  }

  private badRow(line: number): { text: string; reject: ExpectedReject } {
    const item = this.prng.int(0, this.catalog.size - 1);
    const row: GeneratedRow = { store: this.catalog.store(item), product: this.catalog.product(item), count: this.count(), threshold: null };
    const kind = this.prng.pick<BadRowKind>(['bad-count', 'empty-product', 'field-count']);
    const reject = { line, kind };
    if (kind === 'bad-count') return { text: RowSource.line({ ...row, bad: 'count-not-a-number' }), reject };
    if (kind === 'empty-product') return { text: RowSource.line({ ...row, product: '' }), reject };
    return { text: `${RowSource.line(row).slice(0, -1)},surplus\n`, reject };
  }

  private async writeNight(path: string, name: string, rows: number): Promise<ScenarioFile> {
    const order = this.shuffledItems();
    let next = 0;
    const rejects: ExpectedReject[] = [];
    const out = new CsvFileWriter(path);
    this.expectation.beginFile();
    await out.write(csvHeader);
    let line = 1;
    const emit = async (item: number, count: number, threshold: number | null) => {
      line += 1;
      this.expectation.apply(item, count, threshold);
      await out.write(RowSource.line({ store: this.catalog.store(item), product: this.catalog.product(item), count, threshold }));
    };
    try {
      while (line - 1 < rows) {
        if (this.prng.chance(badRowShare)) {
          const bad = this.badRow(line + 1);
          line += 1;
          rejects.push(bad.reject);
          await out.write(bad.text);
          continue;
        }
        // The universe holds more items than a night has rows, so the order never runs out.
        const item = order[next++]!;
        let count = this.count();
        const threshold = this.prng.chance(thresholdShare) ? 5 + this.prng.int(0, 19) : null;
        const before = this.expectation.countBeforeFile(item);
        if (before !== undefined && line + 1 <= rows && this.prng.chance(repeatShare)) {
          // The stale line repeats the item's count from before this night and sets no threshold,
          // so whichever order the writer applies the two lines in, no stream state crosses the
          // threshold in between: the per-file alert stays the only one, with the same previousCount.
          await emit(item, before, null);
          if (count === before) count += 1;
        }
        await emit(item, count, threshold);
      }
    } finally {
      await out.close();
    }
    return { name, path, rows, rejects, alerts: this.expectation.endFile(this.catalog) };
  }
}
