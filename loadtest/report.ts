/**
 * The load test's report: per file and in total what was sent, what the pipeline did and how fast,
 * what was verified, and the verdict — as one JSON document or as a table for people.
 */
import type { FaultCounts } from '../src/local/faults';
import type { Scenario } from './scenario';
import type { TargetDescription, TargetRun } from './target';
import type { Timeline } from './timeline';
import type { Mismatch, Mismatches, TableVerification } from './verify';
import { textTable } from '../src/cli/text-table';

export interface FileReport {
  file: string;
  status: string;
  reason?: string;
  rows: number;
  rowsRead: number | null;
  rejectedExpected: number;
  rejected: number;
  applied: number | null;
  skipped: number | null;
  alertsExpected: number;
  /** One per alertId; null where alerts cannot be observed. */
  alertsObserved: number | null;
  seconds: number;
  /** When the file was uploaded, in seconds since the first upload. */
  startSeconds: number;
}

export interface LoadTestReport {
  runId: string;
  storePrefix: string;
  verdict: 'pass' | 'fail';
  target: TargetDescription;
  scenario: { seed: number; rows: number; files: number; stores: number; productsPerStore: number; defaultThreshold: number };
  files: FileReport[];
  totals: {
    rows: number;
    rejectedExpected: number;
    rejected: number;
    applied: number | null;
    skipped: number | null;
    alertsExpected: number;
    alertsObserved: number | null;
    deadLettered: number | null;
    /** Writes that applied a row the item already held (see TargetRun.appliedTwice). */
    appliedTwice: number | null;
    /** Repeated deliveries of alerts (same alertId), before a subscriber drops them. */
    duplicateAlerts: number | null;
    /** Faults injected below the handlers (local `--faults`). */
    faults: FaultCounts | null;
    /** From the first upload until everything was processed (generation and verification excluded). */
    seconds: number;
    rowsPerSecond: number;
    generateSeconds: number;
    verifySeconds: number;
  };
  verification: {
    table: TableVerification;
    rejects: { expected: number; observed: number; mismatched: number };
    /** `missing`: expected alerts never published (lost). */
    alerts: { verified: boolean; expected: number; observed: number | null; mismatched: number | null; missing: number | null };
  };
  mismatches: { total: number; byCheck: Mismatches['byCheck']; first: Mismatch[] };
  notes: string[];
  /** The generated CSVs, when kept (--keep). */
  keptFiles: string[];
  /** Rows written and queue depths while the run went on. */
  timeline: Timeline;
}

export interface ReportInput {
  scenario: Scenario;
  target: TargetDescription;
  run: TargetRun;
  table: TableVerification;
  rejectsMismatched: number;
  alerts: { observed: number; mismatched: number; missing: number }[] | null;
  mismatches: Mismatches;
  generateSeconds: number;
  verifySeconds: number;
  keptFiles: string[];
}

const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
/** A total of values some of which could not be observed is itself unknown. */
const sumKnown = (values: readonly (number | null)[]) => (values.some((v) => v === null) ? null : sum(values as number[]));

export function buildReport(input: ReportInput): LoadTestReport {
  const { scenario, run, mismatches } = input;
  const files: FileReport[] = run.files.map((fileRun, index) => ({
    file: fileRun.file.name,
    status: fileRun.status,
    ...(fileRun.reason === undefined ? {} : { reason: fileRun.reason }),
    rows: fileRun.file.rows,
    rowsRead: fileRun.rowsRead,
    rejectedExpected: fileRun.file.rejects.length,
    rejected: fileRun.rejects.length,
    applied: fileRun.rowsApplied,
    skipped: fileRun.rowsSkipped,
    alertsExpected: fileRun.file.alerts.length,
    alertsObserved: input.alerts?.[index]?.observed ?? null,
    seconds: round(fileRun.seconds),
    startSeconds: round(fileRun.startSeconds),
  }));
  const alertsObserved = input.alerts === null ? null : sum(input.alerts.map((a) => a.observed));
  return {
    runId: scenario.runId,
    storePrefix: scenario.storePrefix,
    verdict: mismatches.total === 0 ? 'pass' : 'fail',
    target: input.target,
    scenario: {
      seed: scenario.seed,
      rows: scenario.rows,
      files: scenario.files.length,
      stores: scenario.stores,
      productsPerStore: scenario.productsPerStore,
      defaultThreshold: scenario.defaultThreshold,
    },
    files,
    totals: {
      rows: scenario.rows,
      rejectedExpected: sum(files.map((f) => f.rejectedExpected)),
      rejected: sum(files.map((f) => f.rejected)),
      applied: sumKnown(files.map((f) => f.applied)),
      skipped: sumKnown(files.map((f) => f.skipped)),
      alertsExpected: sum(files.map((f) => f.alertsExpected)),
      alertsObserved,
      deadLettered: run.deadLettered,
      appliedTwice: run.appliedTwice,
      duplicateAlerts: sumKnown(run.files.map((f) => f.duplicateAlerts)),
      faults: run.faults,
      seconds: round(run.seconds),
      rowsPerSecond: run.seconds > 0 ? Math.round(scenario.rows / run.seconds) : 0,
      generateSeconds: round(input.generateSeconds),
      verifySeconds: round(input.verifySeconds),
    },
    verification: {
      table: input.table,
      rejects: { expected: sum(files.map((f) => f.rejectedExpected)), observed: sum(files.map((f) => f.rejected)), mismatched: input.rejectsMismatched },
      alerts: {
        verified: input.alerts !== null,
        expected: sum(files.map((f) => f.alertsExpected)),
        observed: alertsObserved,
        mismatched: input.alerts === null ? null : sum(input.alerts.map((a) => a.mismatched)),
        missing: input.alerts === null ? null : sum(input.alerts.map((a) => a.missing)),
      },
    },
    mismatches: { total: mismatches.total, byCheck: { ...mismatches.byCheck }, first: [...mismatches.first] },
    notes: run.notes,
    keptFiles: input.keptFiles,
    timeline: run.timeline,
  };
}

