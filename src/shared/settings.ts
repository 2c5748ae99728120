/**
 * Every name, limit and default of the pipeline, each stated once.
 *
 * The CDK stack (cdk/) and the local runtime (src/local) both read this module, so the queues,
 * table and functions a developer runs locally have the same settings as the ones deployed.
 * It imports nothing of ours.
 */

const KiB = 1024;

/** How a stage's resources are named. `local` is what the local runtime uses. */
export function resourceNames(stage: string) {
  const prefix = `inventory-pipeline-${stage}`;
  return {
    /** S3 bucket names are global: the CDK stack lets CloudFormation name it; the local runtime uses this. */
    bucket: `${prefix}-uploads`,
    table: `${prefix}-inventory`,
    /** S3 ObjectCreated notifications land here and drive the splitter (durable, retried, dead-lettered). */
    uploadQueue: `${prefix}-upload-events`,
    uploadDeadLetterQueue: `${prefix}-upload-events-dlq`,
    /** Packed row batches from the splitter to the writer. */
    workQueue: `${prefix}-rows`,
    deadLetterQueue: `${prefix}-rows-dlq`,
    /** Stream batches the alerter gave up on (the stream mapping's on-failure destination). */
    alertDeadLetterQueue: `${prefix}-alerts-dlq`,
    topic: `${prefix}-alerts`,
    /** Local runtime only: subscribed to the topic so the CLI can show the alerts it published. */
    alertCaptureQueue: `${prefix}-alerts-capture`,
  } as const;
}

export type ResourceNames = ReturnType<typeof resourceNames>;

