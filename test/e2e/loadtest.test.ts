/**
 * The load test (loadtest/) in process: its scenario's expectation agrees with the e2e model fed
 * the same files; its local mode passes on a small scenario against a moto server of its own; and
 * its verification fails when it should — a tampered item, a stray item, a missing reject, a
 * different alert.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { parse as parseCsv } from 'csv-parse/sync';
import { renderHtml } from '../../loadtest/html';
import { runLoadTest } from '../../loadtest/load-test';
import { Scenario, type ExpectedAlert } from '../../loadtest/scenario';
import { compareAlerts, compareRejects, Mismatches, verifyTable, type ObservedAlert } from '../../loadtest/verify';
import { startMoto, type MotoServer } from '../../src/local/moto';
import { createAwsClients, destroyAwsClients, localEndpointCredentials } from '../../src/shared/aws';
import { InventoryModel, sortItems, tempDirectory, type Line } from './model';

let moto: MotoServer;

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

/** A generated file read back as the e2e model takes it; bad lines judged here, by the README's rules. */
function linesOf(path: string): { lines: Line[]; badLines: number[] } {
  const records = parseCsv(readFileSync(path), { relax_column_count: true, from_line: 2 }) as string[][];
  const badLines: number[] = [];
  const lines = records.map((record, index): Line => {
    const [store = '', product = '', count = '', threshold = ''] = record.map((field) => field.trim());
    if (record.length !== 4 || store === '' || product === '' || !/^\d+$/.test(count) || !/^\d*$/.test(threshold)) {
      badLines.push(index + 2);
      return { raw: record.join(','), reason: /./ };
    }
    return { store, product, count: Number(count), ...(threshold === '' ? {} : { threshold: Number(threshold) }) };
  });
  return { lines, badLines };
}

test("the scenario's expectation equals the e2e model's for the same files, and a seed makes the same files", async () => {
  const options = { runId: 'MODEL1', rows: 4_000, files: 4, seed: 3, defaultThreshold: 7 };
  const scenario = await Scenario.generate({ ...options, directory: tempDirectory() });
  const model = new InventoryModel(options.defaultThreshold);
  for (const file of scenario.files) {
    const { lines, badLines } = linesOf(file.path);
    expect(lines).toHaveLength(file.rows);
    expect(file.rejects.map((reject) => reject.line)).toEqual(badLines);
    expect(sortItems(file.alerts)).toEqual(model.applyFile(lines));
  }
  const expectedItems = [...scenario.expectedItems()].map(({ item: _item, ...expected }) => expected);
  expect(sortItems(expectedItems)).toEqual(model.table());

  // What the scenario must contain to be worth running.
  const texts = scenario.files.map((file) => readFileSync(file.path, 'utf8'));
  expect(texts.join('')).toMatch(/^LTMODEL1-S\d{4},"[^"\n]*(,|"")[^\n]*",\d+,/m);
  expect(new Set(scenario.files.flatMap((file) => file.rejects.map((reject) => reject.kind)))).toEqual(new Set(['bad-count', 'empty-product', 'field-count']));
  expect(scenario.files.every((file) => file.alerts.length > 0)).toBe(true);
  expect(scenario.files.slice(1).every((file) => file.alerts.some((alert) => alert.type === 'RESTOCKED'))).toBe(true);

  const again = await Scenario.generate({ ...options, directory: tempDirectory() });
  expect(again.files.map((file) => readFileSync(file.path, 'utf8'))).toEqual(texts);
});

