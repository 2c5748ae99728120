/**
 * Properties of the splitter core (splitUpload over in-memory ports), with fast-check:
 *
 * - Any well-formed store file — any dialect the contract accepts (delimiter, header names, line
 *   ends, BOM, blank lines, quoting, bad rows), plain or gzipped, delivered in any chunking — splits
 *   into exactly what a straightforward reference reader makes of it: the same rows in the same
 *   order at the same lines, the same rejected lines.
 * - Any corruption of such a file (cut anywhere, stray quotes, random or invalid UTF-8 bytes,
 *   fields past the record limit, gzip cut short) never makes the core throw, keeps
 *   rowsRead = rowsAccepted + rowsRejected, reports only lines that exist in the file, keeps
 *   every message and request within the packing limits, and comes to the same however the
 *   bytes are chunked.
 *
 * A failure prints fast-check's seed and the shrunk counterexample.
 */
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { SplitOutcome } from '../../src/shared/report';
import { settings } from '../../src/shared/settings';
import { decodeRowBatch, stampedRows } from '../../src/shared/messages';
import type { SenderLimits } from '../../src/splitter/sender';
import { splitUpload } from '../../src/splitter/split';
import { CapturingQueue, CapturingRejects, readableOf } from '../support/capture';
import { physicalLines, referenceOutcome, renderStoreFile, storeFileArbitrary, type StoreFileSpec } from '../support/csv-fixtures';

type Limits = SenderLimits & { maxMessageBytes: number };
const production: Limits = settings.packing;
/** Small enough that a few rows fill a message and a few messages a request (for the short rows of well-formed files). */
const tiny: Limits = { maxMessageBytes: 400, maxBatchEntries: 3, maxBatchBytes: 1000, maxSendsInFlight: 2, maxSendAttempts: 3 };
/** Still room for the largest row the key limits allow (2048 + 1024 bytes, JSON-escaped up to 6-fold), three messages a request. */
const small: Limits = { maxMessageBytes: 20 * 1024, maxBatchEntries: 3, maxBatchBytes: 60 * 1024, maxSendsInFlight: 2, maxSendAttempts: 3 };
const upload = { key: 'uploads/property.csv', stamp: '2024-06-01T22:00:00.000Z/0123456789abcdef/00000000000000000000000000000001' };
const byteLength = Buffer.byteLength.bind(Buffer);

interface Delivery {
  gzip: boolean;
  /** Chunk sizes, cycled over the bytes (a network stream cuts anywhere, also inside characters). */
  chunks: number[];
  limits: Limits;
}

const deliveryArbitrary = (...limits: Limits[]): fc.Arbitrary<Delivery> =>
  fc.record({
    gzip: fc.boolean(),
    chunks: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 6 }),
    limits: fc.constantFrom(...limits),
  });

function chunked(bytes: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, index = 0; at < bytes.length; index += 1) {
    const size = sizes[index % sizes.length]!;
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

interface Split {
  outcome: SplitOutcome;
  rows: { store: string; product: string; count: number; threshold: number | null; line: number }[];
  rejectedLines: number[];
  problems: string[];
}

/** Runs the core and checks what must hold for any input: the requests within the limits, the counts adding up. */
async function split(bytes: Buffer, delivery: Delivery, maxRecordBytes?: number): Promise<Split> {
  const queue = new CapturingQueue();
  const rejects = new CapturingRejects();
  const { limits } = delivery;
  const outcome = await splitUpload({ upload, input: readableOf(...chunked(bytes, delivery.chunks)), sendBatch: queue.sendBatch, rejects, limits, maxRecordBytes });
  const problems: string[] = [];
  queue.calls.forEach((entries, call) => {
    const total = entries.reduce((sum, entry) => sum + byteLength(entry.MessageBody), 0);
    if (entries.length > limits.maxBatchEntries) problems.push(`request ${call} has ${entries.length} entries`);
    if (total > limits.maxBatchBytes) problems.push(`request ${call} carries ${total} bytes`);
    for (const entry of entries) {
      if (byteLength(entry.MessageBody) > limits.maxMessageBytes) problems.push(`request ${call}: a ${byteLength(entry.MessageBody)}-byte message`);
    }
  });
  const rows = queue.accepted.map(decodeRowBatch).flatMap(stampedRows);
  if (outcome.rowsRead !== outcome.rowsAccepted + outcome.rowsRejected) problems.push(`rowsRead ${outcome.rowsRead} ≠ accepted + rejected`);
  if (outcome.rowsAccepted !== rows.length) problems.push(`rowsAccepted ${outcome.rowsAccepted} but ${rows.length} rows queued`);
  if (outcome.rowsRejected !== rejects.rows.length) problems.push(`rowsRejected ${outcome.rowsRejected} but ${rejects.rows.length} rejects written`);
  if (outcome.messages !== queue.accepted.length) problems.push(`messages ${outcome.messages} but ${queue.accepted.length} queued`);
  if (outcome.status === 'failed' && !/^[^\n]+$/.test(outcome.reason ?? '')) problems.push(`a failure without a one-line reason: ${JSON.stringify(outcome.reason)}`);
  return {
    outcome,
    rows: rows.map(({ store, product, count, threshold, line }) => ({ store, product, count, threshold, line })),
    rejectedLines: rejects.rows.map((row) => row.line),
    problems,
  };
}

function content(text: string, delivery: Delivery): Buffer {
  const bytes = Buffer.from(text);
  return delivery.gzip ? gzipSync(bytes) : bytes;
}

describe('splitUpload, property: well-formed files in any dialect', () => {
  test('split into exactly the rows and rejected lines of the reference reader', async () => {
    await fc.assert(
      fc.asyncProperty(storeFileArbitrary, deliveryArbitrary(production, tiny), async (spec: StoreFileSpec, delivery) => {
        const text = renderStoreFile(spec);
        const expected = referenceOutcome(text, spec.delimiter);
        const { outcome, rows, rejectedLines, problems } = await split(content(text, delivery), delivery);
        expect({ problems, status: outcome.status, rows, rejectedLines }).toEqual({ problems: [], ...expected });
      }),
      { numRuns: 4000 },
    );
  });
});

type Corruption =
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'huge field'; at: number; length: number; quoted: boolean };

