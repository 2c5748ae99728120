/**
 * Where a load test runs: the local runtime (local.ts) or a deployed stack (stack.ts). Both take
 * the scenario's files in upload order and say what they could observe of each; the table is then
 * read back through `documents`.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FaultCounts } from '../src/local/faults';
import type { ScenarioFile } from './scenario';
import type { Timeline } from './timeline';
import type { ObservedAlert, ObservedReject } from './verify';

export interface TargetDescription {
  mode: 'local' | 'stack';
  endpoint?: string;
  stack?: string;
  region?: string;
  bucket: string;
  table: string;
}

/** One file as the target saw it; null where the target cannot observe a value. */
export interface FileRun {
  file: ScenarioFile;
  status: 'processed' | 'failed' | 'not processed';
  reason?: string;
  rowsRead: number | null;
  rejects: ObservedReject[];
  rowsApplied: number | null;
  rowsSkipped: number | null;
  alerts: ObservedAlert[] | null;
  /** Repeated deliveries of those alerts (same alertId), which a subscriber drops; null: not observable. */
  duplicateAlerts: number | null;
  /** Local: until the file was completely processed. Stack: until its receipt appeared. */
  seconds: number;
  /** When the file was uploaded, in seconds since the first upload. */
  startSeconds: number;
}

export interface TargetRun {
  files: FileRun[];
  /** From the first upload until everything was processed. */
  seconds: number;
  /** Messages that reached a dead-letter queue meanwhile (null: not observable). */
  deadLettered: number | null;
  /**
   * Writes that passed their condition for a row the item already held (a change of neither its
   * version nor its thresholdVersion, seen on the table's stream): 0 unless the table's
   * conditional writes fail to make delivery idempotent. Null: not observable.
   */
  appliedTwice: number | null;
  /** Faults injected below the handlers (local `--faults`); null: none could be. */
  faults: FaultCounts | null;
  /** What the reader must know to judge the numbers (e.g. what was not verified). */
  notes: string[];
  /** Rows written and queue depths, sampled while the run went on. */
  timeline: Timeline;
}

export type Progress = (message: string) => void;

export interface Target {
  readonly description: TargetDescription;
  readonly documents: DynamoDBDocumentClient;
  run(files: readonly ScenarioFile[], progress: Progress): Promise<TargetRun>;
  close(): Promise<void>;
}
