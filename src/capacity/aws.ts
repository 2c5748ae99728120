/**
 * AWS list prices (US East, N. Virginia; on-demand, no free tier, first pricing tier) and the
 * documented limits the capacity model works with. Each figure names the page it comes from;
 * prices change, so check them there before relying on a plan.
 */

export const awsPrices = {
  lambda: {
    /** Arm (Graviton) duration, first 7.5 billion GB-s a month. https://aws.amazon.com/lambda/pricing/ */
    usdPerGbSecondArm: 0.0000133334,
    /** https://aws.amazon.com/lambda/pricing/ */
    usdPerMillionRequests: 0.2,
  },
  sqs: {
    /**
     * Standard queues, first 100 billion requests a month; every 64 KiB chunk of a request's payload
     * is billed as one request. https://aws.amazon.com/sqs/pricing/
     */
    usdPerMillionRequests: 0.4,
    billedChunkBytes: 64 * 1024,
  },
  dynamodb: {
    /**
     * On-demand write request unit (a standard write of an item up to 1 KB; a write whose condition
     * fails consumes it too). GetRecords calls a Lambda trigger makes on the table's stream are free.
     * https://aws.amazon.com/dynamodb/pricing/on-demand/
     */
    usdPerMillionWriteRequestUnits: 0.625,
  },
  s3: {
    /** S3 Standard requests. https://aws.amazon.com/s3/pricing/ */
    usdPerThousandPuts: 0.005,
    usdPerThousandGets: 0.0004,
  },
  sns: {
    /**
     * Standard topic publish requests; a PublishBatch of up to 10 messages is one request per 64 KB
     * of payload. Deliveries to SQS and Lambda subscribers are free, email is not ($2.00 per
     * 100,000). https://aws.amazon.com/sns/pricing/
     */
    usdPerMillionRequests: 0.5,
  },
  cloudWatch: {
    /** Logs ingested (standard log class). https://aws.amazon.com/cloudwatch/pricing/ */
    usdPerGbLogsIngested: 0.5,
  },
  xRay: {
    /** Traces recorded. https://aws.amazon.com/xray/pricing/ */
    usdPerMillionTraces: 5,
  },
} as const;

export const awsLimits = {
  lambda: {
    /** A function gets one vCPU's worth of CPU at 1,769 MB, in proportion below it. https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html */
    memoryMbPerVcpu: 1769,
    /** The most memory a function can have (and so up to 6 vCPUs). https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html */
    maxMemoryMb: 10_240,
    /** Concurrent executions per account and Region, by default. https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
    accountConcurrency: 1000,
    /** X-Ray's default sampling rule for Lambda: the first request each second, then 5% of the rest. https://docs.aws.amazon.com/xray/latest/devguide/xray-console-sampling.html */
    tracedPerSecond: 1,
    tracedShare: 0.05,
  },
  dynamodb: {
    /** One partition serves at most 1,000 write units a second. https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb */
    partitionWriteUnitsPerSecond: 1000,
    /** What a new on-demand table takes at once (its warm throughput). https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput.html */
    newTableWarmWriteUnitsPerSecond: 4000,
    /** An on-demand table grows to twice its previous peak within 30 minutes. (ibid.) */
    doublingSeconds: 30 * 60,
    /** Default table-level quota of an on-demand table (raised through Service Quotas). https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html */
    onDemandTableWriteUnitsPerSecond: 40_000,
    /** Items up to 1 KB cost one write unit; the pipeline's items are ~200 bytes. (pricing page above) */
    writeUnitsPerRow: 1,
  },
} as const;
