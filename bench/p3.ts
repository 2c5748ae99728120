/**
 * P3: end-to-end local rows/s on moto against the write floor.
 *
 * Pipeline: `LocalPipeline.processFile` wall time for one ~20k-row file (upload, split, SQS,
 * writes, stream, alerts, receipts). Floor: the same conditional UpdateItems
 * (`DynamoInventoryTable.applyRow`, rows stamped as the writer stamps them) through the local
 * runtime's own write path (`oneRequestAtATime`: moto's writes are not thread-safe, so the runtime
 * writes one at a time), straight at the same moto server, into a second table created by ensureResources
 * (it has a stream too, so moto records stream changes in both cases). Every write creates a new
 * item in both cases: each run gives its stores a different prefix.
 *
 * moto slows down as its memory grows, so the order is floor, pipeline, floor and the floor is the
 * mean of the two. A small warm-up of each comes first (JIT, connections, moto's first requests).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createAwsClients, destroyAwsClients } from '../src/shared/aws';
import type { StampedRow } from '../src/shared/messages';
import { concurrencyBudget, settings } from '../src/shared/settings';
import { rowStamp } from '../src/shared/upload';
import { LocalPipeline } from '../src/local/runtime';
import { startMoto } from '../src/local/moto';
import { ensureResources } from '../src/local/resources';
import { oneRequestAtATime } from '../src/local/serialize';
import type { InventoryTable } from '../src/writer/apply';
import { DynamoInventoryTable } from '../src/writer/dynamodb-table';
import { writeCsvFile, type GeneratedRow } from './generate';
import { benchUpload } from './sinks';

/**
 * The local runtime runs `writerPollers` writer invocations at once, but all their writes go through
 * one table client that sends one request at a time (`oneRequestAtATime`, src/local/serialize.ts):
 * one UpdateItem in flight. The floor uses
 * exactly that path, so both sides write at the same concurrency.
 */
const writerPollers = Math.min(concurrencyBudget().writer, 4);
const floorConcurrency = 1;

export interface P3Result {
  rows: number;
  /** Conditional UpdateItems per run: the file's valid rows. */
  updateItems: number;
  pipelineSeconds: number;
  /** Mean of the floor before and the floor after the pipeline run. */
  floorSeconds: number;
  ratio: number;
  pipelineRowsPerSec: number;
  floorRowsPerSec: number;
  floorRunsSeconds: [number, number];
  concurrency: { writerPollers: number; writeConcurrencyPerHandler: number; updateItemsInFlight: number; note: string };
  pipeline: {
    rowsApplied: number;
    rowsRejected: number;
    /**
     * Rows found stale. Every row of the file is new, so anything here was applied twice: a message
     * came back (an invocation outlived the queue's visibility timeout) and its rows were re-sent.
     */
    rowsSkipped: number;
    alerts: number;
    deadLettered: number;
    /** When the writer had written every valid row (the runtime's progress callback, 200 ms resolution). */
    writesDoneSeconds: number | null;
  };
  /** CPU seconds spent by this process (the pipeline's handlers and pollers) and by moto. */
  cpuSeconds: { pipeline: { node: number; moto: number | null }; floor: { node: number; moto: number | null }[] };
  warmUpRows: number;
}

/** CPU seconds of our python child processes (the moto server); null where /proc is unavailable. */
function motoCpuSeconds(): number | null {
  try {
    const ticksPerSecond = 100;
    let ticks = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue;
      }
      // pid (comm) state ppid ... utime(14) stime(15): split after the closing paren of comm.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid && stat.includes('(python')) ticks += Number(fields[11]) + Number(fields[12]);
    }
    return ticks / ticksPerSecond;
  } catch {
    return null;
  }
}

interface CpuMark {
  node: number;
  moto: number | null;
}

function cpuMark(): CpuMark {
  const usage = process.cpuUsage();
  return { node: (usage.user + usage.system) / 1e6, moto: motoCpuSeconds() };
}

function cpuSince(mark: CpuMark): CpuMark {
  const now = cpuMark();
  const round = (value: number) => Math.round(value * 10) / 10;
  return { node: round(now.node - mark.node), moto: now.moto === null || mark.moto === null ? null : round(now.moto - mark.moto) };
}

/** The file's valid rows as the writer applies them (what stampedRows makes of the splitter's messages). */
function stamped(rows: GeneratedRow[], storePrefix: string): StampedRow[] {
  const valid: StampedRow[] = [];
  rows.forEach((row, index) => {
    if (row.bad) return;
    const line = index + 2;
    valid.push({
      store: `${storePrefix}${row.store}`,
      product: row.product,
      count: row.count,
      threshold: row.threshold,
      line,
      version: rowStamp(benchUpload.stamp, line),
      upload: benchUpload.key,
    });
  });
  return valid;
}

async function writeFloor(table: InventoryTable, rows: StampedRow[]): Promise<number> {
  const started = performance.now();
  const applied = await Promise.all(rows.map((row) => table.applyRow(row)));
  const seconds = (performance.now() - started) / 1000;
  const stale = applied.filter((created) => !created).length;
  if (stale > 0) throw new Error(`${stale} floor writes found an existing item: the floor must create new items only`);
  return seconds;
}

