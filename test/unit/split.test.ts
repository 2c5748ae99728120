/**
 * splitUpload over in-memory streams: what a store file turns into (rows sent, rows rejected with
 * their physical line, or the whole file failed). Each file is fed both as one chunk and one byte
 * at a time, so line breaks, quotes and multibyte characters split across chunks are covered too.
 * (split.property.test.ts checks the same core against a reference reader over random files.)
 */
import { gzipSync } from 'node:zlib';
import type { StoreScope } from '../../src/shared/csv';
import type { SplitOutcome } from '../../src/shared/report';
import { splitUpload } from '../../src/splitter/split';
import { SendFailedError } from '../../src/splitter/sender';
import { rowStamp } from '../../src/shared/upload';
import { CapturingQueue, CapturingRejects, readableOf } from '../support/capture';

const upload = { key: 'uploads/store-12.csv', stamp: '2024-06-01T22:00:00.000Z/0123456789abcdef/00000000000000000000000000000001' };

type Row = [store: string, product: string, count: number, threshold: number | null, line: number];

interface Outcome {
  result: SplitOutcome;
  rows: Row[];
  rejects: [line: number, reason: string][];
  queue: CapturingQueue;
  rejectsSink: CapturingRejects;
}

function chunked(bytes: Buffer, mode: 'whole' | 'bytes'): Buffer[] {
  if (mode === 'whole') return [bytes];
  return Array.from(bytes, (_, index) => bytes.subarray(index, index + 1));
}

async function split(
  content: string | Buffer,
  mode: 'whole' | 'bytes' = 'whole',
  key = upload.key,
  maxRecordBytes?: number,
  scope?: StoreScope,
): Promise<Outcome> {
  const queue = new CapturingQueue();
  const rejectsSink = new CapturingRejects();
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const input = readableOf(...chunked(bytes, mode));
  const result = await splitUpload({ upload: { ...upload, key }, input, sendBatch: queue.sendBatch, rejects: rejectsSink, maxRecordBytes, scope });
  const rows = queue.rows().map((row): Row => [row.store, row.product, row.count, row.threshold, row.line]);
  const rejects = rejectsSink.rows.map((row): [number, string] => [row.line, row.reason]);
  return { result, rows, rejects, queue, rejectsSink };
}

