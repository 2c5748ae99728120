/**
 * The receipt the splitter files for every upload it processed, at `reports/<name>.json` next to
 * the upload: what was read, rejected and queued, or why the file failed as a whole. Operators
 * read it to answer "what happened to last night's file"; the local CLI reads it for its summary.
 */
/** What splitting an upload came to. */
export interface SplitOutcome {
  /** `failed`: the file was not applied at all (see `reason`); `processed`: its valid rows were queued. */
  status: 'processed' | 'failed';
  /** Why the whole file failed; nothing from such a file is sent. */
  reason?: string;
  rowsRead: number;
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
