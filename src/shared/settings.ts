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
    /**
     * Store-scoped uploads (a deployment's choice, `-c storeScopedUploads=true`; off by default): every key is
     * `uploads/<store>/<name>.csv`, the first segment below the prefix names the store, and the upload may hold rows
     * for that store only — its `store` column may then be left out. Uploaders get PutObject only below their own
     * store's segment: the IAM principal tag `storeTag` names it.
     */
    storeScoped: false,
    storeTag: 'store',
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
    /**
     * What one partition takes per second: 1,000 write units (DynamoDB's per-partition limit; a conditional
     * UpdateItem of an item under 1 KB is one, whether its condition passes or not). A store's items share a
     * partition key, so a one-store file writes to one partition — until DynamoDB splits it for heat.
     */
    partitionWriteUnitsPerSecond: 1_000,
    /**
     * A new on-demand table's warm throughput — what it takes at once, free: 4,000 writes/s (and 12,000 reads/s),
     * spread over about 4 partitions. DynamoDB refuses a configured warm throughput below it.
     */
    onDemandWarmWriteUnitsPerSecond: 4_000,
    /**
     * Defaults of the table's capacity context values (cdk/deployment.ts; what they cost: docs/deploy.md).
     * `warmWriteUnitsPerSecond` (-c tableWarmWriteUnits): pre-warm the table to take this many writes/s at once;
     * null leaves the table's own — 4,000 for a new table, already the writer's whole nominal rate (4 × 1,000/s);
     * raising it is billed, and a warm throughput can't be lowered again.
     * `maxWriteRequestUnitsPerSecond` (-c tableMaxWriteUnits): the table's on-demand maximum; DynamoDB throttles
     * writes beyond it. Twice the writer's nominal rate: the writer (the table's only writer) never reaches it unless
     * UpdateItem gets twice as fast, and a runaway can't spend more than 8,000 × $0.625 per million ≈ $18 an hour.
     */
    capacity: {
      warmWriteUnitsPerSecond: null,
      maxWriteRequestUnitsPerSecond: 8_000,
    },
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
    /**
     * Splitter invocations at once (the upload-events mapping's MaximumConcurrency, SQS's minimum). One splitter
     * packs rows far faster than the writers apply them (npm run bench, P1: hundreds of thousands a second against
     * the writers' ~4,000), so more would only fill the rows queue sooner; two keep small files moving while a big
     * one takes its time.
     */
    maxConcurrency: 2,
  },

  writer: {
    timeoutSeconds: 60,
    /**
     * An UpdateItem costs the writer ~0.58 ms of a vCPU (SDK marshalling, signing, HTTP; measured:
     * src/capacity/inputs.ts), so its ~1,000 writes/s take ~0.58 vCPU; Lambda gives a full vCPU at
     * 1,769 MB, so 1,024 MB (0.58 vCPU). At 512 MB it was CPU-bound at ~500 writes/s. The GB-s per
     * row stay the same: twice the memory for half the time.
     */
    memoryMb: 1024,
    batchSize: 10,
    maxBatchingWindowSeconds: 1,
    /**
     * UpdateItem calls in flight within one invocation, at most, across all messages of the batch.
     * One DynamoDB partition takes 1,000 write units a second; an UpdateItem of an item under 1 KB
     * costs one (a failed condition too) and takes ~8 ms in the region, so one write in flight
     * makes ~125 writes/s and 8 in flight ~1,000/s. A store's file puts all its rows on one
     * partition key, so one invocation can fill, but not overrun, the partition it writes to;
     * more in flight would only be throttled.
     */
    writeConcurrency: 8,
    /**
     * Throttling is back-pressure, never failure. The SDK retries a throttled write once (so an
     * isolated throttle costs nothing), then the writer takes over: each throttled write halves
     * the invocation's in-flight limit (additive increase brings it back, one per limit's worth of
     * successes) and is retried after a jittered backoff, for as long as the invocation's time
     * allows. Rows still not written when only `reserveMs` remain are re-sent to the rows queue as
     * a new message, delayed, and the received message succeeds: a throttled message is never
     * received again, so it can never reach the dead-letter queue — only a poison message, one that
     * fails for any other reason, uses up maxReceiveCount.
     */
    backPressure: {
      sdkMaxAttempts: 2,
      minWriteConcurrency: 1,
      /** Full-jitter exponential backoff between attempts of one throttled write. */
      retryBaseMs: 50,
      retryMaxMs: 5_000,
      /** Time kept back from the invocation's timeout to re-send deferred rows and return. */
      reserveMs: 10_000,
      /** A deferred batch's delay: base × 2^(times deferred), at most SQS's 15-minute maximum. */
      deferBaseSeconds: 30,
      deferMaxSeconds: 900,
    },
    /**
     * A message that failed (not throttling) is handed back for base × 2^(receives − 1) seconds
     * (ChangeMessageVisibility) instead of the queue's fixed visibility timeout: 30, 60, 120, 240 s,
     * so a transient fault clears quickly and a poison message reaches the dead-letter queue after
     * maxReceiveCount receives within ~8 minutes.
     */
    failedRetryBaseSeconds: 30,
  },

  alerter: {
    timeoutSeconds: 60,
    memoryMb: 256,
    batchSize: 100,
    maxBatchingWindowSeconds: 1,
    /** Stream retries before a batch goes to the alert dead-letter queue (bisecting on each error). */
    retryAttempts: 5,
    /** Batches one stream shard feeds at once (the mapping's ParallelizationFactor). */
    parallelizationFactor: 1,
    /** SNS PublishBatch takes at most 10 entries. */
    publishBatchSize: 10,
    /**
     * Attempts at an entry SNS reports failed (backoff doubling from 100 ms to 2 s: ~13 s in all,
     * well inside the alerter's timeout) before the alert is parked on the alerts dead-letter queue.
     */
    maxPublishAttempts: 10,
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

  nodeRuntime: {
    /**
     * V8's old generation (--max-old-space-size) as a share of the function's memory, for a function that sets
     * its young generation itself. Lambda's bootstrap sizes both (old: 90% of memory) only when NODE_OPTIONS sets
     * neither; 85% leaves room for the young generation and for the off-heap buffers of a streamed file.
     */
    oldSpaceShareOfMemory: 0.85,
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
    /** `true` or `false` (unset: uploads.storeScoped): whether the splitter reads uploads as store-scoped. */
    storeScopedUploads: 'STORE_SCOPED_UPLOADS',
  },
} as const;

