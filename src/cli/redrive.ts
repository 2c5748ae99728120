/**
 * `inventory redrive`: moves dead-lettered messages back to where they came from, once their cause
 * is fixed. Safe by construction: a redriven row batch that is older than what the table holds is
 * skipped by the writer's version check, a redriven upload event re-reads the upload, and a
 * republished alert keeps its alertId, so subscribers drop it if they already had it.
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
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ListTopicsCommand, type SNSClient } from '@aws-sdk/client-sns';
import { entryOfParkedAlert, parseParkedAlert } from '../alerter/parking';
import { snsPublishBatch } from '../alerter/publisher';
import { createAwsClients, destroyAwsClients, localEndpointCredentials } from '../shared/aws';
import { resourceNames, settings } from '../shared/settings';

export const redrivableQueues = ['rows', 'upload-events', 'alerts'] as const;
export type RedrivableQueue = (typeof redrivableQueues)[number];

export interface RedriveResult {
  from: string;
  to: string;
  moved: number;
  /** Alerts queue only: messages left in place because they are not parked alerts. */
  left: number;
}

/** Deletes the messages of one receive that were handled. */
async function deleteHandled(sqs: SQSClient, queueUrl: string, handled: readonly Message[]): Promise<void> {
  if (handled.length === 0) return;
  await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: handled.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle! })) }));
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
    await deleteHandled(sqs, fromUrl, done);
    moved += done.length;
    const failed = sent.Failed ?? [];
    if (failed.length > 0) {
      throw new Error(`${failed.length} message(s) could not be sent back (${failed[0]!.Code}: ${failed[0]!.Message}); they stay in the dead-letter queue`);
    }
  }
  return moved;
}

/**
 * Publishes the alerts parked on the alerts dead-letter queue to the topic again, unchanged (same
 * alertId). Messages that are not parked alerts — the stream mapping's on-failure records, which
 * only point at stream records — are left where they are and counted: they cannot be republished
 * (docs/deploy.md says what to do with them).
 */
export async function republishAlerts(sqs: SQSClient, sns: SNSClient, fromUrl: string, topicArn: string, max = Number.POSITIVE_INFINITY): Promise<{ moved: number; left: number }> {
  const publish = snsPublishBatch(sns, topicArn);
  const leftIds = new Set<string>();
  let moved = 0;
  while (moved < max) {
    const { Messages = [] } = await sqs.send(
      // Left messages stay hidden for the rest of the run, so each is looked at once.
      new ReceiveMessageCommand({ QueueUrl: fromUrl, MaxNumberOfMessages: Math.min(10, max - moved), WaitTimeSeconds: 1, VisibilityTimeout: 60 }),
    );
    const fresh = Messages.filter((m) => !leftIds.has(m.MessageId!));
    if (fresh.length === 0) break;
    const alerts = fresh.flatMap((message) => {
      const parked = parseParkedAlert(message.Body ?? '');
      if (parked === undefined) leftIds.add(message.MessageId!);
      return parked === undefined ? [] : [{ message, parked }];
    });
    if (alerts.length === 0) continue;
    const failures = await publish(alerts.map(({ parked }, index) => entryOfParkedAlert(parked, String(index))));
    const failed = new Set(failures.map((failure) => failure.Id));
    const done = alerts.filter((_, index) => !failed.has(String(index))).map(({ message }) => message);
    await deleteHandled(sqs, fromUrl, done);
    moved += done.length;
    if (failures.length > 0) {
      throw new Error(`${failures.length} alert(s) could not be published (${failures[0]!.Code}: ${failures[0]!.Message}); they stay in the dead-letter queue`);
    }
  }
  return { moved, left: leftIds.size };
}

/** A topic's ARN from its name (the stack names it; the account and partition come from the listing). */
async function topicArnOf(sns: SNSClient, name: string): Promise<string> {
  let next: string | undefined;
  do {
    const page = await sns.send(new ListTopicsCommand({ NextToken: next }));
    const found = page.Topics?.find((topic) => topic.TopicArn?.endsWith(`:${name}`));
    if (found) return found.TopicArn!;
    next = page.NextToken;
  } while (next);
  throw new Error(`there is no topic named ${name}: is the stage right?`);
}

export async function runRedrive(options: { endpoint?: string; stage?: string; queue: RedrivableQueue; max?: number }): Promise<RedriveResult> {
  const stage = options.stage ?? (options.endpoint ? settings.stage.local : settings.stage.default);
  const names = resourceNames(stage);
  const clients = createAwsClients({ endpoint: options.endpoint, credentials: options.endpoint ? localEndpointCredentials() : undefined });
  try {
    const urlOf = async (name: string) => (await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl!;
    if (options.queue === 'alerts') {
      const [from, to] = [await urlOf(names.alertDeadLetterQueue), await topicArnOf(clients.sns, names.topic)];
      return { from, to, ...(await republishAlerts(clients.sqs, clients.sns, from, to, options.max)) };
    }
    const [source, deadLetter] = options.queue === 'rows' ? [names.workQueue, names.deadLetterQueue] : [names.uploadQueue, names.uploadDeadLetterQueue];
    const [from, to] = [await urlOf(deadLetter), await urlOf(source)];
    return { from, to, moved: await redriveMessages(clients.sqs, from, to, options.max), left: 0 };
  } finally {
    destroyAwsClients(clients);
  }
}
