/**
 * What Lambda's event source mappings do, played against the local AWS: poll a queue or a stream,
 * gather a batch (batch size, batching window), invoke a handler with a Lambda-shaped event, and
 * honour its partial batch response when the mapping asks for one (ReportBatchItemFailures).
 *
 * SQS: successes are deleted; failures are made visible again after `retryDelaySeconds` (on AWS
 * they wait out the queue's visibility timeout — the local runtime shortens that wait, nothing
 * else); the queue's own redrive policy moves a message to its dead-letter queue once it has been
 * received more than maxReceiveCount times.
 * Streams: records are read in order per shard; after a partial failure the batch is retried from
 * the first failed record; a batch whose invocation failed as a whole is split in two and each half
 * retried (BisectBatchOnFunctionError); after `retryAttempts` retries a batch is recorded on the
 * on-failure destination and skipped.
 *
 * The calls Lambda makes for a mapping go through the clients it is given — on an IAM-enforcing
 * endpoint, clients with the function's role, as Lambda polls with the function's execution role;
 * the calls only the local runtime makes go through `runtimeSqs`.
 */
import { randomUUID } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecord,
  type DynamoDBStreamsClient,
} from '@aws-sdk/client-dynamodb-streams';
import type { Context, DynamoDBRecord, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { visibilityTimeoutSeconds } from '../shared/settings';
import { duplicateOfAttribute } from './faults';

const recheckMs = 25;
/** Lambda reads each shard of a DynamoDB stream about four times a second. */
const shardPollIntervalMs = 250;

/**
 * Waits between polls that found nothing: briefly at first, then longer (up to 250 ms). Every poll
 * costs the local AWS — one Python process, shared with the writes being waited for — so an idle
 * poller that kept asking every few milliseconds would slow the very work it waits on.
 */
class IdleBackoff {
  private delayMs = 0;

  reset(): void {
    this.delayMs = 0;
  }

  wait(): Promise<unknown> {
    this.delayMs = Math.min(250, this.delayMs === 0 ? 10 : this.delayMs * 2);
    return sleep(this.delayMs);
  }
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function lambdaContext(functionName: string, timeoutSeconds: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

export interface FunctionSpec<E, R> {
  name: string;
  timeoutSeconds: number;
  handler: (event: E, context: Context) => Promise<R>;
}

/** What a function invoked by an SQS mapping answers. */
export type BatchResponse = SQSBatchResponse | undefined | void;
/** What a function invoked by a stream mapping answers. */
export type StreamBatchResponse = { batchItemFailures: { itemIdentifier: string }[] } | undefined | void;

export interface SqsSourceOptions {
  batchSize: number;
  /** How long to keep gathering messages for a batch that is not full yet (default 0: invoke at once). */
  batchingWindowSeconds?: number;
  /** Pollers (concurrent invocations) for this queue. */
  concurrency: number;
  retryDelaySeconds: number;
  /** Whether the function's `batchItemFailures` count (FunctionResponseTypes ReportBatchItemFailures); default true. */
  reportBatchItemFailures?: boolean;
  /**
   * Fault injection (SQS's at-least-once delivery): whether a received message is delivered a
   * second time. Its copy goes back on the queue, marked with `duplicateOfAttribute`, so a later
   * batch delivers it again.
   */
  duplicates?: (message: Message) => boolean;
  /**
   * The local runtime's own client, for the calls Lambda never makes — a failed message's shortened
   * wait, hiding a long invocation's messages, injected duplicates — so they are not made under the
   * function's role (default: the mapping's client).
   */
  runtimeSqs?: SQSClient;
}

/** A received message as Lambda's SQS event source delivers it. */
export function toSqsRecord(message: Message, queueArn: string, region = 'us-east-1'): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export class SqsEventSource {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queue: { url: string; arn: string },
    private readonly fn: FunctionSpec<SQSEvent, BatchResponse>,
    private readonly options: SqsSourceOptions,
    private readonly region = 'us-east-1',
  ) {}

  /**
   * Receives until `upstreamDone()` holds and the queue is empty with nothing in flight. One
   * receiver feeds up to `concurrency` invocations at once, as Lambda's pollers feed a function's
   * concurrent instances: while every message is in flight, one idle receiver asks the queue, not
   * one per instance.
   */
  async drain(upstreamDone: () => boolean): Promise<void> {
    const idle = new IdleBackoff();
    const running = new Set<Promise<void>>();
    let failed: { error: unknown } | undefined;
    try {
      for (;;) {
        if (failed) throw failed.error;
        if (running.size >= this.options.concurrency) {
          await Promise.race(running);
          continue;
        }
        const messages = await this.gather();
        if (messages.length > 0) {
          idle.reset();
          const invocation: Promise<void> = this.invoke(messages)
            .catch((error: unknown) => void (failed ??= { error }))
            .finally(() => running.delete(invocation));
          running.add(invocation);
          continue;
        }
        // Messages in flight keep the queue from being empty: only ask once nothing is running.
        if (running.size === 0 && upstreamDone() && (await this.isEmpty())) return;
        await Promise.race([idle.wait(), ...running]);
      }
    } finally {
      await Promise.all(running);
    }
  }

  /**
   * One batch: what a receive returns, and — within the mapping's batching window — what further
   * receives add until the batch is full.
   */
  private async gather(): Promise<Message[]> {
    const batch = await this.receive(this.options.batchSize);
    const windowMs = (this.options.batchingWindowSeconds ?? 0) * 1000;
    if (batch.length === 0 || windowMs === 0) return batch;
    const idle = new IdleBackoff();
    const closesAt = Date.now() + windowMs;
    while (batch.length < this.options.batchSize && Date.now() < closesAt) {
      const more = await this.receive(this.options.batchSize - batch.length);
      if (more.length > 0) idle.reset();
      else await Promise.race([idle.wait(), sleep(Math.max(0, closesAt - Date.now()))]);
      batch.push(...more);
    }
    return batch;
  }

  private async receive(most: number): Promise<Message[]> {
    const { Messages = [] } = await this.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queue.url,
        // SQS hands out at most 10 messages a receive.
        MaxNumberOfMessages: Math.min(10, most),
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: this.options.duplicates ? [duplicateOfAttribute] : undefined,
        WaitTimeSeconds: 0,
      }),
    );
    const { duplicates } = this.options;
    if (duplicates !== undefined) {
      for (const message of Messages.filter((m) => duplicates(m))) {
        await (this.options.runtimeSqs ?? this.sqs).send(
          new SendMessageCommand({
            QueueUrl: this.queue.url,
            MessageBody: message.Body,
            MessageAttributes: { [duplicateOfAttribute]: { DataType: 'String', StringValue: message.MessageId! } },
          }),
        );
      }
    }
    return Messages;
  }

  private async depth(): Promise<number> {
    const { Attributes = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.queue.url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
      }),
    );
    return (
      Number(Attributes.ApproximateNumberOfMessages ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
      Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
    );
  }

  /**
   * Whether the queue holds nothing, visible or in flight. Asked twice: the counts are computed one
   * after another, so a message turning visible in between can be missed by both (seen on moto).
   */
  async isEmpty(): Promise<boolean> {
    if ((await this.depth()) > 0) return false;
    await sleep(recheckMs);
    return (await this.depth()) === 0;
  }

  private setVisibility(messages: readonly Message[], seconds: number) {
    return (this.options.runtimeSqs ?? this.sqs).send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: this.queue.url,
        Entries: messages.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: seconds })),
      }),
    );
  }

  private async invoke(messages: Message[]): Promise<void> {
    const event: SQSEvent = { Records: messages.map((m) => toSqsRecord(m, this.queue.arn, this.region)) };
    // A local invocation can outlast the Lambda timeout (moto writes far slower than DynamoDB);
    // keep its messages hidden meanwhile, or the queue would hand them out a second time.
    const visibility = visibilityTimeoutSeconds(this.fn.timeoutSeconds);
    const heartbeat = setInterval(() => void this.setVisibility(messages, visibility).catch(() => undefined), (visibility * 1000) / 3);
    let failedIds: Set<string>;
    try {
      const response = await this.fn.handler(event, lambdaContext(this.fn.name, this.fn.timeoutSeconds));
      // Without ReportBatchItemFailures, Lambda takes any response as success for the whole batch.
      const reported = this.options.reportBatchItemFailures === false ? [] : (response?.batchItemFailures ?? []);
      failedIds = new Set(reported.map((failure) => failure.itemIdentifier));
    } catch {
      // An invocation error fails the whole batch, as on Lambda.
      failedIds = new Set(messages.map((m) => m.MessageId!));
    } finally {
      clearInterval(heartbeat);
    }
    const succeeded = messages.filter((m) => !failedIds.has(m.MessageId!));
    const failed = messages.filter((m) => failedIds.has(m.MessageId!));
    if (succeeded.length > 0) {
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queue.url,
          Entries: succeeded.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle! })),
        }),
      );
    }
    if (failed.length > 0) await this.setVisibility(failed, this.options.retryDelaySeconds);
  }
}

