/**
 * splitUpload over in-memory streams: what a store file turns into (rows sent, rows rejected with
 * their physical line, or the whole file failed). Each file is fed both as one chunk and one byte
 * at a time, so line breaks, quotes and multibyte characters split across chunks are covered too.
 */
import { gzipSync } from 'node:zlib';
import { splitUpload, type SplitResult } from '../../src/splitter/split';
import { SendFailedError } from '../../src/splitter/sender';
import { rowStamp } from '../../src/shared/upload';
import { CapturingQueue, CapturingRejects, readableOf } from '../support/capture';

const upload = { key: 'uploads/store-12.csv', stamp: '2024-06-01T22:00:00.000Z/0123456789abcdef/00000000000000000000000000000001' };

type Row = [store: string, product: string, count: number, threshold: number | null, line: number];

interface Outcome {
  result: SplitResult;
  rows: Row[];
  rejects: [line: number, reason: string][];
  queue: CapturingQueue;
  rejectsSink: CapturingRejects;
}

function chunked(bytes: Buffer, mode: 'whole' | 'bytes'): Buffer[] {
  if (mode === 'whole') return [bytes];
  return Array.from(bytes, (_, index) => bytes.subarray(index, index + 1));
}

async function split(content: string | Buffer, mode: 'whole' | 'bytes' = 'whole', key = upload.key): Promise<Outcome> {
  const queue = new CapturingQueue();
  const rejectsSink = new CapturingRejects();
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  const result = await splitUpload({ upload: { ...upload, key }, input: readableOf(...chunked(bytes, mode)), sendBatch: queue.sendBatch, rejects: rejectsSink });
  const rows = queue.rows().map((row): Row => [row.store, row.product, row.count, row.threshold, row.line]);
  const rejects = rejectsSink.rows.map((row): [number, string] => [row.line, row.reason]);
  return { result, rows, rejects, queue, rejectsSink };
}

describe.each(['whole', 'bytes'] as const)('splitUpload (input as %s chunks)', (mode) => {
  test.each<[string, string, Row[], [number, RegExp][]]>([
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
      'an unclosed quote (rejected at the line it opens; the rows before it are sent)',
      'store,product,count\nS1,A,1\nS1,B,2\nS1,"C,3\nS1,D,4\nS1,E,5\n',
      [['S1', 'A', 1, null, 2], ['S1', 'B', 2, null, 3]],
      [[4, /quoted field opened on this line is never closed/]],
    ],
    [
      'an unclosed quote after a multi-line record',
      'store,product,count\nS1,"A\r\nA",1\r\nS1,"B,2\nS1,C,3\n',
      [['S1', 'A\r\nA', 1, null, 2]],
      [[4, /quoted field opened on this line is never closed/]],
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

  test.each<[string, string, RegExp]>([
    ['an empty file', '', /^the file is empty: it has no header row$/],
    ['a file of blank lines', '\n  \r\n\n', /^the file is empty: it has no header row$/],
    ['a file holding only a BOM', '\uFEFF', /^the file is empty/],
    ['a header lacking required columns', 'store,name,qty\nS1,Widget,7\nS1,Gadget,8\n', /^the header \(line 1\) lacks the required columns 'product', 'count'/],
    ['a header after blank lines lacking a column', '\n\nStore,Product\nS1,Widget\n', /^the header \(line 3\) lacks the required column 'count'/],
    ['a header naming a column twice', 'store,product,count,COUNT\nS1,W,1,2\n', /names column 'count' more than once/],
    ['a header with an unclosed quote', '"store,product,count\nS1,Widget,7\n', /^the header \(line 1\) is not valid CSV: a quoted field/],
  ])('fails the whole file for %s, sending nothing', async (_name, text, reason) => {
    const { result, queue, rejectsSink } = await split(text, mode);
    expect(result.status).toBe('failed');
    expect(result.reason).toMatch(reason);
    expect(result).toMatchObject({ rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, messages: 0 });
    expect(queue.calls).toEqual([]);
    expect(rejectsSink.rows).toEqual([]);
  });
});

describe('splitUpload', () => {
  test('a rejected row carries its fields as read', async () => {
    const { rejectsSink } = await split('store,product,count\nS1," Bolt, ""M8"" ",-1\n');
    expect(rejectsSink.rows).toEqual([{ line: 2, reason: "count '-1' is not a whole number ≥ 0", record: ['S1', ' Bolt, "M8" ', '-1'] }]);
  });

  test('counts the physical lines of the file', async () => {
    const { result } = await split('store,product,count\nS1,"a\nb",1\n\nS1,c,2\n');
    expect(result.lines).toBe(5);
  });

  test.each(['uploads/store-12.csv.gz', 'uploads/STORE-12.CSV.GZ'])('gunzips a %s upload', async (key) => {
    const text = '\uFEFFstore,product,count\r\nS1,"Crème, brûlée",2\nS1,B,-1\n';
    const plain = await split(text);
    const gzipped = await split(gzipSync(Buffer.from(text)), 'bytes', key);
    expect(gzipped.result.status).toBe('processed');
    expect(gzipped.rows).toEqual([['S1', 'Crème, brûlée', 2, null, 2]]);
    expect(gzipped.rows).toEqual(plain.rows);
    expect(gzipped.rejectsSink.rows).toEqual(plain.rejectsSink.rows);
  });

  test('a file that is not gzip under a .gz key is an error, not a silent empty upload', async () => {
    await expect(split('store,product,count\nS1,A,1\n', 'whole', 'uploads/plain.csv.gz')).rejects.toThrow(/header|gzip|incorrect/i);
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
