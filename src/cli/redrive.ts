/**
 * `inventory redrive`: moves dead-lettered messages back to the queue they came from, once their
 * cause is fixed. Safe by construction: a redriven row batch that is older than what the table
 * holds is skipped by the writer's version check, and a redriven upload event re-reads the upload.
 *
 * It receives, sends and deletes one batch at a time (each message is deleted from the
 * dead-letter queue only after its copy was sent), so it works on any SQS — including a local
 * one without StartMessageMoveTask — and never holds more than one batch.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { createAwsClients, destroyAwsClients, localEndpointCredentials } from '../shared/aws';
import { resourceNames, settings } from '../shared/settings';

export type RedrivableQueue = 'rows' | 'upload-events';

export interface RedriveResult {
  from: string;
  to: string;
  moved: number;
}

export async function redriveMessages(sqs: SQSClient, fromUrl: string, toUrl: string, max = Number.POSITIVE_INFINITY): Promise<number> {
  let moved = 0;
  while (moved < max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: fromUrl,
        MaxNumberOfMessages: Math.min(10, max - moved),
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    if (Messages.length === 0) return moved;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: toUrl,
        Entries: Messages.map((m, index) => ({ Id: String(index), MessageBody: m.Body!, MessageAttributes: m.MessageAttributes })),
      }),
    );
    const delivered = new Set((sent.Successful ?? []).map((entry) => entry.Id));
    const done = Messages.filter((_, index) => delivered.has(String(index)));
    if (done.length > 0) {
      await sqs.send(
        new DeleteMessageBatchCommand({ QueueUrl: fromUrl, Entries: done.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle! })) }),
      );
    }
    moved += done.length;
    const failed = sent.Failed ?? [];
    if (failed.length > 0) {
      throw new Error(`${failed.length} message(s) could not be sent back (${failed[0]!.Code}: ${failed[0]!.Message}); they stay in the dead-letter queue`);
    }
  }
  return moved;
}

export async function runRedrive(options: { endpoint?: string; stage?: string; queue: RedrivableQueue; max?: number }): Promise<RedriveResult> {
  const stage = options.stage ?? (options.endpoint ? settings.stage.local : settings.stage.default);
  const names = resourceNames(stage);
  const [source, deadLetter] = options.queue === 'rows' ? [names.workQueue, names.deadLetterQueue] : [names.uploadQueue, names.uploadDeadLetterQueue];
  const clients = createAwsClients({ endpoint: options.endpoint, credentials: options.endpoint ? localEndpointCredentials() : undefined });
  try {
    const urlOf = async (name: string) => (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
    const [from, to] = [await urlOf(deadLetter), await urlOf(source)];
    return { from, to, moved: await redriveMessages(clients.sqs, from, to, options.max) };
  } finally {
    destroyAwsClients(clients);
  }
}
