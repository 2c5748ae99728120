/**
 * Alerts as SNS messages, published with PublishBatch. Callers publish one alert at a time and get
 * a promise for it; alerts requested in the same tick are sent together (≤ 10 per request), entries
 * SNS reports as failed are retried with backoff. An alert that still fails is parked on the alerts
 * dead-letter queue, payload and all, and its promise resolves: the alert is kept for 14 days
 * instead of with the stream's 24 hours. Only if parking fails too does its promise reject — so the
 * stream record behind it, and only that one, is reported as failed and retried.
 */
import { PublishBatchCommand, type PublishBatchRequestEntry, type SNSClient } from '@aws-sdk/client-sns';
import type { Crossing } from './crossing';
import type { ParkAlert } from './parking';

export interface Alert extends Crossing {
  time: string;
}

export interface AlertEntry {
  Id: string;
  Message: string;
  Subject: string;
  MessageAttributes: Record<string, { DataType: 'String'; StringValue: string }>;
}

export interface PublishFailure {
  Id: string;
  SenderFault: boolean;
  Code?: string;
  Message?: string;
}

/** One PublishBatch call: resolves with the entries that failed. */
export type PublishBatch = (entries: AlertEntry[]) => Promise<PublishFailure[]>;

export function snsPublishBatch(sns: SNSClient, topicArn: string): PublishBatch {
  return async (entries) => {
    const { Failed } = await sns.send(
      new PublishBatchCommand({ TopicArn: topicArn, PublishBatchRequestEntries: entries as PublishBatchRequestEntry[] }),
    );
    return (Failed ?? []).map((f) => ({ Id: f.Id!, SenderFault: f.SenderFault ?? false, Code: f.Code, Message: f.Message }));
  };
}

/** SNS subjects must be printable ASCII, under 100 characters. */
function subjectFor(alert: Alert): string {
  const text =
    alert.type === 'LOW_STOCK'
      ? `Low stock: ${alert.product} at ${alert.store} (${alert.count} < ${alert.threshold})`
      : `Restocked: ${alert.product} at ${alert.store} (${alert.count} >= ${alert.threshold})`;
  const ascii = text.replace(/[^\x20-\x7e]/g, '?');
  return ascii.length > 99 ? `${ascii.slice(0, 96)}...` : ascii;
}

export function alertEntry(alert: Alert, id: string): AlertEntry {
  const body = {
    alertId: alert.alertId,
    type: alert.type,
    store: alert.store,
    product: alert.product,
    count: alert.count,
    previousCount: alert.previousCount,
    threshold: alert.threshold,
    time: alert.time,
    upload: alert.upload,
    line: alert.line,
  };
  return {
    Id: id,
    Message: JSON.stringify(body),
    Subject: subjectFor(alert),
    // Subscribers filter on these (e.g. only LOW_STOCK, only one store).
    MessageAttributes: {
      type: { DataType: 'String', StringValue: alert.type },
      store: { DataType: 'String', StringValue: alert.store },
      product: { DataType: 'String', StringValue: alert.product },
    },
  };
}

export class PublishFailedError extends Error {
  override name = 'PublishFailedError';
}

interface Pending {
  alert: Alert;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface PublisherOptions {
  batchSize: number;
  maxAttempts: number;
  /** Where an alert goes that could not be published; without it, its promise rejects. */
  park?: ParkAlert;
  sleep?: (ms: number) => Promise<void>;
}

export class AlertPublisher {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly sleep: (ms: number) => Promise<void>;
  published = 0;
  parked = 0;

  constructor(
    private readonly publishBatch: PublishBatch,
    private readonly options: PublisherOptions,
  ) {
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  publish(alert: Alert): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ alert, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Sends everything requested so far, in requests of at most batchSize entries. */
  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) void this.send(this.queue.splice(0, this.options.batchSize));
  }

  /** Parks an alert that could not be published; rejects its promise only if that fails too. */
  private async giveUp(pending: Pending, error: Error): Promise<void> {
    const { park } = this.options;
    if (park === undefined) {
      pending.reject(error);
      return;
    }
    try {
      await park(alertEntry(pending.alert, '0'), error.message);
      this.parked += 1;
      pending.resolve();
    } catch (parkError) {
      pending.reject(new PublishFailedError(`${error.message}; parking it on the dead-letter queue failed too (${(parkError as Error).message})`));
    }
  }

  private async send(batch: Pending[]): Promise<void> {
    let waiting = new Map(batch.map((pending, index) => [String(index), pending]));
    for (let attempt = 1; waiting.size > 0; attempt += 1) {
      let failures: PublishFailure[];
      try {
        failures = await this.publishBatch([...waiting].map(([id, pending]) => alertEntry(pending.alert, id)));
      } catch (error) {
        // The whole request failed (after the SDK's own retries): every alert in it fails.
        await Promise.all([...waiting.values()].map((pending) => this.giveUp(pending, error as Error)));
        return;
      }
      const failed = new Map(failures.map((f) => [f.Id, f]));
      for (const [id, pending] of waiting) {
        if (!failed.has(id)) {
          this.published += 1;
          pending.resolve();
        }
      }
      const retry = new Map<string, Pending>();
      const givingUp: Promise<void>[] = [];
      for (const [id, failure] of failed) {
        const pending = waiting.get(id);
        if (pending === undefined) continue;
        if (failure.SenderFault || attempt >= this.options.maxAttempts) {
          const reason = `SNS did not take alert ${pending.alert.alertId} after ${attempt} attempt(s) (${failure.Code ?? 'error'}: ${failure.Message ?? 'no reason'})`;
          givingUp.push(this.giveUp(pending, new PublishFailedError(reason)));
        } else retry.set(id, pending);
      }
      await Promise.all(givingUp);
      waiting = retry;
      if (waiting.size > 0) await this.sleep(Math.min(2000, 50 * 2 ** attempt));
    }
  }
}