const shown = (value: number | null) => (value === null ? '–' : String(value));

export function renderReport(report: LoadTestReport): string {
  const { target, scenario, totals, verification } = report;
  const where = target.mode === 'local' ? `local runtime at ${target.endpoint}` : `stack ${target.stack} (${target.region})`;
  // On a stack a file's seconds end at its receipt (split, not written): no rate of its own.
  const rowsPerSecond = (rows: number, seconds: number) => (target.mode === 'local' && seconds > 0 ? String(Math.round(rows / seconds)) : '–');
  const header = ['file', 'status', 'rows', 'rejected', 'applied', 'skipped', 'alerts expected', 'alerts observed', 'seconds', 'rows/s'];
  const rows = report.files.map((f) => [
    f.file,
    f.status,
    String(f.rows),
    String(f.rejected),
    shown(f.applied),
    shown(f.skipped),
    String(f.alertsExpected),
    shown(f.alertsObserved),
    f.seconds.toFixed(2),
    rowsPerSecond(f.rows, f.seconds),
  ]);
  const total = [
    'total',
    '',
    String(totals.rows),
    String(totals.rejected),
    shown(totals.applied),
    shown(totals.skipped),
    String(totals.alertsExpected),
    shown(totals.alertsObserved),
    totals.seconds.toFixed(2),
    String(totals.rowsPerSecond),
  ];
  const { table: items, rejects, alerts } = verification;
  const lines = [
    `Load test ${report.runId} on the ${where}: stores ${report.storePrefix}*, seed ${scenario.seed}, ` +
      `${scenario.files} file(s) over ${scenario.stores} store(s) × ${scenario.productsPerStore} products, default threshold ${scenario.defaultThreshold}`,
    '',
    textTable([header, ...rows, total]),
    '',
    `Generated in ${totals.generateSeconds.toFixed(2)} s, processed in ${totals.seconds.toFixed(2)} s (${totals.rowsPerSecond} rows/s), ` +
      `verified in ${totals.verifySeconds.toFixed(2)} s; ${shown(totals.deadLettered)} message(s) dead-lettered.`,
    ...(totals.faults === null || Object.values(totals.faults).every((count) => count === 0)
      ? []
      : [
          `Faults injected: ${totals.faults.throttled} throttled UpdateItem attempts, ${totals.faults.duplicated} duplicate deliveries, ` +
            `${totals.faults.crashed} crashed invocations, ${totals.faults.publishFailed} failed alert publishes; ` +
            `${shown(totals.appliedTwice)} row(s) applied twice, ${shown(totals.duplicateAlerts)} repeated alert deliveries.`,
        ]),
    `Table:   ${items.itemsExpected} item(s) expected, ${items.itemsFound} found, ${items.mismatched} mismatched`,
    `Rejects: ${rejects.expected} expected, ${rejects.observed} reported, ${rejects.mismatched} mismatched`,
    alerts.verified
      ? `Alerts:  ${alerts.expected} expected, ${shown(alerts.observed)} observed (one per alertId), ${shown(alerts.mismatched)} mismatched`
      : `Alerts:  ${alerts.expected} expected, not verified`,
    ...report.notes.map((note) => `Note: ${note}`),
  ];
  if (report.mismatches.total > 0) {
    lines.push('', `Mismatches (${report.mismatches.total}${report.mismatches.total > report.mismatches.first.length ? `, first ${report.mismatches.first.length}` : ''}):`);
    lines.push(...report.mismatches.first.map((m) => `  [${m.check}] ${m.detail}`));
  }
  lines.push(
    '',
    report.verdict === 'pass'
      ? `Verdict: PASS — ${alerts.verified ? 'the final table, the rejected lines and the alerts match' : 'the final table and the rejected lines match'} the expectation.`
      : 'Verdict: FAIL — see the mismatches above.',
  );
  if (report.keptFiles.length > 0) lines.push(`Kept: ${report.keptFiles.join(' ')}`);
  return `${lines.join('\n')}\n`;
}
