/**
 * Version stamps: the order DynamoDB's condition expressions apply rows in, by plain string
 * comparison. Expected orders are computed here from the rules (time, then key hash, then
 * sequencer as S3 documents it; then line as a number), not read from the code under test.
 */
import { createHash } from 'node:crypto';
import {
  decodeS3Key,
  maxLine,
  rejectsKey,
  reportKey,
  rowStamp,
  storeScopeOf,
  uploadFromS3Record,
  uploadStamp,
} from '../../src/shared/upload';
import { Prng, seeds } from '../../src/shared/prng';

const sign = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const compareNumbers = (a: bigint | number, b: bigint | number) => (a < b ? -1 : a > b ? 1 : 0);
/**
 * S3's rule for two sequencers of one key: "The sequencers can be of different lengths. So, to compare these
 * values, first right pad the shorter value with zeros, and then do a lexicographical comparison."
 */
const compareSequencers = (a: string, b: string) => {
  const length = Math.max(a.length, b.length);
  return sign(a.toUpperCase().padEnd(length, '0'), b.toUpperCase().padEnd(length, '0'));
};
const keyHash = (key: string) => createHash('sha256').update(key).digest('hex');
const hex = (prng: Prng, maxDigits: number) => prng.text([...'0123456789ABCDEFabcdef'], 1, maxDigits);

describe('uploadStamp', () => {
  test('a later eventTime wins whatever the keys and sequencers', () => {
    for (const seed of seeds(300)) {
      const prng = new Prng(seed);
      const earlier = Date.UTC(2024, 0, 1) + prng.int(0, 1e11);
      const later = earlier + prng.pick([1, 2, 999, 1000, 86_400_000, prng.int(1, 1e9)]);
      const a = uploadStamp(new Date(earlier).toISOString(), `uploads/${prng.int(0, 99)}.csv`, hex(prng, 20));
      const b = uploadStamp(new Date(later).toISOString(), `uploads/${prng.int(0, 99)}.csv`, hex(prng, 20));
      expect({ seed, order: sign(a, b) }).toEqual({ seed, order: -1 });
    }
  });

  test('eventTime is compared as a time, not as the text S3 sent', () => {
    // Same instant written two ways; one millisecond later in a shorter form.
    const key = 'uploads/a.csv';
    expect(uploadStamp('2024-06-01T22:00:00Z', key, '1')).toBe(uploadStamp('2024-06-01T22:00:00.000Z', key, '1'));
    expect(sign(uploadStamp('2024-06-01T22:00:00.999Z', key, 'F'), uploadStamp('2024-06-01T22:00:01Z', key, '0'))).toBe(-1);
  });

  test('same eventTime, different keys: ordered by the hash of the key, whatever the sequencers', () => {
    const time = '2024-06-01T22:00:00.000Z';
    for (const seed of seeds(200)) {
      const prng = new Prng(seed);
      const [keyA, keyB] = [`uploads/store-${prng.int(0, 999)}.csv`, `uploads/store-${prng.int(1000, 1999)}.csv`];
      const a = uploadStamp(time, keyA!, hex(prng, 20));
      const b = uploadStamp(time, keyB!, hex(prng, 20));
      expect({ seed, order: sign(a, b) }).toEqual({ seed, order: sign(keyHash(keyA!).slice(0, 16), keyHash(keyB!).slice(0, 16)) });
    }
  });

  test('same eventTime and key: sequencers are ordered as S3 documents (shorter right-padded with zeros, then as text), whatever their length or case', () => {
    const time = '2024-06-01T22:00:00.000Z';
    const key = 'uploads/a.csv';
    for (const seed of seeds(300)) {
      const prng = new Prng(seed);
      const a = hex(prng, 24);
      // Half the time b extends or shares a's beginning: where right- and left-padding disagree.
      const b = prng.chance(0.5) ? a.slice(0, prng.int(0, a.length)) + hex(prng, 6) : hex(prng, 24);
      const expected = compareSequencers(a, b);
      expect({ seed, a, b, order: sign(uploadStamp(time, key, a), uploadStamp(time, key, b)) }).toEqual({ seed, a, b, order: expected });
    }
  });

  test.each<[string, string]>([
    ['0055AED6DCD90281E5', '0055AED6DCD90281E6'],
    ['0055AED6DCD90281E5', '0055AED6DCD90281E501'],
    ['100', 'FF'],
    ['0A', '9'],
    ['0055AED6DCD90281E6', '55AED6DCD90281E5'],
    ['', '1'],
    ['0055aed6dcd90281e5', '0055AED6DCD90281E6'],
  ])('sequencer %j is before %j', (earlier, later) => {
    const time = '2024-06-01T22:00:00.000Z';
    expect(sign(uploadStamp(time, 'uploads/a.csv', earlier), uploadStamp(time, 'uploads/a.csv', later))).toBe(-1);
  });

  test('sequencers equal once right-padded are the same point in the key’s sequence', () => {
    const time = '2024-06-01T22:00:00.000Z';
    expect(uploadStamp(time, 'uploads/a.csv', '1')).toBe(uploadStamp(time, 'uploads/a.csv', '100'));
    expect(uploadStamp(time, 'uploads/a.csv', 'e5')).toBe(uploadStamp(time, 'uploads/a.csv', 'E50'));
  });

  test('an unreadable eventTime is an error naming it', () => {
    expect(() => uploadStamp('yesterday', 'uploads/a.csv', '1')).toThrow("S3 event has an invalid eventTime 'yesterday'");
  });
});

