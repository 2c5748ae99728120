/**
 * The rows queue as the writer uses it, beyond receiving (which Lambda does): re-sending rows it
 * deferred, and handing a failed message back for a while of its choosing.
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface RowsQueue {
  /** Sends a message that becomes visible after `delaySeconds` (at most 900). */
  sendLater(body: string, delaySeconds: number): Promise<void>;
  /** Makes a received message visible again after `seconds`, instead of the queue's visibility timeout. */
  retryAfter(receiptHandle: string, seconds: number): Promise<void>;
}

export function sqsRowsQueue(sqs: SQSClient, queueUrl: string): RowsQueue {
  return {
    async sendLater(body, delaySeconds) {
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, DelaySeconds: delaySeconds }));
    },
    async retryAfter(receiptHandle, seconds) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
    },
  };
}
