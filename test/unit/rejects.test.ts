/** The rejects CSV: one row per rejected record that a spreadsheet (or csv-parse) reads back as written. */
import { PassThrough } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { RejectsCsvWriter } from '../../src/splitter/rejects';

async function written(rows: { line: number; reason: string; record: string[] }[]): Promise<string> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const writer = new RejectsCsvWriter(out);
  for (const row of rows) writer.add(row);
  out.end();
  await new Promise((resolve) => out.on('end', resolve));
  return Buffer.concat(chunks).toString('utf8');
}

test('reads back as line, reason and the record re-quoted', async () => {
  const rows = [
    { line: 2, reason: "count '-1' is not a whole number ≥ 0", record: ['S1', 'Widget', '-1'] },
    { line: 5, reason: 'has 2 fields, the header has 3', record: ['S1', 'Bolt, "M8"\r\nlong'] },
    { line: 9, reason: 'a quoted field opened on this line is never closed', record: [] },
  ];
  const text = await written(rows);
  const parsed = parse(text, { columns: true }) as { line: string; reason: string; record: string }[];
  expect(parsed).toEqual([
    { line: '2', reason: rows[0]!.reason, record: 'S1,Widget,-1' },
    { line: '5', reason: rows[1]!.reason, record: 'S1,"Bolt, ""M8""\r\nlong"' },
    { line: '9', reason: rows[2]!.reason, record: '' },
  ]);
  // The record column is itself CSV: parsing it gives the fields back.
  expect(parse(parsed[1]!.record)).toEqual([rows[1]!.record]);
});

test('an enormous record is cut, so one bad row cannot bloat the file', async () => {
  const text = await written([{ line: 2, reason: 'product is longer than 1024 bytes', record: ['S1', 'x'.repeat(10_000), '1'] }]);
  const [row] = parse(text, { columns: true }) as { record: string }[];
  expect(row!.record.length).toBeLessThanOrEqual(2049);
  expect(row!.record.endsWith('…')).toBe(true);
});

test('a file with no rejects is just the header', async () => {
  expect(await written([])).toBe('line,reason,record\n');
});
