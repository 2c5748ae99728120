/**
 * The receipt the splitter files for every upload it processed, at `reports/<name>.json` next to
 * the upload: what was read, rejected and queued, or why the file failed as a whole. Operators
 * read it to answer "what happened to last night's file"; the local CLI reads it for its summary.
 */
export interface UploadReport {
  upload: {
    bucket: string;
    key: string;
    etag?: string;
    versionId?: string;
    eventTime: string;
    stamp: string;
  };
  /** `failed`: the file was not applied at all (see `reason`); `processed`: its valid rows were queued. */
  status: 'processed' | 'failed';
  reason?: string;
  rowsRead: number;
  rowsAccepted: number;
  rowsRejected: number;
  messages: number;
  /** CSV of the rejected rows: line, reason, record. */
  rejectsKey: string;
  startedAt: string;
  finishedAt: string;
}
