/**
 * An inventory item as stored in the table (the writer writes it, the alerter reads its images).
 * Keyed by `store` and `product` (settings.table).
 */

export interface InventoryItem {
  store: string;
  product: string;
  count: number;
  threshold: number;
  /** Stamp of the row that set `count`. */
  version: string;
  /** Stamp of the row that last set `threshold` explicitly (absent while it is the default). */
  thresholdVersion?: string;
  /** The upload (S3 key) and line the current count came from. */
  upload: string;
  line: number;
  updatedAt: string;
}