export interface StreamSourceOptions {
  batchSize: number;
  /** How long to keep gathering records for a batch that is not full yet (default 0: deliver each read). */
  batchingWindowSeconds?: number;
  /** Retries of a failing batch before it is recorded on the on-failure destination and skipped. */
  retryAttempts: number;
  /** Whether the function's `batchItemFailures` count (FunctionResponseTypes ReportBatchItemFailures); default true. */
  reportBatchItemFailures?: boolean;
  /** Split a batch whose invocation failed as a whole in two, and retry each half (BisectBatchOnFunctionError). */
  bisectBatchOnFunctionError?: boolean;
  /** Where a batch that kept failing is recorded (the stream mapping's on-failure destination). */
  onFailureQueueUrl: string;
}

/** How an invocation of a stream batch went. */
type StreamInvocation = { outcome: 'succeeded' } | { outcome: 'partial'; failedFrom: string } | { outcome: 'failed' };

/** A stream record as Lambda delivers it (the SDK gives a Date where Lambda gives epoch seconds). */
export function toDynamoDBRecord(record: StreamRecord, streamArn: string): DynamoDBRecord {
  const change = record.dynamodb;
  return {
    eventID: record.eventID,
    eventName: record.eventName as DynamoDBRecord['eventName'],
    eventVersion: record.eventVersion,
    eventSource: 'aws:dynamodb',
    awsRegion: record.awsRegion,
    eventSourceARN: streamArn,
    dynamodb: {
      // The SDK's and aws-lambda's AttributeValue types describe the same wire shape.
      Keys: change?.Keys as never,
      NewImage: change?.NewImage as never,
      OldImage: change?.OldImage as never,
      SequenceNumber: change?.SequenceNumber,
      SizeBytes: change?.SizeBytes,
      StreamViewType: change?.StreamViewType,
      ApproximateCreationDateTime: change?.ApproximateCreationDateTime ? change.ApproximateCreationDateTime.getTime() / 1000 : undefined,
    },
  };
}

