/**
 * Store-scoped uploads as a user runs them: `inventory local` in a separate process against one
 * moto server, with and without `--store-scoped`, each run's table read back with an independent
 * client and compared with the model. Scoped, each file is uploaded under its directory's name
 * (stores/SS12/monday.csv → uploads/SS12/monday.csv): a row for another store is rejected naming
 * both stores, and a file without a store column is its directory's store's. Unscoped, the same
 * kinds of file do what they always did: the row for another store is applied, and the file
 * without a store column fails as a whole.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startMoto, type MotoServer } from '../../src/local/moto';
import { resourceNames, settings } from '../../src/shared/settings';
import { actualTable, csvText, expectedRejects, InventoryModel, sortItems, tempDirectory, writeCsv, type ExpectedAlert, type Line, type Row } from './model';
import { inventory } from '../support/cli';

const threshold = 10;
let moto: MotoServer;
const directory = tempDirectory();

beforeAll(async () => {
  moto = await startMoto();
});

afterAll(async () => {
  await moto?.stop();
  rmSync(directory, { recursive: true, force: true });
});

interface Document {
  resources: Record<string, string>;
  summary: Record<string, number>;
  files: { file: string; key: string; status: string; rowsRead: number; rowsRejected: number }[];
  rejects: { file: string; line: number; reason: string }[];
  failedFiles: { file: string; reason: string }[];
  alerts: ExpectedAlert[];
}

/** A file in a directory of its own (created as needed). */
function fileIn(folder: string, name: string, text: string): string {
  mkdirSync(join(directory, folder), { recursive: true });
  return writeCsv(join(directory, folder), name, text);
}

/** CSV text without a store column: the rows' products and counts only, under `header`. */
const withoutStore = (rows: readonly Row[], header: string, delimiter: string) =>
  `${[header, ...rows.map((row) => [row.product, String(row.count)].join(delimiter))].join('\n')}\n`;

const strip = (alerts: Document['alerts']) =>
  sortItems(alerts.map(({ type, store, product, count, previousCount, threshold: t }) => ({ type, store, product, count, previousCount, threshold: t })));
const ofStores = (prefix: string) => (store: string) => store.startsWith(prefix);

test('--store-scoped: files go under their directory’s store; a row for another store is rejected naming both; a file without a store column is its directory’s store’s', async () => {
  const model = new InventoryModel(threshold);
  const monday12: Line[] = [
    { store: 'SS12', product: 'Milk', count: 3 },
    { store: 'SS12', product: 'Eggs, brown', count: 40, threshold: 30 },
    { raw: 'SS40,Milk,90,', reason: /^the row is for store 'SS40', but this upload \(under uploads\/SS12\/\) may only hold rows for store 'SS12'$/ },
    { store: 'SS12', product: 'Tea', count: 12 },
  ];
  const monday40: Row[] = [
    { store: 'SS40', product: 'Milk', count: 4 },
    { store: 'SS40', product: 'Bread', count: 25 },
  ];
  const tuesday12: Row[] = [{ store: 'SS12', product: 'Milk', count: 15 }];
  const files = [
    fileIn('scoped/SS12', 'monday.csv', csvText(monday12)),
    fileIn('scoped/SS40', 'monday.csv', withoutStore(monday40, 'product;count', ';')),
    fileIn('scoped/SS12', 'tuesday.csv', withoutStore(tuesday12, 'SKU,Qty', ',')),
  ];
  const expectedAlerts = [...model.applyFile(monday12), ...model.applyFile(monday40), ...model.applyFile(tuesday12)];

  const result = await inventory(['local', '--store-scoped', '--endpoint', moto.endpoint, '--json', '--threshold', String(threshold), ...files]);
  expect(result.code).toBe(0);
  const document = JSON.parse(result.stdout) as Document;
  // Two stores' files are often named alike: a file is named with its store.
  expect(document.files.map(({ file, key, status }) => ({ file, key, status }))).toEqual([
    { file: 'SS12/monday.csv', key: 'uploads/SS12/monday.csv', status: 'processed' },
    { file: 'SS40/monday.csv', key: 'uploads/SS40/monday.csv', status: 'processed' },
    { file: 'SS12/tuesday.csv', key: 'uploads/SS12/tuesday.csv', status: 'processed' },
  ]);
  expect(document.summary).toMatchObject({ files: 3, filesFailed: 0, rowsRead: 7, rowsRejected: 1, rowsApplied: 6, deadLettered: 0 });
  expect(document.rejects).toEqual(expectedRejects(monday12).map((r) => ({ file: 'SS12/monday.csv', line: r.line, reason: expect.stringMatching(r.reason) })));
  expect(strip(document.alerts)).toEqual(sortItems(expectedAlerts));
  expect(await actualTable(moto.endpoint, document.resources.table!, ofStores('SS'))).toEqual(model.table(ofStores('SS')));
});

test('without --store-scoped, the same kinds of file: the row for another store is applied, and a file without a store column fails as a whole', async () => {
  const model = new InventoryModel(threshold);
  const monday12: Row[] = [
    { store: 'SU12', product: 'Milk', count: 3 },
    { store: 'SU40', product: 'Milk', count: 90 },
  ];
  const monday40: Row[] = [{ store: 'SU40', product: 'Bread', count: 25 }];
  const files = [fileIn('unscoped/SU12', 'su12-monday.csv', csvText(monday12)), fileIn('unscoped/SU40', 'su40-monday.csv', withoutStore(monday40, 'product,count', ','))];
  const expectedAlerts = model.applyFile(monday12);

  const result = await inventory(['local', '--endpoint', moto.endpoint, '--json', '--threshold', String(threshold), ...files]);
  expect(result.code).toBe(1);
  const document = JSON.parse(result.stdout) as Document;
  expect(document.files.map(({ file, key, status }) => ({ file, key, status }))).toEqual([
    { file: 'su12-monday.csv', key: 'uploads/su12-monday.csv', status: 'processed' },
    { file: 'su40-monday.csv', key: 'uploads/su40-monday.csv', status: 'failed' },
  ]);
  expect(document.rejects).toEqual([]);
  expect(document.failedFiles).toEqual([{ file: 'su40-monday.csv', reason: expect.stringMatching(/^the header \(line 1\) lacks the required column 'store'/) }]);
  expect(strip(document.alerts)).toEqual(sortItems(expectedAlerts));
  expect(await actualTable(moto.endpoint, document.resources.table!, ofStores('SU'))).toEqual(model.table(ofStores('SU')));
});

test('--store-scoped with a file whose directory cannot name a store is a usage error: exit 2, one sentence, nothing uploaded', async () => {
  const good = fileIn('refused/SR12', 'monday.csv', csvText([{ store: 'SR12', product: 'Salt', count: 4 }]));
  const padded = fileIn('refused/ SR40', 'monday.csv', csvText([{ store: 'SR40', product: 'Salt', count: 4 }]));
  const result = await inventory(['local', '--store-scoped', '--endpoint', moto.endpoint, '--json', good, padded]);
  expect({ code: result.code, stdout: result.stdout }).toEqual({ code: 2, stdout: '' });
  expect(result.stderr.trim().split('\n')).toEqual([
    `inventory: ${padded} cannot be uploaded store-scoped, as uploads/<its directory's name>/monday.csv: its directory's name ' SR40' begins or ends with a space; put it in a directory named after its store, e.g. S0012/monday.csv`,
  ]);
  expect(await actualTable(moto.endpoint, resourceNames(settings.stage.local).table, ofStores('SR'))).toEqual([]);
});