/** NODE_OPTIONS a function runs with, on Lambda (the stack sets them) and in the benchmark's P2. */
export function nodeOptionsOf(part: 'splitter' | 'writer' | 'alerter'): string {
  const block = settings[part];
  const heap =
    'maxSemiSpaceMb' in block
      ? [`--max-semi-space-size=${block.maxSemiSpaceMb}`, `--max-old-space-size=${Math.floor(block.memoryMb * settings.nodeRuntime.oldSpaceShareOfMemory)}`]
      : [];
  return ['--enable-source-maps', ...heap].join(' ');
}

/** The inventory table's on-demand write capacity, as a deployment chooses it (cdk/deployment.ts). */
export interface TableCapacity {
  /** Pre-warm the table to take this many writes per second at once; undefined leaves the table's own. */
  warmWriteUnitsPerSecond?: number;
  /** The table's on-demand maximum: DynamoDB throttles writes beyond it. */
  maxWriteRequestUnitsPerSecond: number;
}

/** The capacity a deployment gets without `-c tableWarmWriteUnits` / `-c tableMaxWriteUnits`. */
export const defaultTableCapacity: TableCapacity = {
  ...(settings.table.capacity.warmWriteUnitsPerSecond === null ? {} : { warmWriteUnitsPerSecond: settings.table.capacity.warmWriteUnitsPerSecond }),
  maxWriteRequestUnitsPerSecond: settings.table.capacity.maxWriteRequestUnitsPerSecond,
};

export interface ConcurrencyBudget {
  /** The upload-events mapping's MaximumConcurrency. */
  splitter: number;
  /** The rows mapping's MaximumConcurrency. */
  writer: number;
  /** Stream shards × ParallelizationFactor: the alerters the stream runs at once. */
  alerter: number;
  /** All three together: the most functions of the pipeline running at once. */
  budget: number;
}

/**
 * The pipeline's concurrency budget, which follows the table's capacity — capacity for a big night is
 * configuration, and the functions keep in step with it:
 * - writer: one invocation per partition's worth of writes the table takes at once (its warm throughput —
 *   4,000/s for a new on-demand table — never above its maximum). Each keeps writeConcurrency UpdateItems in
 *   flight: 8 at ~8 ms ≈ 1,000 writes/s, one partition's limit. A new table: 4,000 / 1,000 = 4 writers.
 * - alerter: a stream mapping has no maximum concurrency; it runs one invocation per shard ×
 *   parallelizationFactor, and the stream has about one shard per partition of the warm throughput: 4.
 * - splitter: its fixed share. 2 + 4 + 4 = 10 for a new table.
 * Lambda's concurrency is shared by every function of the account and Region (1,000 by default, less on new
 * accounts): the SQS mappings' maximum concurrency keeps a burst of uploads from taking it all and starving the
 * writer and alerter, and a function throttled on an SQS message would burn one of that message's receives.
 * `-c reserveConcurrency=true` reserves each share (a guarantee as well as a ceiling, and it holds the alerter of
 * a table that grew more partitions to its share); Lambda then wants 100 of the account's concurrency left
 * unreserved, so it is off by default.
 */
export function concurrencyBudget(capacity: TableCapacity = defaultTableCapacity): ConcurrencyBudget {
  const { partitionWriteUnitsPerSecond, onDemandWarmWriteUnitsPerSecond } = settings.table;
  const warm = capacity.warmWriteUnitsPerSecond ?? onDemandWarmWriteUnitsPerSecond;
  const partitions = Math.ceil(warm / partitionWriteUnitsPerSecond);
  // SQS mappings take a maximum concurrency of 2 to 1,000.
  const writer = Math.min(1000, Math.max(2, Math.floor(Math.min(warm, capacity.maxWriteRequestUnitsPerSecond) / partitionWriteUnitsPerSecond)));
  const alerter = partitions * settings.alerter.parallelizationFactor;
  const splitter = settings.splitter.maxConcurrency;
  return { splitter, writer, alerter, budget: splitter + writer + alerter };
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
  /** Rows the writer could not apply within an invocation because of throttling, re-sent for later. */
  RowsDeferred: 'RowsDeferred',
  /** Alerts the alerter gave up publishing and parked, payload and all, on the alerts dead-letter queue. */
  AlertsParked: 'AlertsParked',
  AlertsPublished: 'AlertsPublished',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];
