/**
 * `inventory local`: runs store files through the whole pipeline on this machine and reports what
 * happened — as a table for people, or as one JSON document (`--json`) for scripts and tests. With
 * `--from-template DIR` the pipeline is the synthesized stack, IAM enforced, and the report says
 * what IAM decided: the calls denied, and the grants each role used and did not use.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import type { InventoryItem } from '../shared/item';
import type { FaultCounts, FaultSpec } from '../local/faults';
import { LocalPipeline, type CapturedAlert, type FileOutcome } from '../local/runtime';
import type { AccessDenial, Grant, IamReport, RoleGrants } from '../local/template/local-deployment';
import { textTable } from './text-table';

export interface LocalCommandOptions {
  endpoint?: string;
  threshold?: number;
  json?: boolean;
  logLevel?: string;
  /** Faults injected below the handlers (`--faults`, parsed). */
  faults?: FaultSpec;
  /** A cloud assembly directory (`npx cdk synth -o DIR`): run the stack it holds, IAM enforced. */
  fromTemplate?: string;
  /** Upload each FILE under its directory's name (`uploads/<store>/<name>`) and split store-scoped. */
  storeScoped?: boolean;
}

export interface RunSummary {
  files: number;
  filesFailed: number;
  rowsRead: number;
  rowsRejected: number;
  rowsApplied: number;
  rowsSkipped: number;
  alerts: number;
  /** Repeated deliveries of an alert (same alertId), not counted in `alerts`. */
  duplicateAlerts: number;
  deadLettered: number;
  seconds: number;
  rowsPerSecond: number;
  /** Faults injected (`--faults`); all 0 without it. */
  faults: FaultCounts;
  /** With --from-template: calls the functions and their mappings were denied (each call counted). */
  accessDenied?: number;
  /** With --from-template: calls made under a function's role and allowed. */
  callsAuthorized?: number;
  /** With --from-template: each distinct denied call once. */
  accessDenials?: AccessDenial[];
}

/** What IAM decided, in the document's top level (with --from-template). */
interface IamSection {
  accessDenied: number;
  callsAuthorized: number;
  accessDenials: AccessDenial[];
  /** Per function's role: the granted actions some call used, and those none did. */
  grants: RoleGrants[];
}

export interface LocalRunDocument extends Partial<IamSection> {
  endpoint: string;
  /** With --from-template: the cloud assembly the run deployed. */
  template?: string;
  resources: { bucket: string; table: string; queue: string; deadLetterQueue: string; topic: string; uploadQueue: string; uploadDeadLetterQueue: string; alertDeadLetterQueue: string };
  summary: RunSummary;
  /** The same counts as `summary.faults`, at the top for scripts that look there. */
  faults: FaultCounts;
  files: Omit<FileOutcome, 'rejects' | 'alerts'>[];
  rejects: { file: string; line: number; reason: string }[];
  failedFiles: { file: string; reason: string }[];
  alerts: (Pick<CapturedAlert, 'type' | 'store' | 'product' | 'count' | 'previousCount' | 'threshold' | 'alertId' | 'time' | 'upload'> & { file: string })[];
}

const noneInjected: FaultCounts = { throttled: 0, duplicated: 0, crashed: 0, publishFailed: 0 };

export function summarize(outcomes: readonly FileOutcome[], seconds: number, faults: FaultCounts = noneInjected): RunSummary {
  const total = (pick: (o: FileOutcome) => number) => outcomes.reduce((sum, o) => sum + pick(o), 0);
  const rowsRead = total((o) => o.rowsRead);
  return {
    files: outcomes.length,
    filesFailed: outcomes.filter((o) => o.status === 'failed').length,
    rowsRead,
    rowsRejected: total((o) => o.rowsRejected),
    rowsApplied: total((o) => o.rowsApplied),
    rowsSkipped: total((o) => o.rowsSkipped),
    alerts: total((o) => o.alerts.length),
    duplicateAlerts: total((o) => o.duplicateAlerts),
    deadLettered: total((o) => o.deadLettered),
    seconds: Math.round(seconds * 1000) / 1000,
    rowsPerSecond: seconds > 0 ? Math.round(rowsRead / seconds) : 0,
    faults: { ...faults },
  };
}

