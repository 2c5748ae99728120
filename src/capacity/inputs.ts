/**
 * Where the capacity model's inputs come from: the settings the stack deploys (memory, timeouts,
 * batch sizes, concurrency, table capacity), the message codec (rows per message), AWS's
 * documented defaults where the settings name nothing, and what was measured on this project.
 */
import { RowBatchPacker } from '../shared/messages';
import { settings } from '../shared/settings';
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

/**
 * A number the settings carry, or a named fallback when they don't (yet): the stack's settings grow
 * (mapping concurrency, a concurrency budget, table capacity), and the model takes them as they come.
 */
function setting(block: object, key: string, fallback: number): number;
function setting(block: object, key: string, fallback: null): number | null;
function setting(block: object, key: string, fallback: number | null): number | null {
  const value = (block as Record<string, unknown>)[key];
  return typeof value === 'number' ? value : fallback;
}

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

export function planInputsFromSettings(): PlanInputs {
  return {
    splitter: {
      memoryMb: settings.splitter.memoryMb,
      timeoutSeconds: settings.splitter.timeoutSeconds,
      // Without a cap of its own, the upload-events mapping scales with the files, up to the account's concurrency.
      maxConcurrency: setting(settings.splitter, 'maxConcurrency', awsLimits.lambda.accountConcurrency),
    },
    writer: {
      memoryMb: settings.writer.memoryMb,
      batchSize: settings.writer.batchSize,
      maxConcurrency: settings.writer.maxConcurrency,
      writeConcurrency: settings.writer.writeConcurrency,
    },
    alerter: { memoryMb: settings.alerter.memoryMb, batchSize: settings.alerter.batchSize, publishBatchSize: settings.alerter.publishBatchSize },
    rowsPerMessage: rowsPerMessage(workloadAssumptions.storeBytes, workloadAssumptions.productBytes),
    table: {
      warmWriteUnitsPerSecond: setting(settings.table, 'warmWriteUnitsPerSecond', awsLimits.dynamodb.newTableWarmWriteUnitsPerSecond),
      maxWriteRequestUnits: setting(settings.table, 'maxWriteRequestUnits', null),
      quotaWriteUnitsPerSecond: awsLimits.dynamodb.onDemandTableWriteUnitsPerSecond,
    },
    lambdaConcurrency: setting(settings, 'lambdaConcurrency', awsLimits.lambda.accountConcurrency),
    workload: { rejectedShare: workloadAssumptions.rejectedShare, alertShare: workloadAssumptions.alertShare },
    performance: { ...performanceAssumptions },
  };
}