const insertion = (bytes: fc.Arbitrary<number[]>) => fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes });

const corruptionArbitrary: fc.Arbitrary<Corruption> = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  // An unbalanced quote, alone or opening a field.
  insertion(fc.constantFrom([0x22], [0x2c, 0x22], [0x22, 0x78])),
  // Random bytes.
  insertion(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 8 })),
  // Invalid UTF-8: a Windows-1252 é, a lone lead or continuation byte, a cut sequence, a surrogate, an overlong form, past U+10FFFF.
  insertion(fc.constantFrom([0xe9], [0xff], [0xc3], [0x80], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80])),
  fc.record({ kind: fc.constant('huge field' as const), at: fc.nat(), length: fc.integer({ min: 100, max: 3000 }), quoted: fc.boolean() }),
);

function corrupt(bytes: Buffer, corruption: Corruption): Buffer {
  const at = corruption.at % (bytes.length + 1);
  if (corruption.kind === 'cut') return bytes.subarray(0, at);
  const inserted =
    corruption.kind === 'insert' ? Buffer.from(corruption.bytes) : Buffer.from(`${corruption.quoted ? '"' : ''}${'x'.repeat(corruption.length)}`);
  return Buffer.concat([bytes.subarray(0, at), inserted, bytes.subarray(at)]);
}

describe('splitUpload, property: corrupted files', () => {
  const maxRecordBytes = 512;

  test('never throw, keep the counts adding up, report only lines that exist, keep messages within the packing limits', async () => {
    await fc.assert(
      fc.asyncProperty(
        storeFileArbitrary,
        fc.array(corruptionArbitrary, { minLength: 1, maxLength: 3 }),
        deliveryArbitrary(production, small),
        fc.option(fc.nat(), { freq: 3 }),
        async (spec, corruptions, delivery, gzipCut) => {
          const plain = corruptions.reduce(corrupt, Buffer.from(renderStoreFile(spec)));
          let bytes = delivery.gzip ? gzipSync(plain) : plain;
          // A gzip stream cut short as well (a truncated .csv.gz).
          if (delivery.gzip && gzipCut !== null) bytes = bytes.subarray(0, gzipCut % (bytes.length + 1));
          const { outcome, rows, rejectedLines, problems } = await split(bytes, delivery, maxRecordBytes);
          // How the bytes arrive changes nothing: the same file read in one piece comes to the same.
          // (Not asked of gzip: how much of a corrupt stream zlib inflates before it notices depends on it.)
          if (!delivery.gzip) {
            const whole = await split(bytes, { ...delivery, chunks: [Math.max(1, bytes.length)] }, maxRecordBytes);
            if (JSON.stringify([whole.outcome, whole.rows, whole.rejectedLines]) !== JSON.stringify([outcome, rows, rejectedLines])) {
              problems.push(`read in one piece: ${JSON.stringify(whole.outcome)}, lines ${JSON.stringify([whole.rows.map((row) => row.line), whole.rejectedLines])}`);
            }
          }
          // Every reported line is a line of the file that holds something (a record starts there).
          const lines = physicalLines(plain.subarray(0, 3).equals(Buffer.from('\uFEFF')) ? plain.subarray(3) : plain);
          const reported = [...rows.map((row) => row.line), ...rejectedLines];
          for (const line of reported) if (!(line >= 2 && line <= lines.length && lines[line - 1]!.length > 0)) problems.push(`line ${line} reported`);
          // Each line is reported once at most: one record, one outcome.
          if (new Set(reported).size !== reported.length) problems.push(`a line reported twice: ${reported.join(',')}`);
          // Rows come out in file order.
          if (rows.some((row, index) => index > 0 && row.line <= rows[index - 1]!.line)) problems.push('rows out of order');
          // A row holds text the file holds: never a U+FFFD made up for bytes that are not UTF-8.
          if (!plain.includes(Buffer.from('\uFFFD')) && rows.some((row) => `${row.store}${row.product}`.includes('\uFFFD'))) problems.push('a U+FFFD stored');
          if (outcome.status === 'failed' && !/^(the header|the file is empty|the gzip data)/.test(outcome.reason!)) problems.push(`failed: ${outcome.reason}`);
          expect(problems).toEqual([]);
        },
      ),
      { numRuns: 6000 },
    );
  });
});