export const settings = {
  /** `local`: the local runtime; `dev` (the default) and `prod`: the stacks `cdk deploy` makes. */
  stage: { local: 'local', default: 'dev', production: 'prod' },

  uploads: {
    /** Objects under this prefix are uploads; notifications are filtered on it. */
    prefix: 'uploads/',
    /** Keys the bucket announces. (Compression is told by content: any object starting with gzip's magic bytes is gunzipped.) */
    suffixes: ['.csv', '.csv.gz'],
    /** Rejected rows of `uploads/x.csv` are written to `rejects/x.csv`. */
    rejectsPrefix: 'rejects/',
    /** One JSON receipt per processed upload: `reports/x.csv.json`. */
    reportsPrefix: 'reports/',
    /** Lifecycle: processed uploads and their rejects/reports expire after this many days. */
    expireAfterDays: 30,
  },

  csv: {
    /**
     * The header names each contract field accepts, as stores' systems spell them. A header name
     * matches when it equals one of these ignoring case and surrounding spaces, with spaces, '-' and
     * '_' alike (a run of them counts as one space): `Store_ID`, `store-id` and ` STORE ID ` are
     * all `store id`. Each list is the README's, word for word.
     */
    columns: {
      store: ['store', 'store id', 'store number', 'store no', 'location', 'site'],
      product: ['product', 'product id', 'sku', 'item', 'item id', 'upc', 'ean', 'gtin'],
      count: ['count', 'qty', 'quantity', 'on hand', 'onhand', 'stock', 'available'],
      threshold: ['threshold', 'min', 'min qty', 'reorder point', 'par', 'safety stock'],
    },
    requiredColumns: ['store', 'product', 'count'],
    /** Field delimiters a file may use; the one that splits its header line into the required columns is taken. */
    delimiters: [',', ';', '\t', '|'],
    /**
     * The longest record the splitter buffers (csv-parse's max_record_size, counted in characters
     * of the fields read so far): an unclosed quote is reported once it has swallowed this much.
     */
    maxRecordBytes: 1024 * KiB,
    /** DynamoDB key limits (UTF-8 bytes): partition key 2048, sort key 1024. */
    maxStoreBytes: 2048,
    maxProductBytes: 1024,
  },

  inventory: {
    /** An item is low when count < threshold; this threshold applies when no row ever set one. */
    defaultThreshold: 10,
  },

  table: {
    partitionKey: 'store',
    sortKey: 'product',
  },

  packing: {
    /**
     * Upper bound of one SQS message body. 64 KiB is one SQS billing unit, well under the queue's
     * MaximumMessageSize, and keeps a writer retry (which replays the whole message) cheap.
     */
    maxMessageBytes: 64 * KiB,
    /** SendMessageBatch limits: 10 entries and 256 KiB for the whole request. */
    maxBatchEntries: 10,
    maxBatchBytes: 256 * KiB,
    /** SendMessageBatch calls in flight at once; the CSV stream pauses while this many are pending. */
    maxSendsInFlight: 4,
    /** Retries of entries a SendMessageBatch reported as Failed, with exponential backoff. */
    maxSendAttempts: 8,
  },

  splitter: {
    timeoutSeconds: 900,
    memoryMb: 1024,
    /**
     * V8's young generation, capped (--max-semi-space-size, MiB). The splitter's garbage is
     * per-record and short-lived; left alone, Lambda sizes the semi-space from the function's memory
     * (5% of it: ~51 MiB at 1024 MB, a ~190 MB footprint) and plain Node grows it as a run goes on.
     * 8 MiB keeps the footprint flat at ~95 MB for any file size at the same speed (npm run bench, P2).
     */
    maxSemiSpaceMb: 8,
    /** One upload per invocation: each file gets the whole time budget. */
    batchSize: 1,
  },

  writer: {
    timeoutSeconds: 60,
    memoryMb: 512,
    batchSize: 10,
    maxBatchingWindowSeconds: 1,
    /** Event source mapping maximum concurrency: caps the write rate the table sees. */
    maxConcurrency: 10,
    /** UpdateItem calls in flight within one invocation, across all messages of the batch. */
    writeConcurrency: 32,
  },

  alerter: {
    timeoutSeconds: 60,
    memoryMb: 256,
    batchSize: 100,
    maxBatchingWindowSeconds: 1,
    /** Stream retries before a batch goes to the alert dead-letter queue (bisecting on each error). */
    retryAttempts: 5,
    /** SNS PublishBatch takes at most 10 entries. */
    publishBatchSize: 10,
    maxPublishAttempts: 6,
  },

  queues: {
    /** Applies to both source queues (their maxReceiveCount before a message is dead-lettered). */
    maxReceiveCount: 5,
    /** The queue's MaximumMessageSize: the SQS maximum, so packed messages are well under it. */
    maximumMessageSizeBytes: 256 * KiB,
    retentionSeconds: 4 * 24 * 3600,
    deadLetterRetentionSeconds: 14 * 24 * 3600,
    /** AWS guidance: a queue's visibility timeout is at least six times its consumer's timeout. */
    visibilityTimeoutFactor: 6,
  },

  aws: {
    /** Attempts the AWS SDK makes (throttling, 5xx, timeouts) before an error reaches our code. */
    maxAttempts: 8,
    connectionTimeoutMs: 5_000,
    /** Time to the response headers (a streamed body may take longer); none of our calls long-poll. */
    requestTimeoutMs: 30_000,
  },

  observability: {
    metricsNamespace: 'InventoryPipeline',
    serviceName: 'inventory-pipeline',
    /** The deployed functions' Powertools log level. */
    logLevel: 'INFO',
    logRetentionDays: 30,
  },

  /** Environment variables the handlers read (set by the CDK stack; by the local runtime directly). */
  env: {
    /** The rows queue: the splitter sends row batches to it; the writer re-sends rows it deferred (throttling). */
    workQueueUrl: 'WORK_QUEUE_URL',
    tableName: 'TABLE_NAME',
    topicArn: 'TOPIC_ARN',
    defaultThreshold: 'DEFAULT_THRESHOLD',
    /** The alerts dead-letter queue: the alerter parks an alert it could not publish there, payload and all. */
    alertDeadLetterQueueUrl: 'ALERT_DEAD_LETTER_QUEUE_URL',
  },
} as const;

/** NODE_OPTIONS a function runs with, on Lambda (the stack sets them) and in the benchmark's P2. */
export function nodeOptionsOf(part: 'splitter' | 'writer' | 'alerter'): string {
  const block = settings[part];
  const semiSpace = 'maxSemiSpaceMb' in block ? [`--max-semi-space-size=${block.maxSemiSpaceMb}`] : [];
  return ['--enable-source-maps', ...semiSpace].join(' ');
}

export function visibilityTimeoutSeconds(consumerTimeoutSeconds: number): number {
  return consumerTimeoutSeconds * settings.queues.visibilityTimeoutFactor;
}

/** Metric names the functions emit (Powertools Metrics / EMF) and the dashboard graphs. */
export const MetricName = {
  UploadsProcessed: 'UploadsProcessed',
  UploadsFailed: 'UploadsFailed',
  RowsRead: 'RowsRead',
  RowsRejected: 'RowsRejected',
  MessagesSent: 'MessagesSent',
  RowsApplied: 'RowsApplied',
  RowsSkipped: 'RowsSkipped',
  AlertsPublished: 'AlertsPublished',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];
