/**
 * Where the capacity model's inputs come from: the settings the stack deploys (memory, timeouts,
 * batch sizes, the concurrency budget and table capacity), the message codec (rows per message),
 * AWS's documented defaults where the settings name nothing, and what was measured on this project.
 */
import { RowBatchPacker } from '../shared/messages';
import { concurrencyBudget, defaultTableCapacity, settings, type TableCapacity } from '../shared/settings';
import { uploadStamp } from '../shared/upload';
import { awsLimits } from './aws';
import type { PlanInputs } from './model';

/** What the model assumes of a night's data when nothing says otherwise (docs/deploy.md's cost example). */
export const workloadAssumptions = {
  /** A store id like `S0012` and a product name of ~24 bytes: a row of ~40 bytes. */
  storeBytes: 5,
  productBytes: 24,
  rejectedShare: 0.01,
  alertShare: 0.01,
} as const;

/**
 * Speeds, measured where they could be and assumed (and named so) where not. To calibrate them on
 * AWS, run `npm run loadtest -- --stack …` and compare its rows/s with `inventory plan`.
 */
export const performanceAssumptions = {
  /** bench P1: 516,014 rows/s (best of 5) on one core of a 2-core VM, 2026-11-30; a Graviton vCPU taken as equal. */
  splitterRowsPerSecondPerVcpu: 500_000,
  /**
   * Measured: DynamoInventoryTable.applyRow (SDK v3 marshalling, SigV4 signing, HTTP) against an
   * endpoint that answers at once, 8 in flight, 20,000 calls: 0.575–0.583 ms of CPU each on one core
   * of the same VM.
   */
  writerCpuMsPerRowPerVcpu: 0.58,
  /** Assumed: DynamoDB documents single-digit milliseconds for a write within the Region. */
  updateItemLatencyMs: 5,
  /** Assumed: a batch of 100 stream records, judged and (when a crossing is among them) published. */
  alerterSecondsPerBatch: 0.1,
  /** Assumed: Lambda's platform lines, a few structured lines and the EMF metrics of one invocation. */
  logBytesPerInvocation: 1500,
} as const;

/** How many typical rows the splitter's packer puts in one message (the real codec, a typical row). */
export function rowsPerMessage(storeBytes: number, productBytes: number): number {
  const key = `${settings.uploads.prefix}store.csv`;
  let rows = 0;
  const packer = new RowBatchPacker({ key, stamp: uploadStamp('2026-01-01T00:00:00.000Z', key, '0') }, settings.packing.maxMessageBytes, (message) => {
    if (rows === 0) rows = message.rows;
  });
  const store = 'S'.padEnd(storeBytes, '0');
  const product = 'p'.repeat(productBytes);
  // Six-digit line numbers, a two-digit count, no threshold: the bulk of a large file.
  for (let line = 100_000; rows === 0; line += 1) packer.row(store, product, 42, null, line);
  return rows;
}

/** The model's inputs for a stack deployed with `capacity` (the table's context values; default: none given). */
export function planInputsFromSettings(capacity: TableCapacity = defaultTableCapacity): PlanInputs {
  const shares = concurrencyBudget(capacity);
  return {
    splitter: { memoryMb: settings.splitter.memoryMb, timeoutSeconds: settings.splitter.timeoutSeconds, maxConcurrency: shares.splitter },
    writer: {
      memoryMb: settings.writer.memoryMb,
      batchSize: settings.writer.batchSize,
      maxConcurrency: shares.writer,
      writeConcurrency: settings.writer.writeConcurrency,
    },
    alerter: { memoryMb: settings.alerter.memoryMb, batchSize: settings.alerter.batchSize, publishBatchSize: settings.alerter.publishBatchSize },
    rowsPerMessage: rowsPerMessage(workloadAssumptions.storeBytes, workloadAssumptions.productBytes),
    table: {
      warmWriteUnitsPerSecond: capacity.warmWriteUnitsPerSecond ?? settings.table.onDemandWarmWriteUnitsPerSecond,
      maxWriteRequestUnits: capacity.maxWriteRequestUnitsPerSecond,
      quotaWriteUnitsPerSecond: awsLimits.dynamodb.onDemandTableWriteUnitsPerSecond,
    },
    lambdaConcurrency: awsLimits.lambda.accountConcurrency,
    workload: { rejectedShare: workloadAssumptions.rejectedShare, alertShare: workloadAssumptions.alertShare },
    performance: { ...performanceAssumptions },
  };
}
