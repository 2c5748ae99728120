/**
 * Groups packed messages into SendMessageBatch requests (≤ 10 entries, ≤ the request byte limit),
 * keeps a bounded number of requests in flight, and retries the entries SQS reports as Failed with
 * exponential backoff. `ready()` is how the CSV stream learns to pause: it resolves once fewer than
 * `maxInFlight` requests are pending, so memory stays constant whatever the file size.
 */
import type { PackedMessage } from '../shared/messages';

export interface BatchEntry {
  Id: string;
  MessageBody: string;
}

export interface FailedEntry {
  Id: string;
  SenderFault: boolean;
  Code?: string;
  Message?: string;
}

/** One SendMessageBatch call: resolves with the entries that failed (empty when all succeeded). */
export type SendBatch = (entries: BatchEntry[]) => Promise<FailedEntry[]>;

export interface SenderLimits {
  maxBatchEntries: number;
  maxBatchBytes: number;
  maxSendsInFlight: number;
  maxSendAttempts: number;
}

export class SendFailedError extends Error {
  override name = 'SendFailedError';
}

const baseDelayMs = 50;
const maxDelayMs = 5000;

export class BatchSender {
  private pending: PackedMessage[] = [];
  private pendingBytes = 0;
  /** Full requests waiting for a slot: one chunk of input can fill several at once. */
  private queued: PackedMessage[][] = [];
  private inFlight = 0;
  private failure: Error | undefined;
  private waiters: (() => void)[] = [];
  private readonly requests = new Set<Promise<void>>();
  messagesSent = 0;

  constructor(
    private readonly sendBatch: SendBatch,
    private readonly limits: SenderLimits,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  add(message: PackedMessage): void {
    if (message.bytes > this.limits.maxBatchBytes) {
      throw new Error(`a ${message.bytes}-byte message exceeds the ${this.limits.maxBatchBytes}-byte batch limit`);
    }
    if (this.pending.length === this.limits.maxBatchEntries || this.pendingBytes + message.bytes > this.limits.maxBatchBytes) {
      this.dispatch();
    }
    this.pending.push(message);
    this.pendingBytes += message.bytes;
  }

  /** Undefined when another request may start now; otherwise a promise that resolves when one may. */
  ready(): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure);
    if (this.inFlight < this.limits.maxSendsInFlight && this.queued.length === 0) return undefined;
    return new Promise<void>((resolve) => this.waiters.push(resolve)).then(() => {
      if (this.failure) throw this.failure;
    });
  }

  /** Sends what is left and waits for every request; throws the first failure. */
  async close(): Promise<void> {
    this.dispatch();
    while (this.requests.size > 0) await Promise.allSettled([...this.requests]);
    if (this.failure) throw this.failure;
  }

  private dispatch(): void {
    if (this.pending.length === 0) return;
    this.queued.push(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    this.startQueued();
  }

  /** Starts queued requests while fewer than maxSendsInFlight are pending, never more. */
  private startQueued(): void {
    while (this.inFlight < this.limits.maxSendsInFlight && this.queued.length > 0 && !this.failure) {
      const messages = this.queued.shift()!;
      this.inFlight += 1;
      const request = this.sendWithRetries(messages)
        .catch((error: unknown) => {
          this.failure ??= error instanceof Error ? error : new Error(String(error));
        })
        .finally(() => {
          this.inFlight -= 1;
          this.requests.delete(request);
          this.startQueued();
          if (this.failure) for (const wake of this.waiters.splice(0)) wake();
          else if (this.ready() === undefined) this.waiters.shift()?.();
        });
      this.requests.add(request);
    }
  }

  private async sendWithRetries(messages: PackedMessage[]): Promise<void> {
    let entries = messages.map((message, index) => ({ Id: String(index), MessageBody: message.body }));
    for (let attempt = 1; ; attempt += 1) {
      const failed = await this.sendBatch(entries);
      this.messagesSent += entries.length - failed.length;
      if (failed.length === 0) return;
      const fatal = failed.find((entry) => entry.SenderFault);
      if (fatal) {
        throw new SendFailedError(`SQS refused a message (${fatal.Code ?? 'error'}): ${fatal.Message ?? 'no reason given'}`);
      }
      if (attempt >= this.limits.maxSendAttempts) {
        const first = failed[0]!;
        throw new SendFailedError(
          `${failed.length} message(s) still failed after ${attempt} attempts (${first.Code ?? 'error'}: ${first.Message ?? 'no reason given'})`,
        );
      }
      const retry = new Set(failed.map((entry) => entry.Id));
      entries = entries.filter((entry) => retry.has(entry.Id));
      const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      await this.sleep(delay / 2 + Math.random() * (delay / 2));
    }
  }
}
