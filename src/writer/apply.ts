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
import type { AdaptiveLimiter } from '../shared/concurrency';
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
  /** Rows that were pushed back (throttling) until the invocation's time ran out: to be re-sent. */
  deferred: StampedRow[];
}

/**
 * How writes meet a service that pushes back. A write answered with back-pressure (throttling, a
 * transient fault) is retried after `backoffMs`, with the in-flight limit lowered, for as long as
 * `remainingMs` allows; a row that still is not written is deferred, never failed.
 */
export interface BackPressure {
  limiter: AdaptiveLimiter;
  /** Whether an error means "not now" (throttling, a transient fault) rather than "never". */
  isBackPressure(error: unknown): boolean;
  /** Milliseconds this invocation may still spend starting writes. */
  remainingMs(): number;
  /** The wait after a write was pushed back for the `pushedBack`-th time (jittered). */
  backoffMs(pushedBack: number): number;
  sleep(ms: number): Promise<void>;
}

const deferred = Symbol('deferred');
type Deferred = typeof deferred;

/** One write under back-pressure: its result, or `deferred` when the time ran out first. */
async function write<T>(attempt: () => Promise<T>, pressure: BackPressure): Promise<T | Deferred> {
  for (let pushedBack = 1; ; pushedBack += 1) {
    try {
      const result = await pressure.limiter<T | Deferred>(() => (pressure.remainingMs() > 0 ? attempt() : Promise.resolve(deferred)));
      if (result !== deferred) pressure.limiter.succeeded();
      return result;
    } catch (error) {
      if (!pressure.isBackPressure(error)) throw error;
      pressure.limiter.throttled();
      const wait = pressure.backoffMs(pushedBack);
      if (pressure.remainingMs() <= wait) return deferred;
      await pressure.sleep(wait);
    }
  }
}

/** Applies one row: true if it changed the count, false if stale, `deferred` if not written in time. */
export async function applyRow(row: StampedRow, table: InventoryTable, pressure: BackPressure): Promise<boolean | Deferred> {
  const applied = await write(() => table.applyRow(row), pressure);
  if (applied !== false || row.threshold === null) return applied;
  // Stale for its count, but its threshold may still be the newest one set.
  const threshold = await write(() => table.applyThreshold(row as ThresholdRow), pressure);
  return threshold === deferred ? deferred : false;
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
 * Applies the rows of one message under back-pressure. Every row is attempted; if any failed for
 * a reason other than back-pressure, the first such error is thrown so the message is retried —
 * rows that did apply are stale on the retry and skipped. Rows deferred for lack of time are
 * returned for the caller to re-send.
 */
export async function applyRows(rows: readonly StampedRow[], table: InventoryTable, pressure: BackPressure): Promise<ApplyResult> {
  const effective = withoutSupersededRows(rows);
  const outcomes = await Promise.allSettled(effective.map((row) => applyRow(row, table, pressure)));
  const result: ApplyResult = { applied: 0, skipped: rows.length - effective.length, deferred: [] };
  outcomes.forEach((outcome, index) => {
    if (outcome.status === 'rejected') throw outcome.reason;
    if (outcome.value === deferred) result.deferred.push(effective[index]!);
    else if (outcome.value) result.applied += 1;
    else result.skipped += 1;
  });
  return result;
}
