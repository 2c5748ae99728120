/**
 * Compression told by content, not by name: a stream that starts with gzip's magic bytes (1f 8b)
 * is gunzipped, whatever its key says; anything else passes through as it is. Stores name files
 * as they please: a plain CSV called `.csv.gz` and a gzip called `.csv` are both read correctly.
 *
 * Gzip data that is corrupt or ends early fails the upload (an UploadRejectedError with a
 * readable reason): re-reading the same object would fail the same way.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { UploadRejectedError } from '../shared/csv';

const gzipMagic = [0x1f, 0x8b];

function gzipFailure(error: NodeJS.ErrnoException, bytesRead: number): UploadRejectedError {
  // zlib reports input that stops mid-stream as Z_BUF_ERROR ("unexpected end of file").
  if (error.code === 'Z_BUF_ERROR') return new UploadRejectedError(`the gzip data ends early after ${bytesRead} bytes: the file is truncated`);
  // zlib does not say where in the input: the chunk it was given when it noticed depends on how the bytes arrived.
  return new UploadRejectedError(`the gzip data is corrupt (${error.message}): the file is damaged`);
}

export class GunzipByContent extends Transform {
  /** The first bytes, while fewer than the magic's length have arrived. */
  private head: Buffer | undefined = Buffer.alloc(0);
  private gunzip: Gunzip | undefined;
  private compressedBytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.head !== undefined) {
      const bytes = Buffer.concat([this.head, chunk]);
      if (bytes.length < gzipMagic.length) {
        this.head = bytes;
        callback();
        return;
      }
      this.head = undefined;
      if (bytes[0] === gzipMagic[0] && bytes[1] === gzipMagic[1]) this.gunzip = this.openGunzip();
      chunk = bytes;
    }
    if (this.gunzip === undefined) {
      callback(null, chunk);
      return;
    }
    this.compressedBytes += chunk.length;
    // Called once zlib has taken the chunk in and pushed out what it inflated to; errors go to 'error'.
    this.gunzip.write(chunk, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    if (this.gunzip === undefined) {
      // Not gzip (also what is left when the stream was shorter than gzip's magic).
      callback(null, this.head?.length ? this.head : undefined);
      return;
    }
    this.gunzip.once('end', () => callback());
    this.gunzip.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.gunzip?.destroy();
    callback(error);
  }

  private openGunzip(): Gunzip {
    const gunzip = createGunzip();
    gunzip.on('data', (inflated: Buffer) => this.push(inflated));
    gunzip.on('error', (error: NodeJS.ErrnoException) => this.destroy(gzipFailure(error, this.compressedBytes)));
    return gunzip;
  }
}