export function runDocument(
  pipeline: LocalPipeline,
  outcomes: readonly FileOutcome[],
  seconds: number,
  iam?: { template: string; report: IamReport },
): LocalRunDocument {
  const { resources } = pipeline;
  const summary = summarize(outcomes, seconds, pipeline.faults.counts);
  const decided = iam && { accessDenied: iam.report.accessDenied, callsAuthorized: iam.report.callsAuthorized, accessDenials: iam.report.accessDenials };
  return {
    endpoint: pipeline.endpoint,
    ...(iam ? { template: iam.template } : {}),
    resources: {
      bucket: resources.bucket,
      table: resources.table,
      queue: resources.workQueueUrl,
      deadLetterQueue: resources.deadLetterQueueUrl,
      topic: resources.topicArn,
      uploadQueue: resources.uploadQueueUrl,
      uploadDeadLetterQueue: resources.uploadDeadLetterQueueUrl,
      alertDeadLetterQueue: resources.alertDeadLetterQueueUrl,
    },
    summary: { ...summary, ...decided },
    faults: summary.faults,
    ...(iam ? { ...decided, grants: iam.report.grants } : {}),
    files: outcomes.map(({ rejects: _rejects, alerts: _alerts, ...file }) => file),
    rejects: outcomes.flatMap((o) => o.rejects.map((r) => ({ file: o.file, line: r.line, reason: r.reason }))),
    failedFiles: outcomes.filter((o) => o.status === 'failed').map((o) => ({ file: o.file, reason: o.reason ?? 'unknown' })),
    alerts: outcomes.flatMap((o) =>
      o.alerts.map((a) => ({
        file: o.file,
        type: a.type,
        store: a.store,
        product: a.product,
        count: a.count,
        previousCount: a.previousCount,
        threshold: a.threshold,
        alertId: a.alertId,
        time: a.time,
        upload: a.upload,
      })),
    ),
  };
}

/** Exit status: 0 when every file was processed, nothing was dead-lettered and no call was denied. */
export function exitCodeOf(summary: RunSummary): number {
  return summary.filesFailed === 0 && summary.deadLettered === 0 && (summary.accessDenied ?? 0) === 0 ? 0 : 1;
}

function describeAlert(alert: LocalRunDocument['alerts'][number]): string {
  const previous = alert.previousCount === null ? 'new item' : `was ${alert.previousCount}`;
  return `${alert.type.padEnd(10)} ${alert.store} / ${alert.product}: ${alert.count} (${previous}, threshold ${alert.threshold})  [${alert.file}]`;
}

const inventoryShown = 40;

const grantText = (grant: Grant) => `${grant.action} on ${grant.resources.join(', ')}`;

/** Granted actions only Lambda itself uses on AWS (the function's logs and traces); no local call can. */
const lambdasOwn = (grant: Grant) => /^(logs|xray):/.test(grant.action);

function renderIam(document: LocalRunDocument): string[] {
  if (document.accessDenied === undefined) return [];
  const lines = [
    '',
    `IAM (the template's roles, enforced by moto): ${document.callsAuthorized} call(s) authorized, ${document.accessDenied} denied`,
  ];
  const denials = document.accessDenials ?? [];
  if (denials.length > 0) {
    lines.push('', `Denied calls (${denials.length} distinct):`);
    for (const denial of denials) lines.push(`  ${denial.function}: ${denial.action} on ${denial.resource}`, `    ${denial.message}`);
  }
  lines.push('', 'Grants per role — used by a call of this run, or not:');
  for (const role of document.grants ?? []) {
    lines.push(`  ${role.function} (${role.role})`);
    for (const grant of role.used) lines.push(`    used    ${grantText(grant)}`);
    for (const grant of role.unused) lines.push(`    unused  ${grantText(grant)}${lambdasOwn(grant) ? '  (Lambda itself writes logs and traces; not run locally)' : ''}`);
  }
  return lines;
}