describe.each(['whole', 'bytes'] as const)('splitUpload (input as %s chunks)', (mode) => {
  test.each<[string, string | Buffer, Row[], [number, RegExp][]]>([
    ['LF line endings', 'store,product,count\nS1,Widget,7\nS1,Gadget,0\n', [['S1', 'Widget', 7, null, 2], ['S1', 'Gadget', 0, null, 3]], []],
    ['CRLF line endings', 'store,product,count\r\nS1,Widget,7\r\nS1,Gadget,0\r\n', [['S1', 'Widget', 7, null, 2], ['S1', 'Gadget', 0, null, 3]], []],
    ['LF and CRLF mixed', 'store,product,count\r\nS1,A,1\nS1,B,2\r\nS1,C,3\n', [['S1', 'A', 1, null, 2], ['S1', 'B', 2, null, 3], ['S1', 'C', 3, null, 4]], []],
    ['a UTF-8 BOM', '\uFEFFstore,product,count\nS1,Widget,7\n', [['S1', 'Widget', 7, null, 2]], []],
    ['no line break at the end', 'store,product,count\nS1,Widget,7', [['S1', 'Widget', 7, null, 2]], []],
    [
      'quoted products spanning lines (a record starts where its first line is)',
      'store,product,count\nS1,"Line one\nline two\nline three",5\nS1,Plain,6\nS1,"x\ny",7\n',
      [['S1', 'Line one\nline two\nline three', 5, null, 2], ['S1', 'Plain', 6, null, 5], ['S1', 'x\ny', 7, null, 6]],
      [],
    ],
    [
      'CRLF inside quotes',
      'store,product,count\r\nS1,"a\r\nb",5\r\nS1,c,6\r\nS1,"d\r\n\r\ne",7\r\nS1,f,8\r\n',
      [['S1', 'a\r\nb', 5, null, 2], ['S1', 'c', 6, null, 4], ['S1', 'd\r\n\r\ne', 7, null, 5], ['S1', 'f', 8, null, 8]],
      [],
    ],
    [
      'commas and doubled quotes inside quotes',
      'store,product,count\nS1,"Bolt, ""M8"", 50 mm",3\n"S,2","""",4\n',
      [['S1', 'Bolt, "M8", 50 mm', 3, null, 2], ['S,2', '"', 4, null, 3]],
      [],
    ],
    [
      'multibyte characters',
      'store,product,count\n東京,Crème brûlée 🙂,2\n',
      [['東京', 'Crème brûlée 🙂', 2, null, 2]],
      [],
    ],
    [
      'blank and whitespace-only lines, before the header too (skipped, still counted)',
      '\n   \r\nstore,product,count\n\nS1,A,1\n \t \nS1,B,2\r\n\r\n\n',
      [['S1', 'A', 1, null, 5], ['S1', 'B', 2, null, 7]],
      [],
    ],
    [
      'header in any order and case, padded, with an ignored column',
      ' Count ,NOTE, store,Product ,THRESHOLD\n5,"any, thing",S1,Widget,\n6,,S2,Gadget,3\n',
      [['S1', 'Widget', 5, null, 2], ['S2', 'Gadget', 6, 3, 3]],
      [],
    ],
    [
      'quoted and padded numbers',
      'store,product,count,threshold\nS1,A,"7","2"\nS1,B, 7 , 3 \n S2 , C ,8,\n',
      [['S1', 'A', 7, 2, 2], ['S1', 'B', 7, 3, 3], ['S2', 'C', 8, null, 4]],
      [],
    ],
    [
      'bad rows rejected at their own line while the rest is sent',
      'store,product,count,threshold\nS1,A,-1,\nS1,"multi\nline",4.5,\nS1,B,3,\nS1,C,abc,\nS1,D,,\n,E,1,\nS1,,1,\nS1,F,1\nS1,G,1,2,3\nS1,H,1,x\nS1,I,9,1\n',
      [['S1', 'B', 3, null, 5], ['S1', 'I', 9, 1, 13]],
      [
        [2, /^count '-1' is not a whole number ≥ 0$/],
        [3, /^count '4\.5' is not a whole number ≥ 0$/],
        [6, /^count 'abc' is not a whole number ≥ 0$/],
        [7, /^count is empty$/],
        [8, /^store is empty$/],
        [9, /^product is empty$/],
        [10, /^has 3 fields, the header has 4$/],
        [11, /^has 5 fields, the header has 4$/],
        [12, /^threshold 'x' is not a whole number ≥ 0$/],
      ],
    ],
    [
      'an unclosed quote: one reject at the line it opens, reading resumes on the next line',
      'store,product,count\nS1,A,1\nS1,B,2\nS1,"C,3\nS1,D,4\nS1,E,5\n',
      [['S1', 'A', 1, null, 2], ['S1', 'B', 2, null, 3], ['S1', 'D', 4, null, 5], ['S1', 'E', 5, null, 6]],
      [[4, /^a quoted field opened on this line is never closed; reading resumed on the next line$/]],
    ],
    [
      'an unclosed quote after a multi-line record',
      'store,product,count\nS1,"A\r\nA",1\r\nS1,"B,2\nS1,C,3\n',
      [['S1', 'A\r\nA', 1, null, 2], ['S1', 'C', 3, null, 5]],
      [[4, /quoted field opened on this line is never closed/]],
    ],
    [
      'an unclosed quote on the last line',
      'store,product,count\nS1,A,1\nS1,"B,2',
      [['S1', 'A', 1, null, 2]],
      [[3, /quoted field opened on this line is never closed/]],
    ],
    [
      'two unclosed quotes: one reject each, not one record glued from the lines between them',
      'store,product,count\nS1,A,1\nS1,"B,2\nS1,C,3\nS1,"D,4\nS1,E,5\n',
      [['S1', 'A', 1, null, 2], ['S1', 'C', 3, null, 4], ['S1', 'E', 5, null, 6]],
      [
        [3, /^a quoted field on this line is closed by a quote that is followed by more text/],
        [5, /quoted field opened on this line is never closed/],
      ],
    ],
    [
      'a quote inside an unquoted field is text; a doubled quote opening a quoted field is a quote',
      'store,product,count\nS1,Pipe 12" long,4\nS1,"""Deluxe"" set",5\nS1,"ok",6\n',
      [['S1', 'Pipe 12" long', 4, null, 2], ['S1', '"Deluxe" set', 5, null, 3], ['S1', 'ok', 6, null, 4]],
      [],
    ],
    [
      'a quoted field closed by a stray quote',
      'store,product,count\nS1,"Pipe" 12 long,4\nS1,B,5\n',
      [['S1', 'B', 5, null, 3]],
      [[2, /closed by a quote that is followed by more text/]],
    ],
    [
      'CR-only line endings (old Mac), with a CR inside quotes',
      'store,product,count\rS1,A,1\rS1,"x\ry",2\r\rS1,C,3\r',
      [['S1', 'A', 1, null, 2], ['S1', 'x\ry', 2, null, 3], ['S1', 'C', 3, null, 6]],
      [],
    ],
    [
      'LF, CRLF and CR mixed, in records and inside quotes',
      'store,product,count\rS1,A,1\r\nS1,"a\rb\r\nc\nd",2\nS1,C,3\r\n\r\rS1,D,4',
      [['S1', 'A', 1, null, 2], ['S1', 'a\rb\r\nc\nd', 2, null, 3], ['S1', 'C', 3, null, 7], ['S1', 'D', 4, null, 10]],
      [],
    ],
    [
      'semicolons, with commas inside fields',
      'store;product;count\nS1;Bolt, M8;3\nS1;"a;b";4\nS1;C;1,5\n',
      [['S1', 'Bolt, M8', 3, null, 2], ['S1', 'a;b', 4, null, 3]],
      [[4, /^count '1,5' is not a whole number/]],
    ],
    ['tabs', 'store\tproduct\tcount\r\nS1\tA, b\t3\r\n', [['S1', 'A, b', 3, null, 2]], []],
    ['pipes', 'store|product|count|threshold\nS1|A;b,c|3|1\n', [['S1', 'A;b,c', 3, 1, 2]], []],
    ['the column names stores send', 'Store ID;SKU;On Hand;Reorder Point;Description\nS1;A-1;3;5;x\n', [['S1', 'A-1', 3, 5, 2]], []],
    [
      'invalid UTF-8 (a Windows-1252 é) in a data row: rejected naming the field, never stored',
      Buffer.concat([
        Buffer.from('store,product,count,note\nS1,Caf'),
        Buffer.from([0xe9]),
        Buffer.from(',1,\nS1,Café,2,\nS1,ok,3,x'),
        Buffer.from([0xff]),
        Buffer.from('\nS1,"Cr'),
        Buffer.from([0xe8]),
        Buffer.from('me\nbrulee",4,\nS1,\uFFFD,5,\n'),
      ]),
      [['S1', 'Café', 2, null, 3], ['S1', '\uFFFD', 5, null, 7]],
      [
        [2, /^field 'product' \(column 2\) is not valid UTF-8/],
        [4, /^field 'note' \(column 4\) is not valid UTF-8/],
        [5, /^field 'product' \(column 2\) is not valid UTF-8/],
      ],
    ],
    [
      'a file that ends inside a multibyte character',
      Buffer.concat([Buffer.from('store,product,count\nS1,A,1\nS1,B,'), Buffer.from('€').subarray(0, 2)]),
      [['S1', 'A', 1, null, 2]],
      [[3, /^field 'count' \(column 3\) is not valid UTF-8/]],
    ],
    ['a header and nothing else', 'store,product,count\n', [], []],
  ])('%s', async (_name, text, expectedRows, expectedRejects) => {
    const { result, rows, rejects, queue } = await split(text, mode);
    expect(result.status).toBe('processed');
    expect(rows).toEqual(expectedRows);
    expect(rejects).toEqual(expectedRejects.map(([line, reason]) => [line, expect.stringMatching(reason)]));
    expect(result).toMatchObject({
      rowsRead: expectedRows.length + expectedRejects.length,
      rowsAccepted: expectedRows.length,
      rowsRejected: expectedRejects.length,
      messages: queue.accepted.length,
    });
    // Every row carries the stamp of its upload and line.
    for (const row of queue.rows()) {
      expect(row.version).toBe(rowStamp(upload.stamp, row.line));
      expect(row.upload).toBe(upload.key);
    }
  });

  test.each<[string, string | Buffer, RegExp]>([
    ['an empty file', '', /^the file is empty: it has no header row$/],
    ['a file of blank lines', '\n  \r\n\n', /^the file is empty: it has no header row$/],
    ['a file holding only a BOM', '\uFEFF', /^the file is empty/],
    ['a header lacking required columns', 'store,name,amount\nS1,Widget,7\nS1,Gadget,8\n', /^the header \(line 1\) lacks the required columns 'product', 'count'/],
    ['a header after blank lines lacking a column', '\n\nStore,Product\nS1,Widget\n', /^the header \(line 3\) lacks the required column 'count'/],
    ['a header naming a column twice', 'store,product,count,COUNT\nS1,W,1,2\n', /^the header \(line 1\) names count more than once: 'count' \(column 3\) and 'COUNT' \(column 4\)/],
    ['a header naming one field twice by two of its names', 'store;sku;product;qty\nS1;W;X;1\n', /^the header \(line 1\) names product more than once: 'sku' \(column 2\) and 'product' \(column 3\)/],
    ['a header with an unclosed quote', '"store,product,count\nS1,Widget,7\n', /^the header \(line 1\) is not valid CSV: a quoted field/],
    ['a header whose quoted field is closed by a stray quote', 'store,"product"x,count\nS1,Widget,7\n', /^the header \(line 1\) (is not valid CSV|lacks the required column 'product')/],
    ['a header no delimiter splits into the columns', 'store product count\nS1 A 1\n', /^the header \(line 1\) lacks the required columns 'store', 'product', 'count'; found: 'store product count' splitting on ',' \(delimiters tried: ',', ';', tab, '\|'\)/],
    ['a header two delimiters split into the columns', 'store,product,count,x;store;product;count\n', /^the header \(line 1\) splits into the required columns on ',' and ';' alike/],
    ['a header line that is not UTF-8', Buffer.concat([Buffer.from('\nstore,product,count,r'), Buffer.from([0xe9]), Buffer.from('f\nS1,A,1\n')]), /^the header \(line 2\) is not valid UTF-8 \(near '.*r\uFFFDf'\): the file must be saved as UTF-8$/],
    ['a header line cut inside a character', Buffer.concat([Buffer.from('store,product,count,'), Buffer.from('€').subarray(0, 1)]), /^the header \(line 1\) is not valid UTF-8/],
    ['a header line longer than a record may be', `store,product,count,${'x'.repeat(300)}\nS1,A,1,\n`, /^the header \(line 1\) is longer than 256 bytes: this is not a CSV file$/],
    ['a blank line longer than a record may be, before any header', `\n${' '.repeat(300)}\nstore,product,count\nS1,A,1\n`, /^the header \(line 2\) is longer than 256 bytes: this is not a CSV file$/],
  ])('fails the whole file for %s, sending nothing', async (_name, text, reason) => {
    const { result, queue, rejectsSink } = await split(text, mode, upload.key, 256);
    expect(result.status).toBe('failed');
    expect(result.reason).toMatch(reason);
    expect(result).toMatchObject({ rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, messages: 0 });
    expect(queue.calls).toEqual([]);
    expect(rejectsSink.rows).toEqual([]);
  });
});

