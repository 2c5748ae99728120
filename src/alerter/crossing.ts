/**
 * Low-stock crossings: an alert is due when an item *becomes* low (LOW_STOCK) or stops being low
 * (RESTOCKED) — never for an item that stays low or stays fine. Pure functions over the item's old
 * and new images from the table's stream.
 *
 * An image without a count is not an item yet (a key-only record, as when an item is created in
 * steps) and counts as absent. An item is low when count < threshold (the item's, else the default).
 */
import { createHash } from 'node:crypto';
import type { InventoryItem } from '../shared/item';

export type AlertType = 'LOW_STOCK' | 'RESTOCKED';

/** What a stream image may hold: any attribute can be missing. */
export type ItemImage = Partial<InventoryItem>;

export interface Crossing {
  type: AlertType;
  store: string;
  product: string;
  count: number;
  /** null when the item is new. */
  previousCount: number | null;
  threshold: number;
  upload: string | null;
  line: number | null;
  /** When the state the crossing led to was written (the item's updatedAt). */
  time: string | null;
  /** Identifies the item state the crossing led to: same crossing, same id. */
  alertId: string;
}

interface PresentItem {
  store: string;
  product: string;
  count: number;
  threshold: number;
  image: ItemImage;
}

function present(image: ItemImage | undefined, defaultThreshold: number): PresentItem | undefined {
  if (image === undefined || typeof image.count !== 'number' || image.store === undefined || image.product === undefined) {
    return undefined;
  }
  return { store: image.store, product: image.product, count: image.count, threshold: image.threshold ?? defaultThreshold, image };
}

const isLow = (item: PresentItem | undefined): boolean => item !== undefined && item.count < item.threshold;

export function alertIdFor(type: AlertType, image: ItemImage): string {
  // `version` and `thresholdVersion` only ever grow, so together they name this state of the item.
  const identity = [type, image.store, image.product, image.version ?? '', image.thresholdVersion ?? ''].join('\n');
  return createHash('sha256').update(identity).digest('hex').slice(0, 32);
}

export function detectCrossing(oldImage: ItemImage | undefined, newImage: ItemImage | undefined, defaultThreshold: number): Crossing | null {
  const before = present(oldImage, defaultThreshold);
  const after = present(newImage, defaultThreshold);
  if (after === undefined) return null; // deleted, or not an item yet
  const wasLow = isLow(before);
  const nowLow = isLow(after);
  if (wasLow === nowLow) return null;
  const type: AlertType = nowLow ? 'LOW_STOCK' : 'RESTOCKED';
  return {
    type,
    store: after.store,
    product: after.product,
    count: after.count,
    previousCount: before?.count ?? null,
    threshold: after.threshold,
    upload: after.image.upload ?? null,
    line: after.image.line ?? null,
    time: after.image.updatedAt ?? null,
    alertId: alertIdFor(type, after.image),
  };
}

/** One stream record's change to one item, in stream order; `ref` is whatever the caller tracks it by. */
export interface ItemChange<Ref> {
  ref: Ref;
  /** The item's key; changes of the same item share it. */
  item: string;
  oldImage: ItemImage | undefined;
  newImage: ItemImage | undefined;
}

/**
 * The crossings of a batch of changes. Consecutive changes of one item collapse into one: its
 * first old image against its last new image, so an item that dips and recovers within a batch
 * raises nothing. A crossing is attributed to the *first* change of its item: if publishing it
 * fails, the stream retries from that record and so replays the whole chain.
 */
export function crossingsOf<Ref>(changes: readonly ItemChange<Ref>[], defaultThreshold: number): Map<Ref, Crossing> {
  const chains = new Map<string, { first: ItemChange<Ref>; last: ItemChange<Ref> }>();
  for (const change of changes) {
    const chain = chains.get(change.item);
    if (chain === undefined) chains.set(change.item, { first: change, last: change });
    else chain.last = change;
  }
  const crossings = new Map<Ref, Crossing>();
  for (const { first, last } of chains.values()) {
    const crossing = detectCrossing(first.oldImage, last.newImage, defaultThreshold);
    if (crossing !== null) crossings.set(first.ref, crossing);
  }
  return crossings;
}
