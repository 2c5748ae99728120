/**
 * The `inventory` command as a user (or an acceptance suite) runs it: a separate process, an
 * endpoint it is given, a JSON document on stdout — then the table read back independently.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMoto, type MotoServer } from '../../src/local/moto';
import { actualTable, csvText, expectedRejects, InventoryModel, sortItems, tempDirectory, writeCsv, type Line } from './model';

const run = promisify(execFile);
const bin = join(__dirname, '..', '..', 'bin', 'inventory.js');
let moto: MotoServer;
const directory = tempDirectory();

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
});

async function inventory(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
  }
}

interface Document {
  resources: Record<string, string>;
  summary: Record<string, number>;
  rejects: { file: string; line: number; reason: string }[];
  failedFiles: { file: string; reason: string }[];
  alerts: { type: string; store: string; product: string; count: number; previousCount: number | null; threshold: number; alertId: string }[];
}

const cliStores = (store: string) => store.startsWith('CL');

test('--help lists the local command and exits 0', async () => {
  const help = await inventory(['--help']);
  expect(help.code).toBe(0);
  expect(help.stdout).toMatch(/local \[options\] <file\.\.\.>/);
  const localHelp = await inventory(['local', '--help']);
  expect(localHelp.stdout).toMatch(/--endpoint <url>/);
  expect(localHelp.stdout).toMatch(/--threshold <n>/);
  expect(localHelp.stdout).toMatch(/--json/);
});

test('local --endpoint --json: the document and the table match the model, across two runs on one endpoint', async () => {
  const threshold = 5;
  const model = new InventoryModel(threshold);
  const night1: Line[] = [
    { store: 'CL1', product: 'Milk', count: 3 },
    { store: 'CL1', product: 'Eggs, brown', count: 40, threshold: 30 },
    { raw: 'CL1,Bread,-2,', reason: /count '-2' is not a whole number/ },
    { store: 'CL2', product: 'Tea', count: 6 },
  ];
  const night2: Line[] = [
    { store: 'CL1', product: 'Milk', count: 12 },
    { store: 'CL1', product: 'Eggs, brown', count: 20 },
    { store: 'CL2', product: 'Tea', count: 4 },
  ];
  const files = [writeCsv(directory, 'night1.csv', csvText(night1)), writeCsv(directory, 'night2.csv', csvText(night2))];
  const broken = writeCsv(directory, 'broken.csv', 'CL9,Milk,3\n');
  const expectedAlerts = [...model.applyFile(night1), ...model.applyFile(night2)];

  const first = await inventory(['local', '--endpoint', moto.endpoint, '--json', '--threshold', String(threshold), ...files, broken]);
  expect(first.code).toBe(1); // broken.csv failed as a whole
  const document = JSON.parse(first.stdout) as Document;
  expect(Object.keys(document.resources)).toEqual(expect.arrayContaining(['bucket', 'table', 'queue', 'deadLetterQueue', 'topic']));
  expect(document.summary).toMatchObject({
    files: 3,
    filesFailed: 1,
    rowsRead: night1.length + night2.length,
    rowsRejected: 1,
    rowsApplied: night1.length - 1 + night2.length,
    deadLettered: 0,
  });
  expect(document.rejects).toEqual(expectedRejects(night1).map((r) => ({ file: 'night1.csv', line: r.line, reason: expect.stringMatching(r.reason) })));
  expect(document.failedFiles).toEqual([{ file: 'broken.csv', reason: expect.stringMatching(/lacks the required columns/) }]);
  const strip = (alerts: Document['alerts']) => sortItems(alerts.map(({ type, store, product, count, previousCount, threshold: t }) => ({ type, store, product, count, previousCount, threshold: t })));
  expect(strip(document.alerts)).toEqual(sortItems(expectedAlerts));
  expect(new Set(document.alerts.map((a) => a.alertId)).size).toBe(document.alerts.length);
  expect(await actualTable(moto.endpoint, document.resources.table!, cliStores)).toEqual(model.table(cliStores));

  // A later night against the same endpoint: resources are reused, only this run's alerts reported.
  const night3: Line[] = [
    { store: 'CL1', product: 'Milk', count: 1 },
    { store: 'CL2', product: 'Tea', count: 50 },
  ];
  const night3Alerts = model.applyFile(night3);
  const second = await inventory(['local', '--endpoint', moto.endpoint, '--json', '--threshold', String(threshold), writeCsv(directory, 'night3.csv', csvText(night3))]);
  expect(second.code).toBe(0);
  const again = JSON.parse(second.stdout) as Document;
  expect(strip(again.alerts)).toEqual(night3Alerts);
  expect(again.failedFiles).toEqual([]);
  expect(await actualTable(moto.endpoint, again.resources.table!, cliStores)).toEqual(model.table(cliStores));
});

test('a missing file is a usage error: exit 2 with one sentence on stderr', async () => {
  const result = await inventory(['local', '--endpoint', moto.endpoint, '--json', join(directory, 'does-not-exist.csv')]);
  expect(result.code).toBe(2);
  expect(result.stderr.trim().split('\n').filter((l) => l.startsWith('inventory:'))).toHaveLength(1);
  expect(result.stderr).toMatch(/does-not-exist\.csv/);
});
