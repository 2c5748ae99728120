/**
 * One load test: generate the scenario's files, run them through a target (the local runtime or a
 * deployed stack), verify the final table, the rejected lines and (locally) the alerts against the
 * scenario's own expectation, and report. The CLI (run.ts) is a thin shell around runLoadTest.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FaultSpec } from '../src/local/faults';
import { LocalTarget } from './local';
import { buildReport, type LoadTestReport } from './report';
import { Scenario } from './scenario';
import { StackTarget } from './stack';
import type { FileRun, Progress, Target, TargetRun } from './target';
import { compareAlerts, compareRejects, Mismatches, verifyTable } from './verify';

const defaultDataDirectory = join(__dirname, '.data');

export interface LoadTestOptions {
  rows: number;
  files: number;
  stores?: number;
  seed?: number;
  defaultThreshold?: number;
  /** A local endpoint; without it (and without a stack) a moto server is started for the run. */
  endpoint?: string;
  /** A deployed stack, e.g. InventoryPipeline-dev. */
  stack?: string;
  /** Local only: faults injected below the handlers (as `inventory local --faults`). */
  faults?: FaultSpec;
  region?: string;
  /** Deployed: how long to wait for the pipeline to finish the uploads. */
  timeoutSeconds?: number;
  /** Keep the generated CSVs. */
  keep?: boolean;
  /** Where the CSVs (in a directory per run) and the JSON report go. */
  dataDirectory?: string;
  /** Unique per run by default. */
  runId?: string;
  progress?: Progress;
}

export interface LoadTestResult {
  report: LoadTestReport;
  /** The scenario and its expectation, to verify the table again (tests tamper with it). */
  scenario: Scenario;
  reportPath: string;
}

/** Time-ordered and unique enough: milliseconds in base 36 and a random pair of characters. */
function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(2).readUInt16BE(0).toString(36).padStart(2, '0').slice(-2)}`.toUpperCase();
}

const secondsSince = (started: number) => (Date.now() - started) / 1000;

/** Mismatches of a file as a whole: not processed, not read completely. */
function checkFiles(run: TargetRun, mismatches: Mismatches): void {
  for (const file of run.files) {
    if (file.status !== 'processed') mismatches.add('files', `${file.file.name} was ${file.status}${file.reason ? `: ${file.reason}` : ''}`);
    else if (file.rowsRead !== null && file.rowsRead !== file.file.rows) {
      mismatches.add('files', `${file.file.name}: ${file.rowsRead} rows read, the file has ${file.file.rows}`);
    }
  }
  if (run.deadLettered !== null && run.deadLettered > 0) mismatches.add('files', `${run.deadLettered} message(s) were dead-lettered during the run`);
  if (run.appliedTwice !== null && run.appliedTwice > 0) mismatches.add('table', `${run.appliedTwice} write(s) applied a row the item already held`);
}

function checkAlerts(files: readonly FileRun[], storePrefix: string, mismatches: Mismatches): { observed: number; mismatched: number; missing: number }[] | null {
  const observable = files.every((file) => file.alerts !== null);
  if (!observable) return null;
  return files.map((file) => compareAlerts(file.file.name, storePrefix, file.file.alerts, file.alerts!, mismatches));
}

export async function runLoadTest(options: LoadTestOptions): Promise<LoadTestResult> {
  const progress = options.progress ?? (() => undefined);
  const runId = options.runId ?? newRunId();
  const dataDirectory = options.dataDirectory ?? defaultDataDirectory;
  const filesDirectory = join(dataDirectory, runId);
  try {
    const generateStarted = Date.now();
    progress(`generating ${options.rows} rows in ${options.files} file(s) under ${filesDirectory}`);
    const scenario = await Scenario.generate({
      runId,
      rows: options.rows,
      files: options.files,
      directory: filesDirectory,
      ...(options.stores === undefined ? {} : { stores: options.stores }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
      ...(options.defaultThreshold === undefined ? {} : { defaultThreshold: options.defaultThreshold }),
    });
    const generateSeconds = secondsSince(generateStarted);

    const target: Target = options.stack
      ? await StackTarget.open({ stack: options.stack, ...(options.region ? { region: options.region } : {}), timeoutSeconds: options.timeoutSeconds ?? 1800 })
      : await LocalTarget.start({
          ...(options.endpoint ? { endpoint: options.endpoint } : {}),
          ...(options.faults ? { faults: options.faults } : {}),
          defaultThreshold: scenario.defaultThreshold,
        });
    let report: LoadTestReport;
    try {
      const run = await target.run(scenario.files, progress);
      const verifyStarted = Date.now();
      const mismatches = new Mismatches();
      checkFiles(run, mismatches);
      progress(`verifying the table ${target.description.table} (stores ${scenario.storePrefix}*)`);
      let shownAt = Date.now();
      const table = await verifyTable(target.documents, target.description.table, scenario, mismatches, (itemsFound) => {
        if (Date.now() - shownAt < 5_000) return;
        shownAt = Date.now();
        progress(`verifying: ${itemsFound} of the run's items read`);
      });
      const rejectsMismatched = run.files.reduce((total, file) => total + compareRejects(file.file.name, file.file.rejects, file.rejects, mismatches), 0);
      const alerts = checkAlerts(run.files, scenario.storePrefix, mismatches);
      report = buildReport({
        scenario,
        target: target.description,
        run,
        table,
        rejectsMismatched,
        alerts,
        mismatches,
        generateSeconds,
        verifySeconds: secondsSince(verifyStarted),
        keptFiles: options.keep ? scenario.files.map((file) => file.path) : [],
      });
    } finally {
      await target.close();
    }
    await mkdir(dataDirectory, { recursive: true });
    const reportPath = join(dataDirectory, `report-${runId}.json`);
    await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`);
    return { report, scenario, reportPath };
  } finally {
    if (!options.keep) await rm(filesDirectory, { recursive: true, force: true });
  }
}
