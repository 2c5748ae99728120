/**
 * Integration fixtures: one moto server per test file with real SDK clients, Lambda-shaped events
 * built from what the real services returned, and small readers for queues and the table's stream.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
} from '@aws-sdk/client-dynamodb-streams';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, DynamoDBRecord, SQSEvent } from 'aws-lambda';
import { lambdaContext as localLambdaContext, toDynamoDBRecord, toSqsRecord } from '../../src/local/event-sources';
import { startMoto, type MotoServer } from '../../src/local/moto';
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../src/shared/aws';

export interface Moto {
  server: MotoServer;
  clients: AwsClients;
  stop(): Promise<void>;
}

export async function startMotoWithClients(): Promise<Moto> {
  const server = await startMoto();
  const clients = createAwsClients({
    endpoint: server.endpoint,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    region: 'us-east-1',
  });
  return {
    server,
    clients,
    async stop() {
      destroyAwsClients(clients);
      await server.stop();
    },
  };
}

export function quietLogger(): Logger {
  return new Logger({ serviceName: 'inventory-pipeline-test', logLevel: 'SILENT' });
}

export function lambdaContext(functionName: string): Context {
  return localLambdaContext(functionName, 60);
}

/**
 * Receives (and deletes) messages until `count` have arrived, or — without a count — until the
 * queue answers empty. Fails if `count` messages don't arrive within `timeoutMs`.
 */
export async function receiveAll(sqs: SQSClient, queueUrl: string, count?: number, timeoutMs = 10_000): Promise<Message[]> {
  const received: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }),
    );
    received.push(...Messages);
    if (Messages.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
        }),
      );
    }
    if (count === undefined ? Messages.length === 0 : received.length >= count) return received;
    if (Date.now() > deadline) throw new Error(`expected ${count} messages on ${queueUrl}, got ${received.length}`);
    if (Messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function sqsEvent(messages: readonly Message[], queueArn: string): SQSEvent {
  return { Records: messages.map((message) => toSqsRecord(message, queueArn)) };
}

/** Reads a table's stream from its beginning; each read returns the records written since the last. */
export class StreamReader {
  private iterators: (string | undefined)[] = [];

  constructor(
    private readonly streams: DynamoDBStreamsClient,
    private readonly streamArn: string,
  ) {}

  async open(): Promise<void> {
    const { StreamDescription } = await this.streams.send(new DescribeStreamCommand({ StreamArn: this.streamArn }));
    this.iterators = await Promise.all(
      (StreamDescription?.Shards ?? []).map(
        async (shard) =>
          (
            await this.streams.send(
              new GetShardIteratorCommand({ StreamArn: this.streamArn, ShardId: shard.ShardId!, ShardIteratorType: 'TRIM_HORIZON' }),
            )
          ).ShardIterator,
      ),
    );
  }

  async read(): Promise<DynamoDBRecord[]> {
    const records: DynamoDBRecord[] = [];
    for (let index = 0; index < this.iterators.length; index += 1) {
      for (;;) {
        const iterator = this.iterators[index];
        if (iterator === undefined) break;
        const page = await this.streams.send(new GetRecordsCommand({ ShardIterator: iterator }));
        this.iterators[index] = page.NextShardIterator;
        const batch = page.Records ?? [];
        records.push(...batch.map((record) => toDynamoDBRecord(record, this.streamArn)));
        if (batch.length === 0) break;
      }
    }
    return records;
  }
}
