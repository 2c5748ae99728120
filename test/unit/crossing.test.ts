/** Crossing detection over stream images: which changes are alerts, and chains within a batch. */
import { alertIdFor, crossingsOf, detectCrossing, type ItemChange, type ItemImage } from '../../src/alerter/crossing';

const defaultThreshold = 10;
let version = 0;
/** A full item image; every call is a new state of the item (a newer version). */
function item(count: number, extra: Partial<ItemImage> = {}): ItemImage {
  version += 1;
  return {
    store: 'S1',
    product: 'Widget',
    count,
    version: `v${String(version).padStart(6, '0')}`,
    upload: 'uploads/s1.csv',
    line: version + 1,
    updatedAt: `2024-06-01T22:00:${String(version % 60).padStart(2, '0')}.000Z`,
    ...extra,
  };
}
const keyOnly: ItemImage = { store: 'S1', product: 'Widget' };

describe('detectCrossing', () => {
  test.each<[string, ItemImage | undefined, ItemImage | undefined, 'LOW_STOCK' | 'RESTOCKED' | null]>([
    ['a new item that is low', undefined, item(3), 'LOW_STOCK'],
    ['a new item that is fine', undefined, item(50), null],
    ['fine → low', item(50), item(3), 'LOW_STOCK'],
    ['low → low', item(3), item(2), null],
    ['low → fine', item(3), item(50), 'RESTOCKED'],
    ['fine → fine', item(50), item(40), null],
    ['a key-only old image counts as absent (new item, low)', keyOnly, item(3), 'LOW_STOCK'],
    ['a key-only old image counts as absent (new item, fine)', keyOnly, item(50), null],
    ['a key-only new image is not an item yet', undefined, keyOnly, null],
    ['a low item deleted', item(3), undefined, null],
    ['a fine item deleted', item(50), undefined, null],
    ['count equal to the default threshold is not low', item(50), item(defaultThreshold), null],
    ['low → equal to the default threshold is a restock', item(3), item(defaultThreshold), 'RESTOCKED'],
    ['count equal to the item threshold is not low', item(50), item(4, { threshold: 4 }), null],
    ['the item threshold overrides the default (low by it)', item(50, { threshold: 20 }), item(15, { threshold: 20 }), 'LOW_STOCK'],
    ['the item threshold overrides the default (fine by it)', item(50, { threshold: 3 }), item(5, { threshold: 3 }), null],
    ['a raised threshold alone makes an item low', item(5, { threshold: 3 }), item(5, { threshold: 8 }), 'LOW_STOCK'],
    ['a lowered threshold alone restocks an item', item(5, { threshold: 8 }), item(5, { threshold: 3 }), 'RESTOCKED'],
    ['zero stock with a zero threshold is not low', undefined, item(0, { threshold: 0 }), null],
    ['zero stock with the default threshold is low', undefined, item(0), 'LOW_STOCK'],
  ])('%s', (_name, oldImage, newImage, expected) => {
    const crossing = detectCrossing(oldImage, newImage, defaultThreshold);
    expect(crossing?.type ?? null).toBe(expected);
  });

  test('a crossing describes the state it led to', () => {
    const before = item(50, { threshold: 20 });
    const after = item(15, { threshold: 20, thresholdVersion: 'v000001' });
    expect(detectCrossing(before, after, defaultThreshold)).toEqual({
      type: 'LOW_STOCK',
      store: 'S1',
      product: 'Widget',
      count: 15,
      previousCount: 50,
      threshold: 20,
      upload: after.upload,
      line: after.line,
      time: after.updatedAt,
      alertId: alertIdFor('LOW_STOCK', after),
    });
  });

  test('a new item has no previous count; the default threshold is reported when the item has none', () => {
    expect(detectCrossing(keyOnly, item(3), 7)).toMatchObject({ previousCount: null, threshold: 7, count: 3 });
  });

  test('missing upload, line and time are null, not undefined', () => {
    expect(detectCrossing(undefined, { store: 'S1', product: 'Widget', count: 1 }, defaultThreshold)).toMatchObject({ upload: null, line: null, time: null });
  });
});