function renderInventory(items: readonly InventoryItem[]): string[] {
  if (items.length === 0) return [];
  const rows = items.slice(0, inventoryShown).map((item) => [
    item.store,
    item.product,
    String(item.count),
    String(item.threshold),
    item.count < item.threshold ? 'LOW' : '',
  ]);
  const lines = ['', `Inventory (${items.length} item${items.length === 1 ? '' : 's'}):`, textTable([['store', 'product', 'count', 'threshold', ''], ...rows])];
  if (items.length > inventoryShown) lines.push(`… and ${items.length - inventoryShown} more items`);
  return lines;
}

export function renderHuman(document: LocalRunDocument, items: readonly InventoryItem[] = []): string {
  const { summary } = document;
  const header = ['file', 'status', 'read', 'rejected', 'applied', 'skipped', 'dead-lettered', 'seconds'];
  const rows = document.files.map((f) => [
    f.file,
    f.status,
    String(f.rowsRead),
    String(f.rowsRejected),
    String(f.rowsApplied),
    String(f.rowsSkipped),
    String(f.deadLettered),
    f.seconds.toFixed(2),
  ]);
  const lines = [
    '',
    textTable([header, ...rows]),
    '',
    `Summary: ${summary.files} file(s), ${summary.rowsRead} rows read, ${summary.rowsRejected} rejected, ` +
      `${summary.rowsApplied} applied, ${summary.rowsSkipped} skipped (stale or duplicate), ${summary.alerts} alert(s)` +
      `${summary.duplicateAlerts > 0 ? ` (+${summary.duplicateAlerts} repeated deliveries)` : ''}, ` +
      `${summary.deadLettered} dead-lettered, ${summary.seconds.toFixed(2)} s, ${summary.rowsPerSecond} rows/s`,
  ];
  const { faults } = summary;
  if (Object.values(faults).some((count) => count > 0)) {
    lines.push(
      `Faults injected: ${faults.throttled} throttled UpdateItem attempts, ${faults.duplicated} duplicate deliveries, ` +
        `${faults.crashed} crashed invocations, ${faults.publishFailed} failed alert publishes`,
    );
  }
  if (document.failedFiles.length > 0) {
    lines.push('', 'Failed files (nothing from them was applied):');
    for (const failed of document.failedFiles) lines.push(`  ${failed.file}: ${failed.reason}`);
  }
  if (document.rejects.length > 0) {
    lines.push('', `Rejected rows (${document.rejects.length}):`);
    for (const reject of document.rejects.slice(0, 50)) lines.push(`  ${reject.file} line ${reject.line}: ${reject.reason}`);
    if (document.rejects.length > 50) lines.push(`  … and ${document.rejects.length - 50} more (run with --json for all)`);
  }
  if (document.alerts.length > 0) {
    lines.push('', `Alerts published (${document.alerts.length}):`);
    for (const alert of document.alerts.slice(0, 50)) lines.push(`  ${describeAlert(alert)}`);
    if (document.alerts.length > 50) lines.push(`  … and ${document.alerts.length - 50} more (run with --json for all)`);
  }
  lines.push(...renderIam(document));
  lines.push(...renderInventory(items));
  lines.push('', `Table ${document.resources.table} on ${document.endpoint}`);
  return `${lines.join('\n')}\n`;
}

/** Every FILE must be a readable file before anything starts. */
function checkFiles(files: readonly string[]): void {
  for (const file of files) {
    let stats;
    try {
      stats = statSync(file);
      accessSync(file, constants.R_OK);
    } catch {
      throw new Error(`cannot read ${file}: no such file, or no permission to read it`);
    }
    if (!stats.isFile()) throw new Error(`${file} is not a file`);
  }
}

