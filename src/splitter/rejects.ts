/**
 * Rejected rows as CSV (`line,reason,record`), written to a stream as they are found so that a file
 * with millions of bad rows still uses constant memory. The S3 adapter streams it to the upload's
 * `rejects/` object with a multipart upload.
 */
import { PassThrough, type Writable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload as S3Upload } from '@aws-sdk/lib-storage';
import type { RejectedRow, RejectSink } from './split';

export const rejectsCsvHeader = 'line,reason,record\n';

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The record as it would appear in a CSV file (fields re-quoted where needed), capped in length. */
function recordText(record: readonly string[]): string {
  const text = record.map(csvField).join(',');
  return text.length > 2048 ? `${text.slice(0, 2048)}…` : text;
}

export class RejectsCsvWriter implements RejectSink {
  constructor(private readonly out: Writable) {
    out.write(rejectsCsvHeader);
  }

  add(rejected: RejectedRow): void {
    this.out.write(`${rejected.line},${csvField(rejected.reason)},${csvField(recordText(rejected.record))}\n`);
  }

  ready(): Promise<void> | undefined {
    if (!this.out.writableNeedDrain) return undefined;
    return new Promise((resolve) => this.out.once('drain', resolve));
  }
}

export interface S3Rejects {
  writer: RejectsCsvWriter;
  /** Ends the CSV and waits for S3 to have all of it. */
  finish(): Promise<void>;
  /** Abandons the object (the multipart upload is aborted; nothing is written). */
  abort(): Promise<void>;
}

export function openS3Rejects(s3: S3Client, bucket: string, key: string): S3Rejects {
  const body = new PassThrough();
  const upload = new S3Upload({
    client: s3,
    params: { Bucket: bucket, Key: key, Body: body, ContentType: 'text/csv; charset=utf-8' },
    queueSize: 2,
  });
  const done = upload.done();
  // Surfaced by finish(); without this an abort would be an unhandled rejection.
  done.catch(() => undefined);
  return {
    writer: new RejectsCsvWriter(body),
    async finish() {
      body.end();
      await done;
    },
    async abort() {
      await upload.abort();
      body.destroy();
    },
  };
}
