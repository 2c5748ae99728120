/**
 * The splitter core's ports, replaced by counters that never wait: what remains to measure is
 * the splitter's own per-row work (parse, validate, pack, batch).
 */
import type { RejectedRow, RejectSink } from '../src/splitter/split';
import type { SendBatch } from '../src/splitter/sender';
import { uploadStamp } from '../src/shared/upload';

export interface CountingSinks {
  sendBatch: SendBatch;
  rejects: RejectSink;
  counts: { requests: number; messages: number; rejected: number };
}

export function countingSinks(): CountingSinks {
  const counts = { requests: 0, messages: 0, rejected: 0 };
  return {
    counts,
    sendBatch: (entries) => {
      counts.requests += 1;
      counts.messages += entries.length;
      return Promise.resolve([]);
    },
    rejects: {
      add(_rejected: RejectedRow) {
        counts.rejected += 1;
      },
      ready: () => undefined,
    },
  };
}

export const benchUpload = {
  key: 'uploads/bench.csv',
  stamp: uploadStamp('2024-06-01T02:00:00.000Z', 'uploads/bench.csv', '0055AED6DCD90C23E0'),
};