describe.each(['whole', 'bytes'] as const)('a store-scoped upload (input as %s chunks)', (mode) => {
  const key = 'uploads/S0012/monday.csv';
  const scope: StoreScope = { store: 'S0012', prefix: 'uploads/S0012/' };

  test('without a store column, every row is the key’s store; the delimiter is found from product and count', async () => {
    const { result, rows, rejects } = await split('SKU\tQty\tMin\nMilk 1l\t4\t\nEggs\tsix\t\nTea\t0\t2\n', mode, key, undefined, scope);
    expect(result).toEqual({ status: 'processed', rowsRead: 3, rowsAccepted: 2, rowsRejected: 1, messages: 1 });
    expect(rows).toEqual([['S0012', 'Milk 1l', 4, null, 2], ['S0012', 'Tea', 0, 2, 4]]);
    expect(rejects).toEqual([[3, "count 'six' is not a whole number ≥ 0"]]);
  });

  test('with a store column, a row for another store is rejected naming both stores; the rest are applied', async () => {
    const { result, rows, rejects, rejectsSink } = await split('store,product,count\nS0012,Milk,4\nS0040,Milk,90\n S0012 ,Tea,3\n', mode, key, undefined, scope);
    expect(result).toMatchObject({ status: 'processed', rowsRead: 3, rowsAccepted: 2, rowsRejected: 1 });
    expect(rows).toEqual([['S0012', 'Milk', 4, null, 2], ['S0012', 'Tea', 3, null, 4]]);
    expect(rejects).toEqual([[3, "the row is for store 'S0040', but this upload (under uploads/S0012/) may only hold rows for store 'S0012'"]]);
    expect(rejectsSink.rows[0]!.record).toEqual(['S0040', 'Milk', '90']);
  });

  test('the same file split without a scope needs its store column', async () => {
    const { result } = await split('product,count\nMilk,4\n', mode, key);
    expect(result).toMatchObject({ status: 'failed', reason: expect.stringMatching(/lacks the required column 'store'/) });
  });
});