test('local mode passes on a small scenario, and a tampered table fails the verification', async () => {
  const dataDirectory = tempDirectory();
  const { report, scenario, reportPath } = await runLoadTest({ rows: 1_200, files: 3, seed: 11, endpoint: moto.endpoint, dataDirectory });

  expect(report.mismatches).toEqual({ total: 0, byCheck: { table: 0, rejects: 0, alerts: 0, files: 0 }, first: [] });
  expect(report.verdict).toBe('pass');
  expect(report.totals).toMatchObject({ rows: 1_200, deadLettered: 0 });
  expect(report.files.map((file) => file.rowsRead)).toEqual([400, 400, 400]);
  expect(report.verification.table.itemsExpected).toBeGreaterThan(300);
  expect(report.verification.table.itemsFound).toBe(report.verification.table.itemsExpected);
  expect(report.verification.rejects.expected).toBeGreaterThan(0);
  expect(report.verification.alerts).toMatchObject({ verified: true, mismatched: 0 });
  expect(report.verification.alerts.expected).toBeGreaterThan(0);
  expect(report.verification.alerts.observed).toBe(report.verification.alerts.expected);
  expect(JSON.parse(readFileSync(reportPath, 'utf8'))).toEqual(report);
  expect(existsSync(join(dataDirectory, report.runId))).toBe(false); // generated files deleted

  // The time series recorded while it ran, and the HTML page made of the report.
  const { samples } = report.timeline;
  expect(samples.length).toBeGreaterThanOrEqual(2);
  const written = samples.map((sample) => sample.rowsWritten!);
  expect(written).toEqual([...written].sort((a, b) => a - b));
  expect(written[written.length - 1]).toBeGreaterThanOrEqual(report.totals.applied!);
  expect(written[written.length - 1]).toBeLessThanOrEqual(report.totals.applied! + report.totals.skipped!);
  expect(samples[samples.length - 1]!.queues).toEqual({ 'upload-events': 0, rows: 0 });
  expect(report.files.map((file) => file.startSeconds)).toEqual([...report.files.map((file) => file.startSeconds)].sort((a, b) => a - b));
  const html = renderHtml(report);
  const data = /<script type="application\/json" id="load-test-report">(.*?)<\/script>/s.exec(html)![1]!;
  expect(JSON.parse(data)).toEqual(JSON.parse(readFileSync(reportPath, 'utf8')));
  expect(html).toContain('id="verdict">PASS');

  const clients = createAwsClients({ endpoint: moto.endpoint, region: process.env.AWS_REGION ?? 'us-east-1', credentials: localEndpointCredentials() });
  try {
    const [tampered] = scenario.expectedItems();
    await clients.documents.send(
      new UpdateCommand({
        TableName: report.target.table,
        Key: { store: tampered!.store, product: tampered!.product },
        UpdateExpression: 'SET #count = :count',
        ExpressionAttributeNames: { '#count': 'count' },
        ExpressionAttributeValues: { ':count': tampered!.count + 1 },
      }),
    );
    await clients.documents.send(
      new PutCommand({ TableName: report.target.table, Item: { store: `${scenario.storePrefix}S0001`, product: 'Stray Widget', count: 3, threshold: 10 } }),
    );
    const mismatches = new Mismatches();
    const table = await verifyTable(clients.documents, report.target.table, scenario, mismatches);
    expect(table).toMatchObject({ itemsExpected: report.verification.table.itemsExpected, mismatched: 2 });
    expect(mismatches.byCheck.table).toBe(2);
    expect(mismatches.first.map((m) => m.detail)).toEqual(
      expect.arrayContaining([
        `${scenario.storePrefix}S0001 / "Stray Widget" is in the table, but no valid row listed it`,
        `${tampered!.store} / ${JSON.stringify(tampered!.product)}: count ${tampered!.count + 1} in the table, ${tampered!.count} expected`,
      ]),
    );
  } finally {
    destroyAwsClients(clients);
  }
});

test('rejects and alerts that differ from the expectation are reported; a repeated delivery is not', () => {
  const mismatches = new Mismatches();
  const expectedRejects = [
    { line: 4, kind: 'bad-count' as const },
    { line: 9, kind: 'empty-product' as const },
  ];
  expect(compareRejects('night.csv', expectedRejects, [{ line: 4, reason: "count '7x' is not a whole number ≥ 0" }], mismatches)).toBe(1);
  expect(compareRejects('night.csv', expectedRejects, [{ line: 4, reason: 'store is empty' }, { line: 9, reason: 'product is empty' }, { line: 12, reason: 'product is empty' }], mismatches)).toBe(2);

  const expectedAlerts: ExpectedAlert[] = [
    { type: 'LOW_STOCK', store: 'LTX-S0001', product: 'Lamp', count: 3, previousCount: 40, threshold: 10 },
    { type: 'RESTOCKED', store: 'LTX-S0002', product: 'Fan', count: 30, previousCount: 2, threshold: 10 },
  ];
  const published: ObservedAlert[] = expectedAlerts.map((alert, index) => ({ ...alert, alertId: `a${index}` }));
  const repeated = [...published, published[0]!, { ...published[0]!, store: 'OTHER-S1', alertId: 'someone-else' }];
  expect(compareAlerts('night.csv', 'LTX-', expectedAlerts, repeated, mismatches)).toEqual({ observed: 2, mismatched: 0, missing: 0 });
  const altered = [{ ...expectedAlerts[0]!, count: 4 }, expectedAlerts[1]!];
  expect(compareAlerts('night.csv', 'LTX-', altered, published, mismatches)).toEqual({ observed: 2, mismatched: 1, missing: 0 });
  // An expected alert nobody published is lost, not just different.
  expect(compareAlerts('night.csv', 'LTX-', expectedAlerts, published.slice(1), new Mismatches())).toEqual({ observed: 1, mismatched: 1, missing: 1 });
  expect(mismatches.byCheck).toEqual({ table: 0, rejects: 3, alerts: 1, files: 0 });
  expect(mismatches.first.map((m) => m.detail)).toEqual([
    'night.csv line 9 (empty-product) was not rejected',
    'night.csv line 4 (bad-count) was rejected for another reason: store is empty',
    'night.csv line 12 was rejected, but is valid: product is empty',
    'night.csv: LOW_STOCK LTX-S0001 / "Lamp" count 3 (previous 40, threshold 10) published, LOW_STOCK LTX-S0001 / "Lamp" count 4 (previous 40, threshold 10) expected',
  ]);
});