async function processFile(pipeline: LocalPipeline, path: string, expected: { applied: number; rejected: number }) {
  let writesDoneAt: number | null = null;
  const started = performance.now();
  const outcome = await pipeline.processFile(path, (progress) => {
    if (writesDoneAt === null && progress.rowsDone >= expected.applied) writesDoneAt = performance.now();
  });
  const seconds = (performance.now() - started) / 1000;
  if (outcome.status !== 'processed' || outcome.rowsApplied !== expected.applied || outcome.rowsRejected !== expected.rejected || outcome.deadLettered !== 0) {
    const { rejects: _rejects, alerts: _alerts, ...summary } = outcome;
    throw new Error(`the pipeline did not process ${path} as expected (${JSON.stringify(expected)}): ${JSON.stringify(summary)}`);
  }
  const doneAt: number | null = writesDoneAt;
  return { outcome, seconds, writesDoneSeconds: doneAt === null ? null : Math.round(((doneAt - started) / 1000) * 10) / 10 };
}

export async function runP3(options: { rows?: number; warmUpRows?: number; log?: (line: string) => void } = {}): Promise<P3Result> {
  const rows = options.rows ?? 20_000;
  const warmUpRows = options.warmUpRows ?? 1_000;
  const log = options.log ?? (() => undefined);
  const dataDir = join(__dirname, '.data');
  mkdirSync(dataDir, { recursive: true });

  const moto = await startMoto();
  let pipeline: LocalPipeline | undefined;
  const clients = createAwsClients({ endpoint: moto.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const files: string[] = [];
  try {
    pipeline = await LocalPipeline.start({ endpoint: moto.endpoint, writerConcurrency: writerPollers });
    const floorResources = await ensureResources(clients, 'benchfloor');
    oneRequestAtATime(clients.dynamodb);
    const floorTable = new DynamoInventoryTable(clients.documents, floorResources.table, settings.inventory.defaultThreshold);

    // Same seed for every file: identical rows, only the store prefix differs, so every run writes new items.
    const file = async (name: string, count: number, storePrefix: string) => {
      const path = join(dataDir, `${name}.csv`);
      files.push(path);
      const written = await writeCsvFile(path, count, { storePrefix });
      const bad = written.filter((row) => row.bad).length;
      return { path, written, expected: { applied: count - bad, rejected: bad } };
    };

    log(`P3: warm-up (${warmUpRows} rows through the pipeline and the floor)`);
    const warmUp = await file('p3-warm-up', warmUpRows, 'W-');
    await processFile(pipeline, warmUp.path, warmUp.expected);
    await writeFloor(floorTable, stamped(warmUp.written, 'FW-'));

    const measured = await file('p3-pipeline', rows, 'P-');
    const floorRows = measured.expected.applied;

    log(`P3: floor 1: ${floorRows} UpdateItems, ${floorConcurrency} in flight`);
    let mark = cpuMark();
    const floorBefore = await writeFloor(floorTable, stamped(measured.written, 'FA-'));
    const floorBeforeCpu = cpuSince(mark);
    log(`P3: floor 1: ${floorBefore.toFixed(1)} s`);

    log(`P3: pipeline: processFile of ${rows} rows`);
    mark = cpuMark();
    const run = await processFile(pipeline, measured.path, measured.expected);
    const pipelineCpu = cpuSince(mark);
    log(
      `P3: pipeline: ${run.seconds.toFixed(1)} s (writer invocations done at ${run.writesDoneSeconds ?? '?'} s, ` +
        `${run.outcome.rowsSkipped} rows re-applied as stale, ${run.outcome.alerts.length} alerts)`,
    );

    log('P3: floor 2');
    mark = cpuMark();
    const floorAfter = await writeFloor(floorTable, stamped(measured.written, 'FB-'));
    const floorAfterCpu = cpuSince(mark);
    log(`P3: floor 2: ${floorAfter.toFixed(1)} s`);

    const floorSeconds = (floorBefore + floorAfter) / 2;
    const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
    return {
      rows,
      updateItems: floorRows,
      pipelineSeconds: round(run.seconds),
      floorSeconds: round(floorSeconds),
      ratio: round(run.seconds / floorSeconds, 3),
      pipelineRowsPerSec: Math.round(rows / run.seconds),
      floorRowsPerSec: Math.round(floorRows / floorSeconds),
      floorRunsSeconds: [round(floorBefore), round(floorAfter)],
      concurrency: {
        writerPollers,
        writeConcurrencyPerHandler: settings.writer.writeConcurrency,
        updateItemsInFlight: floorConcurrency,
        note: 'the local runtime writes one row at a time (oneRequestAtATime), whatever the number of pollers; so does the floor',
      },
      pipeline: {
        rowsApplied: run.outcome.rowsApplied,
        rowsRejected: run.outcome.rowsRejected,
        rowsSkipped: run.outcome.rowsSkipped,
        alerts: run.outcome.alerts.length,
        deadLettered: run.outcome.deadLettered,
        writesDoneSeconds: run.writesDoneSeconds,
      },
      cpuSeconds: { pipeline: pipelineCpu, floor: [floorBeforeCpu, floorAfterCpu] },
      warmUpRows,
    };
  } finally {
    for (const path of files) rmSync(path, { force: true });
    destroyAwsClients(clients);
    await pipeline?.close();
    await moto.stop();
  }
}
