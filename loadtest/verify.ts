/**
 * Compares what the pipeline did with what the scenario expects: the final table (read back with
 * a Scan of the run's stores), the rejected lines of each file and, where they can be observed,
 * the alerts each file raised.
 */
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { settings } from '../src/shared/settings';
import { rejectReasonPatterns, type ExpectedAlert, type ExpectedReject, type Scenario } from './scenario';

export type Check = 'table' | 'rejects' | 'alerts' | 'files';

export interface Mismatch {
  check: Check;
  detail: string;
}

/** Every mismatch is counted; only the first few are kept, which is what a reader can act on. */
export class Mismatches {
  static readonly kept = 20;
  total = 0;
  readonly byCheck: Record<Check, number> = { table: 0, rejects: 0, alerts: 0, files: 0 };
  readonly first: Mismatch[] = [];

  add(check: Check, detail: string): void {
    this.total += 1;
    this.byCheck[check] += 1;
    if (this.first.length < Mismatches.kept) this.first.push({ check, detail });
  }
}

export interface ObservedReject {
  line: number;
  reason: string;
}

export interface ObservedAlert {
  alertId: string;
  type: string;
  store: string;
  product: string;
  count: number;
  previousCount: number | null;
  threshold: number;
}

export interface TableVerification {
  itemsExpected: number;
  itemsFound: number;
  /** Items missing, unexpected, or holding another count or threshold. */
  mismatched: number;
}

const itemName = (item: { store: string; product: string }) => `${item.store} / ${JSON.stringify(item.product)}`;

/**
 * Scans the table for the run's stores, page by page (the table may hold millions of other items),
 * and compares each item's count and threshold with the expectation; then reports the expected
 * items the scan never met.
 */
export async function verifyTable(
  documents: DynamoDBDocumentClient,
  table: string,
  scenario: Scenario,
  mismatches: Mismatches,
  onPage?: (itemsFound: number) => void,
): Promise<TableVerification> {
  const seen = new Uint8Array(scenario.universe);
  let itemsFound = 0;
  let mismatched = 0;
  const differ = (detail: string) => {
    mismatched += 1;
    mismatches.add('table', detail);
  };
  let start: Record<string, unknown> | undefined;
  do {
    const page = await documents.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'begins_with(#store, :prefix)',
        ProjectionExpression: '#store, #product, #count, #threshold',
        ExpressionAttributeNames: { '#store': settings.table.partitionKey, '#product': settings.table.sortKey, '#count': 'count', '#threshold': 'threshold' },
        ExpressionAttributeValues: { ':prefix': scenario.storePrefix },
        // A verdict on what was written, not on a replica that may lag behind it.
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const found of (page.Items ?? []) as { store: string; product: string; count?: unknown; threshold?: unknown }[]) {
      itemsFound += 1;
      const item = scenario.itemOf(found.store, found.product);
      const expected = item === undefined ? undefined : scenario.expectedItem(item);
      if (item === undefined || expected === undefined) {
        differ(`${itemName(found)} is in the table, but no valid row listed it`);
        continue;
      }
      seen[item] = 1;
      if (found.count !== expected.count) differ(`${itemName(found)}: count ${String(found.count)} in the table, ${expected.count} expected`);
      if (found.threshold !== expected.threshold) {
        differ(`${itemName(found)}: threshold ${String(found.threshold)} in the table, ${expected.threshold} expected`);
      }
    }
    onPage?.(itemsFound);
    start = page.LastEvaluatedKey;
  } while (start);

  let itemsExpected = 0;
  for (const expected of scenario.expectedItems()) {
    itemsExpected += 1;
    if (seen[expected.item] !== 1) differ(`${itemName(expected)} is missing from the table (expected count ${expected.count}, threshold ${expected.threshold})`);
  }
  return { itemsExpected, itemsFound, mismatched };
}

/** Same lines, and each reason names what is wrong with its line. Returns how many differ. */
export function compareRejects(file: string, expected: readonly ExpectedReject[], observed: readonly ObservedReject[], mismatches: Mismatches): number {
  const reported = new Map(observed.map((reject) => [reject.line, reject.reason]));
  let mismatched = 0;
  const differ = (detail: string) => {
    mismatched += 1;
    mismatches.add('rejects', `${file} ${detail}`);
  };
  for (const reject of expected) {
    const reason = reported.get(reject.line);
    reported.delete(reject.line);
    if (reason === undefined) differ(`line ${reject.line} (${reject.kind}) was not rejected`);
    else if (!rejectReasonPatterns[reject.kind].test(reason)) differ(`line ${reject.line} (${reject.kind}) was rejected for another reason: ${reason}`);
  }
  for (const [line, reason] of reported) differ(`line ${line} was rejected, but is valid: ${reason}`);
  return mismatched;
}

const alertKey = (alert: { type: string; store: string; product: string }) => `${alert.type}\u0000${alert.store}\u0000${alert.product}`;
const describeAlert = (alert: Omit<ObservedAlert, 'alertId'>) =>
  `${alert.type} ${itemName(alert)} count ${alert.count} (previous ${alert.previousCount ?? 'none'}, threshold ${alert.threshold})`;

/**
 * One file's alerts, compared after keeping one per alertId (delivery is at least once). Only
 * alerts of the run's stores are considered: another user of the same endpoint may raise others.
 * Returns how many differ.
 */
export function compareAlerts(
  file: string,
  storePrefix: string,
  expected: readonly ExpectedAlert[],
  observed: readonly ObservedAlert[],
  mismatches: Mismatches,
): { observed: number; mismatched: number; missing: number } {
  const byId = new Map(observed.filter((alert) => alert.store.startsWith(storePrefix)).map((alert) => [alert.alertId, alert]));
  const unmatched = new Map<string, ObservedAlert[]>();
  for (const alert of byId.values()) unmatched.set(alertKey(alert), [...(unmatched.get(alertKey(alert)) ?? []), alert]);
  let mismatched = 0;
  let missing = 0;
  const differ = (detail: string) => {
    mismatched += 1;
    mismatches.add('alerts', `${file}: ${detail}`);
  };
  for (const alert of expected) {
    const candidates = unmatched.get(alertKey(alert)) ?? [];
    const exact = candidates.findIndex(
      (c) => c.count === alert.count && c.previousCount === alert.previousCount && c.threshold === alert.threshold,
    );
    if (exact !== -1) {
      candidates.splice(exact, 1);
      continue;
    }
    const other = candidates.shift();
    if (other === undefined) missing += 1;
    differ(other ? `${describeAlert(other)} published, ${describeAlert(alert)} expected` : `${describeAlert(alert)} expected, not published`);
  }
  for (const rest of unmatched.values()) for (const alert of rest) differ(`${describeAlert(alert)} published, not expected`);
  return { observed: byId.size, mismatched, missing };
}
