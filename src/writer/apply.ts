/**
 * How a row changes the inventory: only if it is newer than what the item holds.
 *
 * Each row carries a version stamp (upload order, then line). The count is replaced when the
 * row's stamp is newer than the item's `version`; an older or equal stamp is stale (a replay, a
 * duplicate delivery or a late older file) and skipped. A row's explicit threshold is versioned the
 * same way, separately: a late older row that set a threshold still wins over newer rows that did
 * not set one, exactly as if the files had arrived in order. So the final table depends only on the
 * set of rows, never on the order or the number of times they were delivered.
 */
import type { Limiter } from '../shared/concurrency';
import type { StampedRow } from '../shared/messages';

export type ThresholdRow = StampedRow & { threshold: number };

/** The table as the apply logic needs it (the DynamoDB adapter is in dynamodb-table.ts). */
export interface InventoryTable {
  /** Writes count (and an explicit threshold) if the row is newer than the item; false if stale. */
  applyRow(row: StampedRow): Promise<boolean>;
  /** Writes only the threshold if it is newer than the item's explicit threshold; false if stale. */
  applyThreshold(row: ThresholdRow): Promise<boolean>;
}

export interface ApplyResult {
  applied: number;
  skipped: number;
}

export async function applyRow(row: StampedRow, table: InventoryTable): Promise<boolean> {
  if (await table.applyRow(row)) return true;
  if (row.threshold !== null) await table.applyThreshold(row as ThresholdRow);
  return false;
}

/**
 * Drops the rows of `rows` that a later row of the same item in the same message supersedes: they
 * could only show the stream (and so the alerter) a count the file does not end in, and cost a
 * write each. A superseded row that sets a threshold is kept — its threshold still applies (see
 * applyRow) unless a later one replaces it — and may therefore still be written first.
 */
export function withoutSupersededRows(rows: readonly StampedRow[]): StampedRow[] {
  const newest = new Map<string, StampedRow>();
  for (const row of rows) {
    const key = `${row.store}\u0000${row.product}`;
    const seen = newest.get(key);
    if (seen === undefined || seen.version < row.version) newest.set(key, row);
  }
  if (newest.size === rows.length) return [...rows];
  return rows.filter((row) => row.threshold !== null || newest.get(`${row.store}\u0000${row.product}`) === row);
}

/**
 * Applies the rows of one message through the shared limiter. Every row is attempted; if any
 * failed (after the SDK's retries) the first error is thrown so the message is retried — rows
 * that did apply are stale on the retry and skipped.
 */
export async function applyRows(rows: readonly StampedRow[], table: InventoryTable, limit: Limiter): Promise<ApplyResult> {
  const effective = withoutSupersededRows(rows);
  const outcomes = await Promise.allSettled(effective.map((row) => limit(() => applyRow(row, table))));
  let applied = 0;
  let skipped = rows.length - effective.length;
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') throw outcome.reason;
    if (outcome.value) applied += 1;
    else skipped += 1;
  }
  return { applied, skipped };
}
