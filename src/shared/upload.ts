/**
 * An upload (one S3 object version announced by an ObjectCreated event) and its version stamp.
 *
 * Upload order is the S3 event's eventTime (millisecond precision); uploads with the same
 * eventTime are ordered by a hash of the object key, then by the event's sequencer (S3 documents
 * it as the way to order events for the same key, and how to compare two: right-pad the shorter
 * with zeros, then compare as text; the greater is later). Every row
 * is stamped with its upload's stamp followed by its line number, so a later upload beats an
 * earlier one and, within a file, a later line beats an earlier one. Stamps are fixed-width
 * strings, compared as strings by DynamoDB's condition expressions and by this code alike.
 */
import { createHash } from 'node:crypto';
import type { StoreScope } from './csv';
import { settings } from './settings';

export interface Upload {
  bucket: string;
  key: string;
  size?: number;
  /** Present when the bucket is versioned: the splitter then reads exactly this version. */
  versionId?: string;
  /** Otherwise the splitter reads the object only while it still has this ETag. */
  etag?: string;
  eventTime: string;
  sequencer: string;
  stamp: string;
}

/** The subset of an S3 event notification record the pipeline relies on. */
export interface S3EventRecordLike {
  eventName?: string;
  eventTime: string;
  s3: {
    bucket: { name: string };
    object: { key: string; size?: number; eTag?: string; versionId?: string; sequencer?: string };
  };
}

const sequencerWidth = 32;
const lineWidth = 10;
/** The largest line number a stamp can carry. */
export const maxLine = 10 ** lineWidth - 1;

/** S3 event keys are URL-encoded with '+' for spaces (as in an HTML form). */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

export function uploadStamp(eventTime: string, key: string, sequencer: string): string {
  const time = new Date(eventTime);
  if (Number.isNaN(time.getTime())) throw new Error(`S3 event has an invalid eventTime '${eventTime}'`);
  const keyHash = createHash('sha256').update(key).digest('hex').slice(0, 16);
  // Right-padded, as S3 documents: its sequencers differ in length, and `…E5` followed by more
  // digits is later than `…E5` itself, whatever those digits are.
  const sequence = sequencer.toUpperCase().padEnd(sequencerWidth, '0');
  return `${time.toISOString()}/${keyHash}/${sequence}`;
}

export function rowStamp(upload: string, line: number): string {
  return `${upload}/${String(line).padStart(lineWidth, '0')}`;
}

export function uploadFromS3Record(record: S3EventRecordLike): Upload {
  const key = decodeS3Key(record.s3.object.key);
  const sequencer = record.s3.object.sequencer ?? '';
  return {
    bucket: record.s3.bucket.name,
    key,
    size: record.s3.object.size,
    versionId: record.s3.object.versionId || undefined,
    etag: record.s3.object.eTag || undefined,
    eventTime: record.eventTime,
    sequencer,
    stamp: uploadStamp(record.eventTime, key, sequencer),
  };
}

/**
 * The store a store-scoped upload is for: the first segment of its key below the uploads prefix
 * (`uploads/S0012/monday.csv` → S0012), the segment an uploader's IAM policy ties to its store tag —
 * so a deeper key (`uploads/S0012/2026-12/monday.csv`) is that store's too. A key that names no store
 * fails the upload; `reason` says why in one sentence.
 */
export function storeScopeOf(key: string): StoreScope | { reason: string } {
  const { prefix } = settings.uploads;
  const slash = key.startsWith(prefix) ? key.indexOf('/', prefix.length) : -1;
  const store = slash === -1 ? '' : key.slice(prefix.length, slash);
  if (store.trim() === '') {
    return { reason: `the key ${key} names no store: with store-scoped uploads each file goes under its store's folder, ${prefix}<store>/<name>.csv` };
  }
  if (store !== store.trim()) {
    return { reason: `the store folder '${store}' of the key ${key} begins or ends with a space, so it names no store exactly: move the file to ${prefix}${store.trim()}/` };
  }
  return { store, prefix: `${prefix}${store}/` };
}

/** `uploads/store-12.csv.gz` → `store-12.csv`: the name the upload's receipts are filed under. */
function receiptName(key: string): string {
  const withinPrefix = key.startsWith(settings.uploads.prefix) ? key.slice(settings.uploads.prefix.length) : key;
  return withinPrefix.replace(/\.gz$/i, '');
}

/** Where the rejected rows of an upload are written (a CSV with line, reason and the record). */
export function rejectsKey(uploadKey: string): string {
  return `${settings.uploads.rejectsPrefix}${receiptName(uploadKey)}`;
}

/** Where the JSON receipt of an upload is written. */
export function reportKey(uploadKey: string): string {
  return `${settings.uploads.reportsPrefix}${receiptName(uploadKey)}.json`;
}