describe('alertId', () => {
  test('the same crossing (a redelivered record) gets the same id', () => {
    const before = item(50);
    const after = item(3);
    const first = detectCrossing(before, after, defaultThreshold)!;
    const again = detectCrossing({ ...before }, { ...after }, defaultThreshold)!;
    expect(again.alertId).toBe(first.alertId);
    expect(first.alertId).toMatch(/^[0-9a-f]{32}$/);
  });

  test('different states of an item get different ids', () => {
    const base = item(3, { thresholdVersion: 'v000001' });
    const ids = [
      alertIdFor('LOW_STOCK', base),
      alertIdFor('RESTOCKED', base),
      alertIdFor('LOW_STOCK', { ...base, version: 'v999999' }),
      alertIdFor('LOW_STOCK', { ...base, thresholdVersion: 'v000002' }),
      alertIdFor('LOW_STOCK', { ...base, thresholdVersion: undefined }),
      alertIdFor('LOW_STOCK', { ...base, store: 'S2' }),
      alertIdFor('LOW_STOCK', { ...base, product: 'Gadget' }),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('crossingsOf', () => {
  const change = (ref: string, oldImage: ItemImage | undefined, newImage: ItemImage | undefined, itemKey = 'S1/Widget'): ItemChange<string> => ({
    ref,
    item: itemKey,
    oldImage,
    newImage,
  });

  test('an item that dips and recovers within a batch raises nothing', () => {
    const fine = item(50);
    const low = item(3);
    const fineAgain = item(60);
    expect(crossingsOf([change('r1', fine, low), change('r2', low, fineAgain)], defaultThreshold).size).toBe(0);
  });

  test('a chain is judged first old image against last new image, and attributed to its first record', () => {
    const fine = item(50);
    const lower = item(30);
    const low = item(3);
    const other = { ...item(80), product: 'Gadget' };
    const crossings = crossingsOf(
      [change('r1', fine, lower), change('r2', undefined, other, 'S1/Gadget'), change('r3', lower, low)],
      defaultThreshold,
    );
    expect([...crossings.keys()]).toEqual(['r1']);
    expect(crossings.get('r1')).toMatchObject({ type: 'LOW_STOCK', count: 3, previousCount: 50, alertId: alertIdFor('LOW_STOCK', low) });
  });

  test('an item created in two steps (a key-only record, then the full item) is one new item', () => {
    const created = item(3);
    const crossings = crossingsOf([change('r1', undefined, keyOnly), change('r2', undefined, created)], defaultThreshold);
    expect([...crossings.keys()]).toEqual(['r1']);
    expect(crossings.get('r1')).toMatchObject({ type: 'LOW_STOCK', previousCount: null, count: 3 });
  });

  test('items are judged independently', () => {
    const a = [item(50), item(3)] as const;
    const b = [{ ...item(3), product: 'B' }, { ...item(40), product: 'B' }] as const;
    const c = [{ ...item(30), product: 'C' }, { ...item(20), product: 'C' }] as const;
    const crossings = crossingsOf(
      [change('a', a[0], a[1], 'A'), change('b', b[0], b[1], 'B'), change('c', c[0], c[1], 'C')],
      defaultThreshold,
    );
    expect([...crossings.entries()].map(([ref, crossing]) => [ref, crossing.type])).toEqual([
      ['a', 'LOW_STOCK'],
      ['b', 'RESTOCKED'],
    ]);
  });

  test('a low item deleted and created again low within a batch raises nothing', () => {
    const low = item(3);
    const again = item(2);
    expect(crossingsOf([change('r1', low, undefined), change('r2', undefined, again)], defaultThreshold).size).toBe(0);
  });

  test('no changes, no crossings', () => {
    expect(crossingsOf([], defaultThreshold).size).toBe(0);
  });
});
