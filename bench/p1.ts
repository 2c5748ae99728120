/**
 * P1: the splitter's core against a bare csv-parse pass over the same in-memory bytes.
 *
 * Both read the same ~64 KiB Buffers through a Readable. The baseline is csv-parse in its fastest
 * correct configuration (array records, bom, skip_empty_lines) consumed as a stream; the splitter
 * is `splitUpload` with ports that count and never wait. After one warm-up run of each, the two
 * alternate (the order flips every round so drift in machine load hits both alike).
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { splitUpload } from '../src/splitter/split';
import { csvInMemory, replay, type CsvBytes } from './generate';
import { benchUpload, countingSinks } from './sinks';

export interface P1Result {
  rows: number;
  bytes: number;
  chunks: number;
  badRows: number;
  rounds: number;
  /** Which run of each side the headline rates come from. */
  statistic: 'best';
  csvParseRowsPerSec: number;
  splitterRowsPerSec: number;
  ratio: number;
  csvParseMedianRowsPerSec: number;
  splitterMedianRowsPerSec: number;
  medianRatio: number;
  runsMs: { csvParse: number[]; splitter: number[] };
  splitter: { rowsAccepted: number; rowsRejected: number; messages: number; sendRequests: number };
}

const collectGarbage = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function csvParsePass(csv: CsvBytes): Promise<void> {
  let records = 0;
  const count = new Writable({
    objectMode: true,
    write(_record: string[], _encoding, callback) {
      records += 1;
      callback();
    },
  });
  await pipeline(replay(csv), parse({ bom: true, skip_empty_lines: true }), count);
  if (records !== csv.rows + 1) throw new Error(`csv-parse read ${records} records, expected ${csv.rows + 1} (header + rows)`);
}

async function splitterPass(csv: CsvBytes): Promise<P1Result['splitter']> {
  const sinks = countingSinks();
  const result = await splitUpload({ upload: benchUpload, input: replay(csv), sendBatch: sinks.sendBatch, rejects: sinks.rejects });
  const expected = { rowsRead: csv.rows, rowsRejected: csv.badRows, rowsAccepted: csv.rows - csv.badRows };
  if (
    result.status !== 'processed' ||
    result.rowsRead !== expected.rowsRead ||
    result.rowsRejected !== expected.rowsRejected ||
    result.rowsAccepted !== expected.rowsAccepted ||
    sinks.counts.rejected !== csv.badRows ||
    sinks.counts.messages !== result.messages
  ) {
    throw new Error(`splitUpload miscounted: ${JSON.stringify({ result, sinks: sinks.counts, expected })}`);
  }
  return { rowsAccepted: result.rowsAccepted, rowsRejected: result.rowsRejected, messages: result.messages, sendRequests: sinks.counts.requests };
}

async function timed<T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> {
  collectGarbage();
  const started = performance.now();
  const value = await run();
  return { ms: performance.now() - started, value };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

export async function runP1(options: { rows?: number; rounds?: number; log?: (line: string) => void } = {}): Promise<P1Result> {
  const rows = options.rows ?? 1_000_000;
  const rounds = options.rounds ?? 5;
  const log = options.log ?? (() => undefined);
  const csv = csvInMemory(rows);
  log(`P1: ${rows} rows, ${(csv.bytes / 1024 / 1024).toFixed(1)} MiB in ${csv.chunks.length} chunks; warming up`);
  await csvParsePass(csv);
  let splitter = await splitterPass(csv);

  const runsMs = { csvParse: [] as number[], splitter: [] as number[] };
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? (['csvParse', 'splitter'] as const) : (['splitter', 'csvParse'] as const);
    for (const side of order) {
      if (side === 'csvParse') {
        runsMs.csvParse.push((await timed(() => csvParsePass(csv))).ms);
      } else {
        const run = await timed(() => splitterPass(csv));
        runsMs.splitter.push(run.ms);
        splitter = run.value;
      }
    }
    log(`P1: round ${round + 1}/${rounds}: csv-parse ${runsMs.csvParse.at(-1)!.toFixed(0)} ms, splitter ${runsMs.splitter.at(-1)!.toFixed(0)} ms`);
  }

  const rate = (ms: number) => Math.round((rows / ms) * 1000);
  const csvParseRowsPerSec = rate(Math.min(...runsMs.csvParse));
  const splitterRowsPerSec = rate(Math.min(...runsMs.splitter));
  const csvParseMedianRowsPerSec = rate(median(runsMs.csvParse));
  const splitterMedianRowsPerSec = rate(median(runsMs.splitter));
  return {
    rows,
    bytes: csv.bytes,
    chunks: csv.chunks.length,
    badRows: csv.badRows,
    rounds,
    statistic: 'best',
    csvParseRowsPerSec,
    splitterRowsPerSec,
    ratio: splitterRowsPerSec / csvParseRowsPerSec,
    csvParseMedianRowsPerSec,
    splitterMedianRowsPerSec,
    medianRatio: splitterMedianRowsPerSec / csvParseMedianRowsPerSec,
    runsMs: { csvParse: runsMs.csvParse.map(Math.round), splitter: runsMs.splitter.map(Math.round) },
    splitter,
  };
}