describe('rowStamp', () => {
  const upload = uploadStamp('2024-06-01T22:00:00.000Z', 'uploads/a.csv', '0055AED6DCD90281E5');

  test.each<[number, number]>([
    [9, 10],
    [10, 100],
    [9, 100],
    [99, 100],
    [2, 1_000_000],
    [maxLine - 1, maxLine],
  ])('within an upload line %i is before line %i', (earlier, later) => {
    expect(sign(rowStamp(upload, earlier), rowStamp(upload, later))).toBe(-1);
  });

  test('string order agrees with numeric line order for random lines', () => {
    for (const seed of seeds(300)) {
      const prng = new Prng(seed);
      const a = prng.chance(0.5) ? prng.int(1, 1000) : prng.int(1, maxLine);
      const b = prng.chance(0.5) ? prng.int(1, 1000) : prng.int(1, maxLine);
      expect({ a, b, order: sign(rowStamp(upload, a), rowStamp(upload, b)) }).toEqual({ a, b, order: compareNumbers(a, b) });
    }
  });

  test('any line of a later upload beats every line of an earlier one', () => {
    const later = uploadStamp('2024-06-01T22:00:00.001Z', 'uploads/a.csv', '');
    expect(sign(rowStamp(upload, maxLine), rowStamp(later, 1))).toBe(-1);
  });

  test('same upload and line, same stamp (a redelivered row is not newer)', () => {
    expect(rowStamp(upload, 42)).toBe(rowStamp(upload, 42));
  });
});

describe('decodeS3Key', () => {
  test.each<[string, string]>([
    ['uploads/store+12%2Fnight.csv', 'uploads/store 12/night.csv'],
    ['uploads/a%2Bb.csv', 'uploads/a+b.csv'],
    ['uploads/Z%C3%BCrich+%E6%9D%B1%E4%BA%AC.csv', 'uploads/Zürich 東京.csv'],
    ['uploads/100%25.csv', 'uploads/100%.csv'],
    ['uploads/plain.csv', 'uploads/plain.csv'],
  ])('%s → %s', (encoded, key) => {
    expect(decodeS3Key(encoded)).toBe(key);
  });
});

describe('uploadFromS3Record', () => {
  const record = {
    eventName: 'ObjectCreated:Put',
    eventTime: '2024-06-01T22:00:00.123Z',
    s3: {
      bucket: { name: 'inventory-uploads' },
      object: { key: 'uploads/store+12%2Fnight.csv', size: 1234, eTag: '0123abcd', versionId: '', sequencer: '0055AED6DCD90281E5' },
    },
  };

  test('decodes the key and stamps the upload from the event', () => {
    expect(uploadFromS3Record(record)).toEqual({
      bucket: 'inventory-uploads',
      key: 'uploads/store 12/night.csv',
      size: 1234,
      versionId: undefined,
      etag: '0123abcd',
      eventTime: record.eventTime,
      sequencer: '0055AED6DCD90281E5',
      stamp: uploadStamp(record.eventTime, 'uploads/store 12/night.csv', '0055AED6DCD90281E5'),
    });
  });

  test('an event without a sequencer (as some S3 emulators send) still stamps', () => {
    const { sequencer: _omitted, ...object } = record.s3.object;
    const upload = uploadFromS3Record({ ...record, s3: { ...record.s3, object } });
    expect(upload.stamp).toBe(uploadStamp(record.eventTime, 'uploads/store 12/night.csv', ''));
  });
});

describe('receipt keys', () => {
  test.each<[string, string, string]>([
    ['uploads/s12.csv', 'rejects/s12.csv', 'reports/s12.csv.json'],
    ['uploads/s12.csv.gz', 'rejects/s12.csv', 'reports/s12.csv.json'],
    ['uploads/2024/06/01/s12.csv', 'rejects/2024/06/01/s12.csv', 'reports/2024/06/01/s12.csv.json'],
  ])('%s → %s and %s', (key, rejects, report) => {
    expect(rejectsKey(key)).toBe(rejects);
    expect(reportKey(key)).toBe(report);
  });
});

describe('storeScopeOf (store-scoped uploads)', () => {
  test.each<[string, string]>([
    ['uploads/S0012/monday.csv', 'S0012'],
    ['uploads/S0012/monday.csv.gz', 'S0012'],
    ['uploads/Store 12/monday.csv', 'Store 12'],
    ['uploads/東京/monday.csv', '東京'],
    // The first segment is the one an uploader's policy ties to its store tag, however deep the key goes.
    ['uploads/S0012/2026-12/monday.csv', 'S0012'],
  ])('%s is store %s', (key, store) => {
    expect(storeScopeOf(key)).toEqual({ store, prefix: `uploads/${store}/` });
  });

  test.each<[string, RegExp]>([
    ['uploads/monday.csv', /^the key uploads\/monday\.csv names no store: with store-scoped uploads each file goes under its store's folder, uploads\/<store>\/<name>\.csv$/],
    ['uploads//monday.csv', /^the key uploads\/\/monday\.csv names no store/],
    ['uploads/ /monday.csv', /names no store/],
    ['elsewhere/S0012/monday.csv', /names no store/],
    ['uploads/ S0012/monday.csv', /^the store folder ' S0012' of the key uploads\/ S0012\/monday\.csv begins or ends with a space, so it names no store exactly: move the file to uploads\/S0012\/$/],
  ])('%s fails the upload: %s', (key, reason) => {
    const scope = storeScopeOf(key);
    expect(scope).toEqual({ reason: expect.stringMatching(reason) });
  });
});
