/**
 * Where an alert goes when the alerter gives up publishing it: the alerts dead-letter queue, with
 * everything needed to publish it later exactly as it would have gone out — body (with its
 * alertId), subject and message attributes. The stream keeps records for 24 hours; this queue keeps
 * them for 14 days, and `inventory redrive --queue alerts` publishes them again.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { AlertEntry } from './publisher';

/** Parks one alert; rejects if it could not be parked (then the stream retries its record). */
export type ParkAlert = (entry: AlertEntry, reason: string) => Promise<void>;

/** A parked alert as it sits on the alerts dead-letter queue. */
export interface ParkedAlert {
  /** The SNS message body that was not published (JSON with alertId, type, store, product, …). */
  message: string;
  subject: string;
  attributes: Record<string, string>;
  /** Why it was not published. */
  reason: string;
  parkedAt: string;
}

function parkedAlertBody(entry: AlertEntry, reason: string, now = new Date()): string {
  const parked: ParkedAlert = {
    message: entry.Message,
    subject: entry.Subject,
    attributes: Object.fromEntries(Object.entries(entry.MessageAttributes).map(([name, value]) => [name, value.StringValue])),
    reason,
    parkedAt: now.toISOString(),
  };
  return JSON.stringify({ parkedAlert: parked });
}

/** The parked alert a dead-letter message holds, or undefined (e.g. the stream mapping's failure record). */
export function parseParkedAlert(body: string): ParkedAlert | undefined {
  try {
    const parked = (JSON.parse(body) as { parkedAlert?: Partial<ParkedAlert> }).parkedAlert;
    if (typeof parked?.message !== 'string' || typeof parked.subject !== 'string' || typeof parked.attributes !== 'object' || parked.attributes === null) return undefined;
    return parked as ParkedAlert;
  } catch {
    return undefined;
  }
}

/** The SNS entry that publishes a parked alert again, unchanged. */
export function entryOfParkedAlert(parked: ParkedAlert, id: string): AlertEntry {
  return {
    Id: id,
    Message: parked.message,
    Subject: parked.subject,
    MessageAttributes: Object.fromEntries(Object.entries(parked.attributes).map(([name, value]) => [name, { DataType: 'String' as const, StringValue: value }])),
  };
}

export function sqsParking(sqs: SQSClient, deadLetterQueueUrl: string): ParkAlert {
  return async (entry, reason) => {
    await sqs.send(new SendMessageCommand({ QueueUrl: deadLetterQueueUrl, MessageBody: parkedAlertBody(entry, reason) }));
  };
}
