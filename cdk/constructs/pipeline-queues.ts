/**
 * The pipeline's SQS queues: every safe default named once. The local runtime
 * (src/local/resources.ts) creates its queues from the same settings, and a test compares the two.
 */
import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption, type QueueProps } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { settings, visibilityTimeoutSeconds } from '../../src/shared/settings';

// SQS-managed keys rather than a KMS key: S3 event notifications can only reach a KMS-encrypted
// queue through a customer-managed key, and SQS-managed encryption costs nothing per request.
const secureQueueDefaults = {
  encryption: QueueEncryption.SQS_MANAGED,
  enforceSSL: true,
} satisfies QueueProps;

/** Holds what the pipeline gave up on, for an operator to inspect and redrive. */
export class DeadLetterQueue extends Queue {
  constructor(scope: Construct, id: string, props: { queueName: string }) {
    super(scope, id, {
      ...secureQueueDefaults,
      queueName: props.queueName,
      retentionPeriod: Duration.seconds(settings.queues.deadLetterRetentionSeconds),
    });
  }
}

export interface SourceQueueProps {
  queueName: string;
  deadLetterQueueName: string;
  /** Timeout of the function that consumes the queue; the visibility timeout follows from it. */
  consumerTimeoutSeconds: number;
}

/** A queue that drives a function, with the dead-letter queue its failed messages end up in. */
export class SourceQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: DeadLetterQueue;
  readonly visibilityTimeout: Duration;

  constructor(scope: Construct, id: string, props: SourceQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new DeadLetterQueue(this, 'DeadLetters', { queueName: props.deadLetterQueueName });
    this.visibilityTimeout = Duration.seconds(visibilityTimeoutSeconds(props.consumerTimeoutSeconds));
    this.queue = new Queue(this, 'Queue', {
      ...secureQueueDefaults,
      queueName: props.queueName,
      visibilityTimeout: this.visibilityTimeout,
      maxMessageSizeBytes: settings.queues.maximumMessageSizeBytes,
      retentionPeriod: Duration.seconds(settings.queues.retentionSeconds),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: settings.queues.maxReceiveCount },
    });
  }
}
