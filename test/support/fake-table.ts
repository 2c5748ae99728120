/**
 * An in-memory InventoryTable with the conditions the DynamoDB adapter puts on its UpdateItems
 * (a port fake, not a mock): a row is written only if its stamp is newer than the item's version;
 * a threshold only if the item exists and the stamp is newer than the item's thresholdVersion.
 * Each call yields before its atomic check-and-write, so concurrent calls interleave.
 */
import type { InventoryItem } from '../../src/shared/item';
import type { StampedRow } from '../../src/shared/messages';
import type { InventoryTable, ThresholdRow } from '../../src/writer/apply';

export type StoredItem = Omit<InventoryItem, 'updatedAt'>;

export const itemKey = (item: { store: string; product: string }) => `${item.store}\u0000${item.product}`;

export class InMemoryInventoryTable implements InventoryTable {
  readonly items = new Map<string, StoredItem>();
  inFlight = 0;
  maxInFlight = 0;
  calls = 0;

  constructor(
    private readonly defaultThreshold: number,
    /** How many microtask turns a call takes before it writes. */
    private readonly delay: () => number = () => 0,
  ) {}

  applyRow(row: StampedRow): Promise<boolean> {
    return this.call(() => {
      const key = itemKey(row);
      const item = this.items.get(key);
      if (item !== undefined && !(item.version < row.version)) return false;
      const explicit = row.threshold !== null;
      this.items.set(key, {
        store: row.store,
        product: row.product,
        count: row.count,
        version: row.version,
        upload: row.upload,
        line: row.line,
        threshold: explicit ? row.threshold! : (item?.threshold ?? this.defaultThreshold),
        ...(explicit ? { thresholdVersion: row.version } : item?.thresholdVersion !== undefined ? { thresholdVersion: item.thresholdVersion } : {}),
      });
      return true;
    });
  }

  applyThreshold(row: ThresholdRow): Promise<boolean> {
    return this.call(() => {
      const item = this.items.get(itemKey(row));
      if (item === undefined) return false;
      if (item.thresholdVersion !== undefined && !(item.thresholdVersion < row.version)) return false;
      this.items.set(itemKey(row), { ...item, threshold: row.threshold, thresholdVersion: row.version });
      return true;
    });
  }

  /** The items, in key order. */
  snapshot(): StoredItem[] {
    return [...this.items.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, item]) => item);
  }

  private async call(write: () => boolean): Promise<boolean> {
    this.calls += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      for (let turns = this.delay(); turns > 0; turns -= 1) await Promise.resolve();
      return write();
    } finally {
      this.inFlight -= 1;
    }
  }
}
