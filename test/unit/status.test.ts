import { parseDuration, statusExitCode, summarizeStatuses, uploadStatuses, type ListedUpload, type StatusDocument } from '../../src/cli/status';
import type { UploadReport } from '../../src/shared/report';

const since = new Date('2026-12-01T00:00:00Z');

function receipt(key: string, etag: string, finishedAt: string, outcome: Partial<UploadReport> = {}): UploadReport {
  return {
    status: 'processed',
    rowsRead: 10,
    rowsAccepted: 9,
    rowsRejected: 1,
    messages: 1,
    upload: { bucket: 'b', key, etag, eventTime: new Date(new Date(finishedAt).getTime() - 2_000).toISOString(), stamp: 's' },
    rejectsKey: 'rejects/x',
    startedAt: finishedAt,
    finishedAt,
    ...outcome,
  };
}

const listed = (key: string, etag: string, lastModified: string): ListedUpload => ({ key, etag: `"${etag}"`, lastModified: new Date(lastModified) });

test('parseDuration reads s, m, h and d, and nothing else', () => {
  expect([parseDuration('30s'), parseDuration('90m'), parseDuration('24h'), parseDuration('7d')]).toEqual([30_000, 5_400_000, 86_400_000, 604_800_000]);
  for (const text of ['24', 'h', '1.5h', '-1h', '0h', '1w', 'yesterday', '']) expect(parseDuration(text)).toBeUndefined();
});

test('an upload is processed or failed by the receipt for its object, in progress without one, failed if its event was dead-lettered', () => {
  const statuses = uploadStatuses({
    uploads: [
      listed('uploads/done.csv', 'e1', '2026-12-01T01:00:00Z'),
      listed('uploads/bad.csv', 'e2', '2026-12-01T01:00:01Z'),
      // Overwritten since its receipt: the receipt is the older object's.
      listed('uploads/again.csv', 'new', '2026-12-01T03:00:00Z'),
      listed('uploads/dead.csv', 'e4', '2026-12-01T02:00:00Z'),
      // Its event was dead-lettered for an older object under the same key: this one is still on its way.
      listed('uploads/redone.csv', 'e5-new', '2026-12-01T02:30:00Z'),
      // Not an upload the bucket announces, and one from before the window.
      listed('uploads/notes.txt', 'e6', '2026-12-01T01:00:00Z'),
      listed('uploads/old.csv', 'e7', '2026-11-30T23:59:59Z'),
    ],
    receipts: [
      receipt('uploads/done.csv', 'e1', '2026-12-01T01:00:05Z'),
      receipt('uploads/bad.csv', 'e2', '2026-12-01T01:00:03Z', { status: 'failed', reason: 'the header lacks count', rowsRead: 0, rowsAccepted: 0, rowsRejected: 0, messages: 0 }),
      receipt('uploads/again.csv', 'old', '2026-12-01T01:30:00Z'),
      // A receipt whose upload has expired from the bucket still counts.
      receipt('uploads/gone.csv', 'e8', '2026-12-01T00:30:00Z'),
    ],
    deadLettered: [{ key: 'uploads/dead.csv', etag: 'e4' }, { key: 'uploads/redone.csv', etag: 'e5-old' }],
    since,
  });
  expect(statuses.map((s) => [s.file, s.status, s.rowsRead, s.finishedAt])).toEqual([
    ['bad.csv', 'failed', 0, '2026-12-01T01:00:03Z'],
    ['dead.csv', 'failed', null, null],
    ['redone.csv', 'in-progress', null, null],
    ['again.csv', 'in-progress', null, null],
    ['gone.csv', 'processed', 10, '2026-12-01T00:30:00Z'],
    ['done.csv', 'processed', 10, '2026-12-01T01:00:05Z'],
  ]);
  expect(statuses[0]!.reason).toBe('the header lacks count');
  expect(statuses[1]!.reason).toMatch(/dead-letter queue/);
  expect(statuses.filter((s) => s.status !== 'failed').every((s) => s.reason === undefined)).toBe(true);
  expect(statuses.find((s) => s.file === 'again.csv')!.uploadedAt).toBe('2026-12-01T03:00:00.000Z');
  expect(summarizeStatuses(statuses)).toEqual({ uploads: 6, processed: 2, failed: 2, inProgress: 2 });
});

test('receipts and uploads from before --since are left out; of two receipts for one key the later counts', () => {
  const statuses = uploadStatuses({
    uploads: [listed('uploads/a.csv', 'e2', '2026-11-30T22:00:00Z')],
    receipts: [
      receipt('uploads/a.csv', 'e1', '2026-11-30T21:00:00Z'),
      receipt('uploads/a.csv', 'e2', '2026-12-01T00:10:00Z', { rowsRead: 99 }),
      receipt('uploads/b.csv', 'e3', '2026-11-30T23:00:00Z'),
    ],
    deadLettered: [],
    since,
  });
  expect(statuses.map((s) => [s.file, s.status, s.rowsRead])).toEqual([['a.csv', 'processed', 99]]);
});

test('status exits 1 when an upload failed or a dead-letter queue holds anything, else 0 (in progress is no failure)', () => {
  const document = (failed: number, inProgress: number, deadLetters: number) =>
    ({
      summary: { uploads: failed + inProgress, processed: 0, failed, inProgress },
      deadLetters: { 'upload-events': 0, rows: deadLetters, alerts: 0 },
    }) as unknown as StatusDocument;
  expect([statusExitCode(document(0, 3, 0)), statusExitCode(document(1, 0, 0)), statusExitCode(document(0, 0, 2))]).toEqual([0, 1, 1]);
});