/** The key for an endpoint's administrator, from the environment as the AWS SDK reads it. */
function administratorFromEnvironment() {
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey, AWS_SESSION_TOKEN: sessionToken } = process.env;
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) } : undefined;
}

function startPipeline(options: LocalCommandOptions): Promise<LocalPipeline> {
  const { fromTemplate } = options;
  if (fromTemplate === undefined) {
    if (!options.json && !options.endpoint) process.stderr.write('Starting the local AWS (moto server)…\n');
    return LocalPipeline.start({
      endpoint: options.endpoint,
      defaultThreshold: options.threshold,
      logLevel: options.logLevel,
      faults: options.faults,
      storeScoped: options.storeScoped ?? false,
    });
  }
  if (options.faults !== undefined) {
    throw new Error('--faults cannot be combined with --from-template: faults are injected in the handlers\' clients, and the bundled functions run in processes of their own');
  }
  if (options.threshold !== undefined) {
    throw new Error(`--threshold cannot be combined with --from-template: the functions take DEFAULT_THRESHOLD from the template`);
  }
  if (!options.json) process.stderr.write(`Deploying ${fromTemplate} on a local AWS that enforces IAM (moto server)…\n`);
  return LocalPipeline.fromTemplate({
    assemblyDir: fromTemplate,
    ...(options.endpoint ? { endpoint: options.endpoint, administrator: administratorFromEnvironment() } : {}),
    logLevel: options.logLevel,
  });
}

/**
 * With --from-template the template's splitter decides whether uploads are store-scoped; the option
 * may say so too, but cannot make a splitter that is not store-scoped read them so.
 */
function checkStoreScope(pipeline: LocalPipeline, options: LocalCommandOptions): void {
  if (options.storeScoped && !pipeline.storeScoped) {
    throw new Error(
      '--store-scoped contradicts the template: its splitter is not store-scoped (STORE_SCOPED_UPLOADS is not true); synthesize it with -c storeScopedUploads=true, or leave the option out',
    );
  }
}

export async function runLocal(files: string[], options: LocalCommandOptions): Promise<number> {
  checkFiles(files);
  const interactive = !options.json && process.stderr.isTTY === true;
  const pipeline = await startPipeline(options);
  const started = Date.now();
  const outcomes: FileOutcome[] = [];
  try {
    checkStoreScope(pipeline, options);
    // Every file's upload key before the first is uploaded: a store-scoped file no directory names a store for is a usage error.
    for (const file of files) pipeline.uploadOf(file);
    if (files.length === 0) {
      // No files: process what is already waiting (a redriven message, a replayed event).
      const activity = await pipeline.drain();
      outcomes.push({ file: '(waiting messages)', path: '', key: '', status: 'processed', ...activity, seconds: (Date.now() - started) / 1000, rejects: [] });
    }
    for (const file of files) {
      const bar = interactive
        ? new SingleBar({ format: ' {file} [{bar}] {value}/{total} rows', stream: process.stderr, hideCursor: true, clearOnComplete: false }, Presets.shades_classic)
        : undefined;
      bar?.start(1, 0, { file });
      const outcome = await pipeline.processFile(file, (p) => {
        bar?.setTotal(Math.max(1, p.rowsTotal));
        bar?.update(p.rowsDone, { file: p.file });
      });
      bar?.update(bar.getTotal());
      bar?.stop();
      if (!interactive && !options.json) process.stderr.write(`  ${outcome.file}: ${outcome.status}, ${outcome.rowsRead} rows in ${outcome.seconds.toFixed(2)} s\n`);
      outcomes.push(outcome);
    }
    const seconds = (Date.now() - started) / 1000;
    const iamReport = await pipeline.iamReport();
    const document = runDocument(pipeline, outcomes, seconds, iamReport && { template: options.fromTemplate!, report: iamReport });
    process.stdout.write(options.json ? `${JSON.stringify(document, null, 2)}\n` : renderHuman(document, await pipeline.inventory()));
    return exitCodeOf(document.summary);
  } finally {
    await pipeline.close();
  }
}
