/**
 * The chaos matrix: the load-test scenario (several nights of store files with its own, independent
 * expectation) run through the local runtime once per fault spec, each verified as a load test is:
 * final table, rejected lines, alerts. Per spec it reports what was injected and the damage: rows
 * lost, rows applied twice, alerts lost, alerts repeated (before a subscriber's dedupe by alertId),
 * messages dead-lettered.
 */
import { parseFaultSpec, type FaultCounts } from '../src/local/faults';
import { runLoadTest, type LoadTestOptions } from '../loadtest/load-test';
import type { LoadTestReport } from '../loadtest/report';
import { textTable } from '../src/cli/text-table';

/** One row of the matrix: a name and the `--faults` spec it runs with. */
export interface ChaosSpec {
  name: string;
  faults: string;
}

/**
 * Each kind of fault alone, all of them together, and a 30-second throttling burst (a cold table
 * or a hot partition at the start of every file) — with a fault-free run first as the control.
 */
export const chaosMatrix: readonly ChaosSpec[] = [
  { name: 'none', faults: '' },
  { name: 'throttle', faults: 'throttle=0.2,seed=7' },
  { name: 'throttle burst 30 s', faults: 'throttle-burst=30,seed=7' },
  { name: 'duplicate', faults: 'duplicate=0.3,seed=7' },
  { name: 'crash', faults: 'crash=0.05,seed=7' },
  { name: 'publish-fail', faults: 'publish-fail=0.2,seed=7' },
  { name: 'all together', faults: 'throttle=0.2,duplicate=0.3,crash=0.05,publish-fail=0.1,seed=7' },
];

export interface ChaosResult {
  name: string;
  faults: string;
  rows: number;
  injected: FaultCounts;
  /** Items whose final state is not the expectation's (missing, stray or another count/threshold). */
  rowsLost: number;
  rowsAppliedTwice: number;
  alertsLost: number;
  /** Repeated deliveries of an alert (same alertId) that a subscriber drops. */
  alertsDuplicated: number;
  deadLettered: number;
  seconds: number;
  verdict: 'pass' | 'fail';
  /** The first mismatches of a failed run. */
  mismatches: string[];
}

function resultOf(spec: ChaosSpec, report: LoadTestReport): ChaosResult {
  const { totals, verification } = report;
  const result = {
    name: spec.name,
    faults: spec.faults,
    rows: totals.rows,
    injected: totals.faults ?? { throttled: 0, duplicated: 0, crashed: 0, publishFailed: 0 },
    rowsLost: verification.table.mismatched,
    rowsAppliedTwice: totals.appliedTwice ?? 0,
    alertsLost: verification.alerts.missing ?? 0,
    alertsDuplicated: totals.duplicateAlerts ?? 0,
    deadLettered: totals.deadLettered ?? 0,
    seconds: totals.seconds,
    mismatches: report.mismatches.first.map((m) => `[${m.check}] ${m.detail}`),
  };
  const clean = result.rowsLost === 0 && result.rowsAppliedTwice === 0 && result.alertsLost === 0 && result.deadLettered === 0;
  return { ...result, verdict: report.verdict === 'pass' && clean ? 'pass' : 'fail' };
}

export interface ChaosOptions extends Pick<LoadTestOptions, 'rows' | 'files' | 'seed' | 'dataDirectory' | 'progress'> {
  specs?: readonly ChaosSpec[];
}

/**
 * Runs every spec of the matrix, one after another, each on a fresh local AWS. Every run generates the
 * same files (same seed, same run id), so a spec's seed injects the same faults on every run.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult[]> {
  const results: ChaosResult[] = [];
  for (const spec of options.specs ?? chaosMatrix) {
    options.progress?.(`${spec.name}: ${spec.faults || 'no faults'}`);
    const { report } = await runLoadTest({
      runId: 'CHAOS',
      rows: options.rows,
      files: options.files,
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.dataDirectory === undefined ? {} : { dataDirectory: options.dataDirectory }),
      faults: parseFaultSpec(spec.faults),
    });
    const result = resultOf(spec, report);
    options.progress?.(`${spec.name}: ${result.verdict} in ${result.seconds.toFixed(1)} s`);
    results.push(result);
  }
  return results;
}

function describeInjected(injected: FaultCounts): string {
  const parts = [
    ['throttled', injected.throttled],
    ['duplicated', injected.duplicated],
    ['crashed', injected.crashed],
    ['publish failed', injected.publishFailed],
  ].filter(([, count]) => count !== 0);
  return parts.length === 0 ? 'none' : parts.map(([name, count]) => `${count} ${name}`).join(', ');
}

export function renderChaos(results: readonly ChaosResult[]): string {
  const header = ['spec', 'rows', 'faults injected', 'rows lost', 'applied twice', 'alerts lost', 'alerts duplicated', 'dead-lettered', 'seconds', 'verdict'];
  const rows = results.map((r) => [
    r.faults === '' ? r.name : `${r.name} (${r.faults})`,
    String(r.rows),
    describeInjected(r.injected),
    String(r.rowsLost),
    String(r.rowsAppliedTwice),
    String(r.alertsLost),
    String(r.alertsDuplicated),
    String(r.deadLettered),
    r.seconds.toFixed(1),
    r.verdict.toUpperCase(),
  ]);
  const lines = [textTable([header, ...rows])];
  for (const failed of results.filter((r) => r.verdict === 'fail')) {
    lines.push('', `${failed.name}:`, ...failed.mismatches.map((m) => `  ${m}`));
  }
  return `${lines.join('\n')}\n`;
}
