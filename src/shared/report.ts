/**
 * The receipt the splitter files for every upload it processed, at `reports/<name>.json` next to
 * the upload: what was read, rejected and queued, or why the file failed as a whole. Operators
 * read it to answer "what happened to last night's file"; the local CLI reads it for its summary.
 */
/** What splitting an upload came to. */
export interface SplitOutcome {
  /**
   * `processed`: every valid row was queued and every other row rejected with its line. `failed`:
   * the file as a whole could not be read (see `reason`); it is not retried, since reading it again
   * would fail the same way.
   */
  status: 'processed' | 'failed';
  /** Why the file failed, in one sentence. */
  reason?: string;
  /** Data records read (each one once, whether accepted or rejected): rowsAccepted + rowsRejected. */
  rowsRead: number;
  /**
   * Rows queued for the writer. For a failed file, the rows read before the failure (gzip data that
   * breaks off mid-file): genuine rows, applied like any other. Zero when the header failed.
   */
  rowsAccepted: number;
  rowsRejected: number;
  messages: number;
}

export interface UploadReport extends SplitOutcome {
  upload: {
    bucket: string;
    key: string;
    etag?: string;
    versionId?: string;
    eventTime: string;
    stamp: string;
  };
  /** CSV of the rejected rows: line, reason, record. */
  rejectsKey: string;
  startedAt: string;
  finishedAt: string;
}