describe('splitUpload', () => {
  test('a rejected row carries its fields as read', async () => {
    const { rejectsSink } = await split('store,product,count\nS1," Bolt, ""M8"" ",-1\n');
    expect(rejectsSink.rows).toEqual([{ line: 2, reason: "count '-1' is not a whole number ≥ 0", record: ['S1', ' Bolt, "M8" ', '-1'] }]);
  });

  test.each(['uploads/store-12.csv.gz', 'uploads/STORE-12.CSV.GZ', 'uploads/store-12.csv', 'uploads/store-12'])('gunzips gzip content under the key %s', async (key) => {
    const text = '\uFEFFstore,product,count\r\nS1,"Crème, brûlée",2\nS1,B,-1\n';
    const plain = await split(text);
    const gzipped = await split(gzipSync(Buffer.from(text)), 'bytes', key);
    expect(gzipped.result.status).toBe('processed');
    expect(gzipped.rows).toEqual([['S1', 'Crème, brûlée', 2, null, 2]]);
    expect(gzipped.rows).toEqual(plain.rows);
    expect(gzipped.rejectsSink.rows).toEqual(plain.rejectsSink.rows);
  });

  test('concatenated gzip members are read as one file', async () => {
    const { result, rows } = await split(Buffer.concat([gzipSync('store,product,count\nS1,A,1\n'), gzipSync('S1,B,2\n')]), 'whole');
    expect(result.status).toBe('processed');
    expect(rows).toEqual([['S1', 'A', 1, null, 2], ['S1', 'B', 2, null, 3]]);
  });

  test.each(['whole', 'bytes'] as const)('a plain CSV under a .gz key is read as CSV (input as %s chunks)', async (mode) => {
    const { result, rows } = await split('store,product,count\nS1,A,1\n', mode, 'uploads/plain.csv.gz');
    expect(result.status).toBe('processed');
    expect(rows).toEqual([['S1', 'A', 1, null, 2]]);
  });

  test.each(['a', '\x1f'])('a one-byte file (%j) is not gzip: it is a CSV without a header', async (text) => {
    const { result } = await split(text);
    expect(result).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^the header \(line 1\) lacks/) });
  });

  const night = `store,product,count\n${Array.from({ length: 3000 }, (_, index) => `S1,Product ${index},${index}\n`).join('')}`;

  test('truncated gzip fails the upload saying so; the rows before the break are queued and counted', async () => {
    const gzipped = gzipSync(night);
    const { result, rows } = await split(gzipped.subarray(0, Math.floor(gzipped.length * 0.6)), 'whole');
    expect(result.status).toBe('failed');
    expect(result.reason).toMatch(new RegExp(`^the gzip data ends early after ${Math.floor(gzipped.length * 0.6)} bytes: the file is truncated \\(the \\d+ valid rows read before that were queued\\)$`));
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThan(3000);
    // Exactly the genuine rows before the break, in order, at their lines: never a row cut short.
    expect(rows).toEqual(Array.from({ length: rows.length }, (_, index) => ['S1', `Product ${index}`, index, null, index + 2]));
    expect(result).toMatchObject({ rowsRead: rows.length, rowsAccepted: rows.length, rowsRejected: 0 });
  });

  test('gzip cut right after its header fails the upload with nothing queued', async () => {
    const { result, queue } = await split(gzipSync(night).subarray(0, 12));
    expect(result).toMatchObject({ status: 'failed', reason: 'the gzip data ends early after 12 bytes: the file is truncated', rowsRead: 0, messages: 0 });
    expect(queue.calls).toEqual([]);
  });

  test('corrupt gzip fails the upload naming the problem', async () => {
    const gzipped = Buffer.from(gzipSync(night));
    gzipped.fill(0xff, 100, 140);
    const { result } = await split(gzipped, 'whole');
    expect(result.status).toBe('failed');
    expect(result.reason).toMatch(/^the gzip data is corrupt \(.+\): the file is damaged/);
  });

  test('gzip whose checksum does not match fails the upload', async () => {
    const gzipped = Buffer.from(gzipSync(night));
    gzipped.writeUInt32LE((gzipped.readUInt32LE(gzipped.length - 8) ^ 1) >>> 0, gzipped.length - 8); // the CRC-32 in the trailer
    const { result } = await split(gzipped, 'whole');
    expect(result).toMatchObject({ status: 'failed', reason: expect.stringMatching(/^the gzip data is corrupt \(incorrect data check\)/) });
  });

  test.each(['whole', 'bytes'] as const)('a record past the size limit is one reject at the line it starts on (input as %s chunks)', async (mode) => {
    const text = `store,product,count\nS1,A,1\nS1,"${'x'.repeat(200)}\n${'y'.repeat(200)}\nS1,B,2\nS1,${'z'.repeat(300)},3\nS1,C,3\n`;
    const { result, rows, rejects } = await split(text, mode, upload.key, 256);
    expect(rejects).toEqual([
      [3, 'the record is longer than the 256 bytes limit (a quoted field opened on this line and never closed?); reading resumed on the next line'],
      [4, "has 1 field, the header has 3"],
      [6, expect.stringMatching(/^the record is longer than the 256 bytes limit/)],
    ]);
    expect(rows).toEqual([['S1', 'A', 1, null, 2], ['S1', 'B', 2, null, 5], ['S1', 'C', 3, null, 7]]);
    expect(result).toMatchObject({ status: 'processed', rowsRead: 6, rowsAccepted: 3, rowsRejected: 3 });
  });

  test('a message SQS refuses (SenderFault) fails the split with a readable error', async () => {
    const queue = new CapturingQueue({
      fail: (entries) => [{ Id: entries[0]!.Id, SenderFault: true, Code: 'InvalidMessageContents', Message: 'Invalid characters found' }],
    });
    const split = splitUpload({ upload, input: readableOf('store,product,count\nS1,A,1\n'), sendBatch: queue.sendBatch, rejects: new CapturingRejects() });
    await expect(split).rejects.toThrow(SendFailedError);
    await expect(split).rejects.toThrow('SQS refused a message (InvalidMessageContents): Invalid characters found');
    expect(queue.calls).toHaveLength(1);
  });

  test('waits while the rejects sink is saturated', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const added: number[] = [];
    const rejects = {
      add: (row: { line: number }) => void added.push(row.line),
      ready: () => (added.length > 0 ? released : undefined),
    };
    const queue = new CapturingQueue();
    let finished = false;
    const done = splitUpload({
      upload,
      input: readableOf('store,product,count\nS1,A,-1\n', 'S1,B,2\n', 'S1,C,-3\n'),
      sendBatch: queue.sendBatch,
      rejects,
    }).then((result) => {
      finished = true;
      return result;
    });
    for (let turn = 0; turn < 20; turn += 1) await new Promise((resolve) => setImmediate(resolve));
    expect(finished).toBe(false);
    expect(added).toEqual([2]);
    release();
    await expect(done).resolves.toMatchObject({ status: 'processed', rowsAccepted: 1, rowsRejected: 2 });
    expect(added).toEqual([2, 4]);
  });
});