interface ShardCursor {
  shardId: string;
  iterator: string | undefined;
  /** The last sequence number delivered from this shard. */
  delivered?: bigint;
}

export class DynamoStreamEventSource {
  private shards: ShardCursor[] = [];

  constructor(
    private readonly streams: DynamoDBStreamsClient,
    private readonly sqs: SQSClient,
    private readonly streamArn: string,
    private readonly fn: FunctionSpec<DynamoDBStreamEvent, StreamBatchResponse>,
    private readonly options: StreamSourceOptions,
  ) {}

  /** Positions every shard at its end: only changes made from now on are delivered. */
  async startAtLatest(): Promise<void> {
    const { StreamDescription } = await this.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn }));
    this.shards = await Promise.all(
      (StreamDescription?.Shards ?? []).map(async (shard) => ({
        shardId: shard.ShardId!,
        iterator: (
          await this.streams.send(
            new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shard.ShardId!, ShardIteratorType: 'LATEST' }),
          )
        ).ShardIterator,
      })),
    );
  }

  /**
   * Delivers records until `upstreamDone()` holds and every shard has been read to its end. Like
   * Lambda, it reads a shard about four times a second, and at once again while pages come back
   * full: records written in between arrive together, as one invocation, instead of one poll per
   * write.
   */
  async drain(upstreamDone: () => boolean): Promise<void> {
    for (;;) {
      const done = upstreamDone();
      const polledAt = Date.now();
      let delivered = 0;
      let backlog = false;
      for (const shard of this.shards) {
        const read = await this.readShard(shard);
        delivered += read.delivered;
        backlog ||= read.pageFull;
      }
      if (delivered === 0 && done) return;
      if (!backlog) await sleep(Math.max(0, shardPollIntervalMs - (Date.now() - polledAt)));
    }
  }

  /**
   * Reads one batch from the shard — a page, and within the batching window further pages until the
   * batch is full — and delivers it: how many records it delivered, and whether a page came back full.
   */
  private async readShard(shard: ShardCursor): Promise<{ delivered: number; pageFull: boolean }> {
    const records: StreamRecord[] = [];
    let pageFull = false;
    const windowMs = (this.options.batchingWindowSeconds ?? 0) * 1000;
    let closesAt: number | undefined;
    for (;;) {
      const page = await this.readPage(shard, this.options.batchSize - records.length);
      pageFull ||= page.full;
      records.push(...page.records);
      if (records.length === 0 || records.length >= this.options.batchSize || windowMs === 0) break;
      closesAt ??= Date.now() + windowMs;
      if (Date.now() >= closesAt) break;
      if (!page.full) await sleep(Math.min(shardPollIntervalMs, closesAt - Date.now()));
    }
    if (records.length === 0) return { delivered: 0, pageFull };
    await this.deliver(shard, records.map((r) => toDynamoDBRecord(r, this.streamArn)));
    return { delivered: records.length, pageFull };
  }

  /** One GetRecords page of at most `limit` records not delivered yet. */
  private async readPage(shard: ShardCursor, limit: number): Promise<{ records: StreamRecord[]; full: boolean }> {
    if (shard.iterator === undefined) return { records: [], full: false };
    const page = await this.streams.send(new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: limit }));
    shard.iterator = page.NextShardIterator;
    const sequence = (record: StreamRecord) => BigInt(record.dynamodb?.SequenceNumber ?? '0');
    const records = (page.Records ?? []).filter((record) => shard.delivered === undefined || sequence(record) > shard.delivered);
    if (records.length === 0 && (page.Records ?? []).length > 0) {
      // A stream never hands out a record twice in order; an iterator that does is stuck, and
      // polling it again would spin forever.
      throw new Error(`the stream's shard ${shard.shardId} returned already delivered records again: its iterator is not advancing`);
    }
    if (records.length > 0) shard.delivered = sequence(records.at(-1)!);
    return { records, full: (page.Records ?? []).length >= limit };
  }

  /**
   * Invokes the function with the batch until it succeeds: after a partial failure, again from the
   * first failed record; after a failed invocation, in two halves when the mapping bisects; after
   * `retryAttempts` retries the batch is recorded on the on-failure destination and skipped.
   */
  private async deliver(shard: ShardCursor, records: DynamoDBRecord[]): Promise<void> {
    let batch = records;
    for (let retries = 0; ; retries += 1) {
      const invocation = await this.invoke(batch);
      if (invocation.outcome === 'succeeded') return;
      if (invocation.outcome === 'failed' && this.options.bisectBatchOnFunctionError && batch.length > 1) {
        // Splitting does not count as a retry: each half gets the mapping's retries of its own.
        const half = Math.ceil(batch.length / 2);
        await this.deliver(shard, batch.slice(0, half));
        await this.deliver(shard, batch.slice(half));
        return;
      }
      if (retries >= this.options.retryAttempts) {
        await this.recordFailure(shard, batch);
        return;
      }
      if (invocation.outcome === 'partial') {
        // Retry from the first failed record, with the records after it, as Lambda does.
        const index = batch.findIndex((record) => record.dynamodb?.SequenceNumber === invocation.failedFrom);
        batch = batch.slice(Math.max(0, index));
      }
    }
  }

  /** What Lambda sends the on-failure destination: where the batch was, not its records. */
  private async recordFailure(shard: ShardCursor, batch: DynamoDBRecord[]): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.options.onFailureQueueUrl,
        MessageBody: JSON.stringify({
          requestContext: { condition: 'RetryAttemptsExhausted', functionArn: this.fn.name },
          DDBStreamBatchInfo: {
            shardId: shard.shardId,
            streamArn: this.streamArn,
            startSequenceNumber: batch[0]!.dynamodb!.SequenceNumber,
            endSequenceNumber: batch.at(-1)!.dynamodb!.SequenceNumber,
            batchSize: batch.length,
          },
        }),
      }),
    );
  }

  private async invoke(records: DynamoDBRecord[]): Promise<StreamInvocation> {
    let response: StreamBatchResponse;
    try {
      response = await this.fn.handler({ Records: records }, lambdaContext(this.fn.name, this.fn.timeoutSeconds));
    } catch {
      return { outcome: 'failed' };
    }
    if (this.options.reportBatchItemFailures === false) return { outcome: 'succeeded' };
    const failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    const failedFrom = records.find((r) => failed.has(r.dynamodb?.SequenceNumber ?? ''))?.dynamodb?.SequenceNumber;
    return failedFrom === undefined ? { outcome: 'succeeded' } : { outcome: 'partial', failedFrom };
  }
}
