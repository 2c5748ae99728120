/**
 * P2's measured process (p2.ts bundles it and runs `node p2-child.js <rows>`). Streams a CSV
 * generated on the fly (never held in memory) through the splitter's core with counting ports and
 * prints one JSON line with the peak RSS. Run fresh for each size so nothing but this run is in the RSS.
 */
import { splitUpload } from '../src/splitter/split';
import { generatedCsv } from './generate';
import { benchUpload, countingSinks } from './sinks';

export interface P2ChildResult {
  rows: number;
  seconds: number;
  rowsPerSec: number;
  /** Peak RSS of the process before the split started (Node, tsx, the modules). */
  startMaxRssMB: number;
  maxRssMB: number;
  /** Largest V8 heap (total reserved, and in use) and off-heap buffers seen while splitting, sampled at every send request. */
  peakHeapTotalMB: number;
  peakHeapUsedMB: number;
  peakArrayBuffersMB: number;
  messages: number;
}

const megabytes = (kilobytes: number) => Math.round((kilobytes / 1024) * 10) / 10;

async function main(): Promise<void> {
  const rows = Number(process.argv[2]);
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error(`usage: p2-child.ts <rows>, got '${process.argv[2] ?? ''}'`);
  const startMaxRssMB = megabytes(process.resourceUsage().maxRSS);
  let badRows = 0;
  const sinks = countingSinks();
  const peak = { heapTotal: 0, heapUsed: 0, arrayBuffers: 0 };
  const sample = () => {
    const usage = process.memoryUsage();
    peak.heapTotal = Math.max(peak.heapTotal, usage.heapTotal);
    peak.heapUsed = Math.max(peak.heapUsed, usage.heapUsed);
    peak.arrayBuffers = Math.max(peak.arrayBuffers, usage.arrayBuffers);
  };
  // The split runs on promise jobs with ports that never wait, so timers rarely get a turn: sample
  // at every send request as well (~1 per 10 messages) as on a 100 ms timer.
  const sampler = setInterval(sample, 100);
  const sendBatch: typeof sinks.sendBatch = (entries) => {
    sample();
    return sinks.sendBatch(entries);
  };
  const started = performance.now();
  const result = await splitUpload({
    upload: benchUpload,
    input: generatedCsv(rows, {}, (row) => {
      if (row.bad) badRows += 1;
    }),
    sendBatch,
    rejects: sinks.rejects,
  });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  sample();
  if (result.rowsRead !== rows || result.rowsRejected !== badRows || sinks.counts.rejected !== badRows) {
    throw new Error(`splitUpload miscounted: ${JSON.stringify({ result, badRows })}`);
  }
  const report: P2ChildResult = {
    rows,
    seconds: Math.round(seconds * 10) / 10,
    rowsPerSec: Math.round(rows / seconds),
    startMaxRssMB,
    maxRssMB: megabytes(process.resourceUsage().maxRSS),
    peakHeapTotalMB: megabytes(peak.heapTotal / 1024),
    peakHeapUsedMB: megabytes(peak.heapUsed / 1024),
    peakArrayBuffersMB: megabytes(peak.arrayBuffers / 1024),
    messages: result.messages,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
