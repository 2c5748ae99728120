/**
 * The synthesized template carries every property the pipeline relies on, with the values of the
 * shared settings. One dev synthesis (bundled, with an alert email), one prod synthesis, and one prod
 * synthesis with every capacity, concurrency and upload context value set.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { concurrencyBudget, MetricName, nodeOptionsOf, resourceNames, settings, visibilityTimeoutSeconds } from '../../src/shared/settings';
import type { PipelinePart } from '../../cdk/constructs/pipeline-function';
import { synthesizePipeline, type SynthesizedPipeline } from './synth';
import {
  dashboardWidgets,
  identityPolicyStatements,
  logicalIdAt,
  resourceOf,
  resourcesOfType,
  roleStatements,
  type PolicyStatementJson,
} from './template';

const alertEmail = 'ops@example.com';
const parts: PipelinePart[] = ['splitter', 'writer', 'alerter'];
const constructOf = (part: PipelinePart) => part.charAt(0).toUpperCase() + part.slice(1);
const reportBatchItemFailures = ['ReportBatchItemFailures'];
const tlsOnly = { Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } };

/** -c values a big night's prod deployment might set. */
const bigNight = { warmWriteUnits: 20_000, maxWriteUnits: 30_000 };

let dev: SynthesizedPipeline;
let prod: SynthesizedPipeline;
let prodForBigNights: SynthesizedPipeline;
/** Logical ID of the dev resource at a construct path. */
let id: (path: string) => string;
/** Logical ID of the prod resource at a construct path. */
let prodId: (path: string) => string;

beforeAll(() => {
  dev = synthesizePipeline({ context: { alertEmail }, bundle: true });
  prod = synthesizePipeline({ context: { stage: 'prod' } });
  prodForBigNights = synthesizePipeline({
    context: {
      stage: 'prod',
      tableWarmWriteUnits: String(bigNight.warmWriteUnits),
      tableMaxWriteUnits: String(bigNight.maxWriteUnits),
      reserveConcurrency: 'true',
      storeScopedUploads: 'true',
    },
  });
  id = (path) => logicalIdAt(dev.stack, path);
  prodId = (path) => logicalIdAt(prod.stack, path);
});

afterAll(() => {
  dev?.dispose();
  prod?.dispose();
  prodForBigNights?.dispose();
});

const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

/** The properties of the one event source mapping that invokes the function at a construct path. */
function eventSourceMappingOf(pipeline: SynthesizedPipeline, functionPath: string): Record<string, any> {
  const functionRef = JSON.stringify({ Ref: logicalIdAt(pipeline.stack, functionPath) });
  const mappings = Object.values(resourcesOfType(pipeline.template, 'AWS::Lambda::EventSourceMapping')).filter(
    (mapping) => JSON.stringify(mapping.Properties!.FunctionName) === functionRef,
  );
  expect(mappings).toHaveLength(1);
  return mappings[0]!.Properties!;
}
const objectsArn = (bucketLogicalId: string, prefix: string) => ({ 'Fn::Join': ['', [arnOf(bucketLogicalId), `/${prefix}*`]] });

describe('uploads bucket', () => {
  test('blocks public access, encrypts, and expires uploads, rejects and reports', () => {
    const bucket = resourceOf(dev.template, id('Uploads/Bucket')).Properties!;
    expect(bucket).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
    const { prefix, rejectsPrefix, reportsPrefix, expireAfterDays } = settings.uploads;
    expect(bucket.LifecycleConfiguration).toEqual({
      Rules: expect.arrayContaining(
        [prefix, rejectsPrefix, reportsPrefix].map((Prefix) => expect.objectContaining({ Prefix, ExpirationInDays: expireAfterDays, Status: 'Enabled' })),
      ),
    });
  });

  test('prod logs every request to an access-log bucket of its own, which S3 log delivery of this bucket and account may write to', () => {
    expect(resourceOf(prod.template, prodId('Uploads/Bucket')).Properties).toMatchObject({
      LoggingConfiguration: { DestinationBucketName: { Ref: prodId('Uploads/AccessLogs') } },
    });
    prod.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: prodId('Uploads/AccessLogs') },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: {
              ArnLike: { 'aws:SourceArn': arnOf(prodId('Uploads/Bucket')) },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          }),
        ]),
      },
    });
  });

  test('the access log bucket is private and encrypted too, and keeps logs as long as the functions do', () => {
    expect(resourceOf(prod.template, prodId('Uploads/AccessLogs')).Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: settings.observability.logRetentionDays })] },
    });
  });

  test('dev logs no access: its buckets go with the stack, and a late log delivery would fail their deletion', () => {
    expect(resourceOf(dev.template, id('Uploads/Bucket')).Properties!.LoggingConfiguration).toBeUndefined();
    expect(Object.keys(resourcesOfType(dev.template, 'AWS::S3::Bucket'))).toEqual([id('Uploads/Bucket')]);
  });

  test('CloudFormation names the buckets (bucket names are global)', () => {
    for (const pipeline of [dev, prod]) {
      for (const bucket of Object.values(resourcesOfType(pipeline.template, 'AWS::S3::Bucket'))) expect(bucket.Properties!.BucketName).toBeUndefined();
    }
  });

  test('every bucket refuses requests without TLS', () => {
    for (const pipeline of [dev, prod]) {
      const buckets = Object.keys(resourcesOfType(pipeline.template, 'AWS::S3::Bucket'));
      expect(buckets.length).toBeGreaterThan(0);
      for (const bucket of buckets) {
        pipeline.template.hasResourceProperties('AWS::S3::BucketPolicy', {
          Bucket: { Ref: bucket },
          PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ ...tlsOnly, Action: 's3:*' })]) },
        });
      }
    }
  });

  test('every .csv and .csv.gz created under uploads/ is announced on the upload-events queue', () => {
    const [notifications, ...others] = Object.values(resourcesOfType(dev.template, 'Custom::S3BucketNotifications'));
    expect(others).toHaveLength(0);
    expect(notifications!.Properties!.BucketName).toEqual({ Ref: id('Uploads/Bucket') });
    const configurations = (notifications!.Properties!.NotificationConfiguration as { QueueConfigurations: Record<string, any>[] }).QueueConfigurations;
    expect(
      configurations.map((configuration) => ({
        events: configuration.Events,
        queue: configuration.QueueArn,
        filter: Object.fromEntries((configuration.Filter.Key.FilterRules as { Name: string; Value: string }[]).map((rule) => [rule.Name, rule.Value])),
      })),
    ).toEqual(
      settings.uploads.suffixes.map((suffix) => ({
        events: ['s3:ObjectCreated:*'],
        queue: arnOf(id('UploadEvents/Queue')),
        filter: { prefix: settings.uploads.prefix, suffix },
      })),
    );
  });

  test('only S3, for this bucket of this account, may send to the upload-events queue — and only send', () => {
    const [policy, ...others] = Object.values(resourcesOfType(dev.template, 'AWS::SQS::QueuePolicy')).filter(
      (candidate) => JSON.stringify(candidate.Properties!.Queues) === JSON.stringify([{ Ref: id('UploadEvents/Queue') }]),
    );
    expect(others).toHaveLength(0);
    const allowed = (policy!.Properties!.PolicyDocument as { Statement: PolicyStatementJson[] }).Statement.filter((statement) => statement.Effect === 'Allow');
    expect(allowed).toEqual([
      expect.objectContaining({
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: arnOf(id('UploadEvents/Queue')),
        Condition: {
          ArnLike: { 'aws:SourceArn': arnOf(id('Uploads/Bucket')) },
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        },
      }),
    ]);
  });

  test('the notifications are configured only once the queue policy lets S3 send (S3 checks it then)', () => {
    const [notifications] = Object.keys(resourcesOfType(dev.template, 'Custom::S3BucketNotifications'));
    const queuePolicy = logicalIdAt(dev.stack, 'UploadEvents/Queue/Policy');
    expect(resourceOf(dev.template, notifications!).DependsOn).toEqual(expect.arrayContaining([queuePolicy]));
  });
});

describe('queues', () => {
  const names = resourceNames('dev');
  const sourceQueues = [
    { path: 'UploadEvents', name: names.uploadQueue, deadLetterName: names.uploadDeadLetterQueue, consumer: 'splitter' as const },
    { path: 'Rows', name: names.workQueue, deadLetterName: names.deadLetterQueue, consumer: 'writer' as const },
  ];

  test.each(sourceQueues)('$name: visibility timeout, message size, retention, encryption and redrive from the settings', ({ path, name, consumer }) => {
    expect(resourceOf(dev.template, id(`${path}/Queue`)).Properties).toEqual({
      QueueName: name,
      VisibilityTimeout: visibilityTimeoutSeconds(settings[consumer].timeoutSeconds),
      MaximumMessageSize: settings.queues.maximumMessageSizeBytes,
      MessageRetentionPeriod: settings.queues.retentionSeconds,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: arnOf(id(`${path}/DeadLetters`)), maxReceiveCount: settings.queues.maxReceiveCount },
      Tags: expect.any(Array),
    });
  });

  test.each(sourceQueues)('$name: a message stays invisible for at least six runs of its consumer', ({ path, consumer }) => {
    const consumerTimeout = resourceOf(dev.template, id(constructOf(consumer))).Properties!.Timeout as number;
    const visibilityTimeout = resourceOf(dev.template, id(`${path}/Queue`)).Properties!.VisibilityTimeout as number;
    expect(visibilityTimeout).toBeGreaterThanOrEqual(6 * consumerTimeout);
  });

  test.each([
    { path: 'UploadEvents/DeadLetters', name: names.uploadDeadLetterQueue },
    { path: 'Rows/DeadLetters', name: names.deadLetterQueue },
    { path: 'AlertDeadLetters', name: names.alertDeadLetterQueue },
  ])('dead-letter queue $name keeps messages 14 days, encrypted', ({ path, name }) => {
    expect(settings.queues.deadLetterRetentionSeconds).toBe(Duration.days(14).toSeconds());
    expect(resourceOf(dev.template, id(path)).Properties).toEqual({
      QueueName: name,
      MessageRetentionPeriod: settings.queues.deadLetterRetentionSeconds,
      SqsManagedSseEnabled: true,
      Tags: expect.any(Array),
    });
  });

  test('every queue refuses requests without TLS', () => {
    const queues = Object.keys(resourcesOfType(dev.template, 'AWS::SQS::Queue'));
    expect(queues).toHaveLength(5);
    for (const queue of queues) {
      dev.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ ...tlsOnly, Action: 'sqs:*' })]) },
      });
    }
  });
});

describe('inventory table', () => {
  test('store/product keys, on-demand, point-in-time recovery, a stream with both images, encrypted', () => {
    const { partitionKey, sortKey } = settings.table;
    expect(resourceOf(dev.template, id('Inventory')).Properties).toMatchObject({
      TableName: resourceNames('dev').table,
      KeySchema: [
        { AttributeName: partitionKey, KeyType: 'HASH' },
        { AttributeName: sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: partitionKey, AttributeType: 'S' },
        { AttributeName: sortKey, AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      SSESpecification: { SSEEnabled: true },
    });
  });

  test('by default: capped at the settings’ maximum write units, and not pre-warmed (a new table’s own throughput is free)', () => {
    const table = resourceOf(dev.template, id('Inventory')).Properties!;
    expect(table.OnDemandThroughput).toEqual({ MaxWriteRequestUnits: settings.table.capacity.maxWriteRequestUnitsPerSecond });
    expect(table.WarmThroughput).toBeUndefined();
  });

  test('-c tableWarmWriteUnits and -c tableMaxWriteUnits pre-warm and cap the table', () => {
    expect(resourceOf(prodForBigNights.template, logicalIdAt(prodForBigNights.stack, 'Inventory')).Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      OnDemandThroughput: { MaxWriteRequestUnits: bigNight.maxWriteUnits },
      WarmThroughput: { WriteUnitsPerSecond: bigNight.warmWriteUnits },
    });
  });

  test('the writers at full concurrency fit what a new table takes at once, and stay under the cap', () => {
    const mapping = eventSourceMappingOf(dev, 'Writer');
    const writerPeak = (mapping.ScalingConfig as { MaximumConcurrency: number }).MaximumConcurrency * settings.table.partitionWriteUnitsPerSecond;
    expect(writerPeak).toBeLessThanOrEqual(settings.table.onDemandWarmWriteUnitsPerSecond);
    expect(writerPeak).toBeLessThan((resourceOf(dev.template, id('Inventory')).Properties!.OnDemandThroughput as { MaxWriteRequestUnits: number }).MaxWriteRequestUnits);
  });
});

describe('functions', () => {
  const environmentOf: Record<PipelinePart, () => Record<string, unknown>> = {
    // Uploads are not store-scoped unless the deployment says so.
    splitter: () => ({ [settings.env.workQueueUrl]: { Ref: id('Rows/Queue') }, [settings.env.storeScopedUploads]: 'false' }),
    // The writer re-sends the rows it deferred (throttling) to the rows queue.
    writer: () => ({
      [settings.env.tableName]: { Ref: id('Inventory') },
      [settings.env.defaultThreshold]: String(settings.inventory.defaultThreshold),
      [settings.env.workQueueUrl]: { Ref: id('Rows/Queue') },
    }),
    // The alerter parks the alerts it could not publish on the alerts dead-letter queue.
    alerter: () => ({
      [settings.env.topicArn]: { Ref: id('Alerts') },
      [settings.env.defaultThreshold]: String(settings.inventory.defaultThreshold),
      [settings.env.alertDeadLetterQueueUrl]: { Ref: id('AlertDeadLetters') },
    }),
  };

  test.each(parts)('%s: Node.js 22 on ARM64, memory and timeout from the settings, traced, with its own log group', (part) => {
    const fn = resourceOf(dev.template, id(constructOf(part))).Properties!;
    expect(fn).toMatchObject({
      Architectures: ['arm64'],
      MemorySize: settings[part].memoryMb,
      Timeout: settings[part].timeoutSeconds,
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
      LoggingConfig: { LogGroup: { Ref: id(`${constructOf(part)}Logs`) } },
      Role: arnOf(id(`${constructOf(part)}Role`)),
    });
    expect(fn.Runtime).toBe('nodejs22.x');
    expect(resourceOf(dev.template, id(`${constructOf(part)}Logs`)).Properties).toMatchObject({ RetentionInDays: settings.observability.logRetentionDays });
  });

  test('the splitter may run up to Lambda’s 15 minutes', () => {
    expect(settings.splitter.timeoutSeconds).toBeLessThanOrEqual(Duration.minutes(15).toSeconds());
  });

  test.each(parts)('%s: its environment names its resources and configures Powertools, source maps and its V8 heap', (part) => {
    expect(resourceOf(dev.template, id(constructOf(part))).Properties!.Environment).toEqual({
      Variables: {
        ...environmentOf[part](),
        POWERTOOLS_SERVICE_NAME: settings.observability.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: settings.observability.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: expect.any(String),
        NODE_OPTIONS: nodeOptionsOf(part),
      },
    });
  });

  test('the splitter caps its young generation (a flat footprint whatever the file size) and so sizes its old one too; the others leave both to Lambda', () => {
    const options = (part: (typeof parts)[number]) => (resourceOf(dev.template, id(constructOf(part))).Properties!.Environment as { Variables: Record<string, string> }).Variables.NODE_OPTIONS!;
    // Lambda's bootstrap sizes V8's heap itself only when NODE_OPTIONS sets neither generation (the share: settings.test.ts).
    expect(options('splitter')).toMatch(new RegExp(`^--enable-source-maps --max-semi-space-size=${settings.splitter.maxSemiSpaceMb} --max-old-space-size=\\d+$`));
    expect(options('writer')).toBe('--enable-source-maps');
    expect(options('alerter')).toBe('--enable-source-maps');
  });

  test.each(parts)('%s: bundled locally by esbuild with a source map', (part) => {
    const metadata = resourceOf(dev.template, id(constructOf(part))).Metadata!;
    expect(metadata['aws:asset:is-bundled']).toBe(true);
    const bundle = join(dev.outdir, metadata['aws:asset:path'] as string);
    expect(readFileSync(join(bundle, 'index.js'), 'utf8')).toMatch(/\/\/# sourceMappingURL=index\.js\.map\s*$/);
    expect(existsSync(join(bundle, 'index.js.map'))).toBe(true);
  });
});

describe('event source mappings', () => {
  test('splitter: one upload event at a time, maximum concurrency from the settings, partial batch responses', () => {
    dev.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id('Splitter') },
      EventSourceArn: arnOf(id('UploadEvents/Queue')),
      BatchSize: settings.splitter.batchSize,
      ScalingConfig: { MaximumConcurrency: concurrencyBudget().splitter },
      FunctionResponseTypes: reportBatchItemFailures,
    });
  });

  test('writer: batch size, batching window and maximum concurrency from the settings, partial batch responses', () => {
    dev.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id('Writer') },
      EventSourceArn: arnOf(id('Rows/Queue')),
      BatchSize: settings.writer.batchSize,
      MaximumBatchingWindowInSeconds: settings.writer.maxBatchingWindowSeconds,
      ScalingConfig: { MaximumConcurrency: concurrencyBudget().writer },
      FunctionResponseTypes: reportBatchItemFailures,
    });
  });

  test('alerter: the table stream from its start, bisecting and retrying failed batches, then dead-lettering them', () => {
    dev.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: id('Alerter') },
      EventSourceArn: { 'Fn::GetAtt': [id('Inventory'), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: settings.alerter.batchSize,
      MaximumBatchingWindowInSeconds: settings.alerter.maxBatchingWindowSeconds,
      BisectBatchOnFunctionError: true,
      MaximumRetryAttempts: settings.alerter.retryAttempts,
      ParallelizationFactor: settings.alerter.parallelizationFactor,
      DestinationConfig: { OnFailure: { Destination: arnOf(id('AlertDeadLetters')) } },
      FunctionResponseTypes: reportBatchItemFailures,
    });
  });

  test('there are exactly these three', () => {
    dev.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 3);
  });

  test('every mapping that reads a queue has a maximum concurrency', () => {
    const queues = Object.keys(resourcesOfType(dev.template, 'AWS::SQS::Queue'));
    const queueMappings = Object.values(resourcesOfType(dev.template, 'AWS::Lambda::EventSourceMapping')).filter((mapping) =>
      queues.some((queue) => JSON.stringify(mapping.Properties!.EventSourceArn) === JSON.stringify(arnOf(queue))),
    );
    expect(queueMappings).toHaveLength(2);
    for (const mapping of queueMappings) expect(mapping.Properties!.ScalingConfig).toEqual({ MaximumConcurrency: expect.any(Number) });
  });
});

describe('concurrency budget', () => {
  const bigNightCapacity = { warmWriteUnitsPerSecond: bigNight.warmWriteUnits, maxWriteRequestUnitsPerSecond: bigNight.maxWriteUnits };

  /**
   * The most invocations of each function the template lets run at once. An SQS mapping runs at most its
   * MaximumConcurrency; a stream mapping one per shard and ParallelizationFactor, and a DynamoDB stream has
   * about one shard per table partition (one per 1,000 write units of the table's warm throughput). Reserved
   * concurrency caps either.
   */
  function mostAtOnce(pipeline: SynthesizedPipeline): Record<PipelinePart, number> {
    const reserved = (part: PipelinePart) =>
      (resourceOf(pipeline.template, logicalIdAt(pipeline.stack, constructOf(part))).Properties!.ReservedConcurrentExecutions as number | undefined) ?? Infinity;
    const fromQueue = (part: PipelinePart) =>
      Math.min(eventSourceMappingOf(pipeline, constructOf(part)).ScalingConfig?.MaximumConcurrency ?? Infinity, reserved(part));
    const table = resourceOf(pipeline.template, logicalIdAt(pipeline.stack, 'Inventory')).Properties!;
    const warmWrites = (table.WarmThroughput as { WriteUnitsPerSecond?: number } | undefined)?.WriteUnitsPerSecond ?? settings.table.onDemandWarmWriteUnitsPerSecond;
    const shards = Math.ceil(warmWrites / settings.table.partitionWriteUnitsPerSecond);
    const fromStream = Math.min((eventSourceMappingOf(pipeline, 'Alerter').ParallelizationFactor ?? 1) * shards, reserved('alerter'));
    return { splitter: fromQueue('splitter'), writer: fromQueue('writer'), alerter: fromStream };
  }
  const total = (atOnce: Record<PipelinePart, number>) => parts.reduce((sum, part) => sum + atOnce[part], 0);

  test('the budget is the sum of the shares, and follows the table: a writer per partition of what it takes at once, an alerter per shard', () => {
    expect(concurrencyBudget()).toEqual({ splitter: 2, writer: 4, alerter: 4, budget: 10 });
    expect(concurrencyBudget(bigNightCapacity)).toEqual({ splitter: 2, writer: 20, alerter: 20, budget: 42 });
    // A cap below the warm throughput holds the writers to it (never below SQS's minimum of 2).
    expect(concurrencyBudget({ maxWriteRequestUnitsPerSecond: 3_000 })).toMatchObject({ writer: 3, alerter: 4 });
    expect(concurrencyBudget({ maxWriteRequestUnitsPerSecond: 500 })).toMatchObject({ writer: 2 });
  });

  test.each(['dev', 'prod'])('%s: splitter, writer and alerter together never run more than the budget, and nothing is reserved', (stage) => {
    const pipeline = stage === 'dev' ? dev : prod;
    const { budget, ...shares } = concurrencyBudget();
    const atOnce = mostAtOnce(pipeline);
    expect(atOnce).toEqual(shares);
    expect(total(atOnce)).toBeLessThanOrEqual(budget);
    for (const part of parts) {
      expect(resourceOf(pipeline.template, logicalIdAt(pipeline.stack, constructOf(part))).Properties!.ReservedConcurrentExecutions).toBeUndefined();
    }
  });

  test('a table sized for a big night runs more writers (and its stream more alerters), within its own budget', () => {
    const { budget, ...shares } = concurrencyBudget(bigNightCapacity);
    const preWarmed = synthesizePipeline({ context: { tableWarmWriteUnits: String(bigNight.warmWriteUnits), tableMaxWriteUnits: String(bigNight.maxWriteUnits) } });
    try {
      expect(mostAtOnce(preWarmed)).toEqual(shares);
      expect(total(mostAtOnce(preWarmed))).toBeLessThanOrEqual(budget);
    } finally {
      preWarmed.dispose();
    }
  });

  test('-c reserveConcurrency=true reserves each function’s share, a guarantee as well as a ceiling', () => {
    const { budget, ...shares } = concurrencyBudget(bigNightCapacity);
    const reservedOf = (part: PipelinePart) =>
      resourceOf(prodForBigNights.template, logicalIdAt(prodForBigNights.stack, constructOf(part))).Properties!.ReservedConcurrentExecutions;
    expect(Object.fromEntries(parts.map((part) => [part, reservedOf(part)]))).toEqual(shares);
    expect(total(mostAtOnce(prodForBigNights))).toBeLessThanOrEqual(budget);
    // Lambda throttles an SQS mapping that invokes beyond the reservation, and each throttle burns a receive.
    for (const part of ['splitter', 'writer'] as const) {
      expect(eventSourceMappingOf(prodForBigNights, constructOf(part)).ScalingConfig.MaximumConcurrency).toBeLessThanOrEqual(reservedOf(part) as number);
    }
  });
});

describe('topics', () => {
  test('alerts: named from the settings, encrypted with the AWS-managed SNS key, TLS only', () => {
    expect(resourceOf(dev.template, id('Alerts')).Properties).toMatchObject({
      TopicName: resourceNames('dev').topic,
      KmsMasterKeyId: { 'Fn::Join': ['', expect.arrayContaining([':alias/aws/sns'])] },
    });
    dev.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: id('Alerts') }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ ...tlsOnly, Action: 'sns:Publish' })]) },
    });
  });

  test('operations: encrypted with a rotating key CloudWatch alarms may use, TLS only, publishable by our alarms', () => {
    expect(resourceOf(dev.template, id('Operations/Topic')).Properties).toMatchObject({ KmsMasterKeyId: arnOf(id('Operations/Key')) });
    expect(resourceOf(dev.template, id('Operations/Key')).Properties).toMatchObject({
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: expect.arrayContaining([
          expect.objectContaining({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey'] }),
        ]),
      },
    });
    dev.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: id('Operations/Topic') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ ...tlsOnly, Action: 'sns:Publish' }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: Match.objectLike({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
          }),
        ]),
      },
    });
  });

  test('-c alertEmail subscribes the address to both topics', () => {
    const subscriptions = Object.values(resourcesOfType(dev.template, 'AWS::SNS::Subscription')).map((subscription) => subscription.Properties);
    expect(subscriptions).toEqual(
      expect.arrayContaining([
        { Protocol: 'email', Endpoint: alertEmail, TopicArn: { Ref: id('Alerts') } },
        { Protocol: 'email', Endpoint: alertEmail, TopicArn: { Ref: id('Operations/Topic') } },
      ]),
    );
    expect(subscriptions).toHaveLength(2);
  });

  test('without -c alertEmail nobody is subscribed', () => {
    prod.template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('least privilege', () => {
  test('no identity policy allows a wildcard action (the store uploaders’ managed policy included)', () => {
    for (const pipeline of [dev, prodForBigNights]) {
      const actions = identityPolicyStatements(pipeline.template).flatMap((statement) => statement.Action);
      expect(actions.length).toBeGreaterThan(0);
      expect(actions.filter((action) => action.includes('*'))).toEqual([]);
    }
  });

  test('the functions run as roles of their own, without AWS-managed policies', () => {
    for (const part of parts) expect(resourceOf(dev.template, id(`${constructOf(part)}Role`)).Properties!.ManagedPolicyArns).toBeUndefined();
  });

  const allowed = (part: PipelinePart, service: string) =>
    roleStatements(dev.template, id(`${constructOf(part)}Role`))
      .filter((statement) => statement.Effect === 'Allow')
      .flatMap((statement: PolicyStatementJson) =>
        statement.Action.filter((action) => action.startsWith(`${service}:`)).flatMap((action) => statement.Resource.map((resource) => ({ action, resource }))),
      );

  test('splitter: reads uploads/* (by version too), writes rejects/* and reports/*, sends to the rows queue — nothing else in S3', () => {
    const bucket = id('Uploads/Bucket');
    const { prefix, rejectsPrefix, reportsPrefix } = settings.uploads;
    expect(allowed('splitter', 's3')).toEqual(
      expect.arrayContaining([
        { action: 's3:GetObject', resource: objectsArn(bucket, prefix) },
        // It reads by VersionId when the event has one (a versioned bucket).
        { action: 's3:GetObjectVersion', resource: objectsArn(bucket, prefix) },
        // So that a GetObject of a since-deleted upload answers 404, which the splitter skips.
        { action: 's3:ListBucket', resource: arnOf(bucket) },
        ...[rejectsPrefix, reportsPrefix].flatMap((results) =>
          ['s3:PutObject', 's3:AbortMultipartUpload'].map((action) => ({ action, resource: objectsArn(bucket, results) })),
        ),
      ]),
    );
    expect(allowed('splitter', 's3')).toHaveLength(7);
    // On the rows queue, SendMessage alone (the calls --from-template showed the splitter makes).
    expect(allowed('splitter', 'sqs').filter(({ resource }) => JSON.stringify(resource) === JSON.stringify(arnOf(id('Rows/Queue'))))).toEqual([
      { action: 'sqs:SendMessage', resource: arnOf(id('Rows/Queue')) },
    ]);
    expect(allowed('splitter', 'dynamodb')).toEqual([]);
    expect(allowed('splitter', 'sns')).toEqual([]);
  });

  test('writer: UpdateItem on the table, nothing else in DynamoDB; re-sends and hands back messages of the rows queue, no other queue', () => {
    expect(allowed('writer', 'dynamodb')).toEqual([{ action: 'dynamodb:UpdateItem', resource: arnOf(id('Inventory')) }]);
    const rowsQueue = arnOf(id('Rows/Queue'));
    expect(allowed('writer', 'sqs')).toEqual(
      expect.arrayContaining(['sqs:SendMessage', 'sqs:ChangeMessageVisibility'].map((action) => ({ action, resource: rowsQueue }))),
    );
    expect(allowed('writer', 'sqs').filter(({ resource }) => JSON.stringify(resource) !== JSON.stringify(rowsQueue))).toEqual([]);
    expect(allowed('writer', 's3')).toEqual([]);
    expect(allowed('writer', 'sns')).toEqual([]);
  });

  test('alerter: publishes to the alerts topic and reads the stream, nothing else', () => {
    expect(allowed('alerter', 'sns')).toEqual([{ action: 'sns:Publish', resource: { Ref: id('Alerts') } }]);
    const stream = { 'Fn::GetAtt': [id('Inventory'), 'StreamArn'] };
    expect(allowed('alerter', 'dynamodb')).toEqual(
      expect.arrayContaining(['dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:DescribeStream'].map((action) => ({ action, resource: stream }))),
    );
    expect(allowed('alerter', 'dynamodb').filter(({ resource }) => JSON.stringify(resource) === JSON.stringify(arnOf(id('Inventory'))))).toEqual([]);
    expect(allowed('alerter', 's3')).toEqual([]);
  });

  test('alerter: parks the alerts it could not publish on the alerts dead-letter queue, and may send to no other queue', () => {
    const alertDeadLetters = arnOf(id('AlertDeadLetters'));
    expect(allowed('alerter', 'sqs')).toEqual(expect.arrayContaining([{ action: 'sqs:SendMessage', resource: alertDeadLetters }]));
    expect(allowed('alerter', 'sqs').filter(({ resource }) => JSON.stringify(resource) !== JSON.stringify(alertDeadLetters))).toEqual([]);
  });
});

describe('monitoring', () => {
  const metricsOf = () => dashboardWidgets(dev.template).flatMap((widget) => widget.properties.metrics ?? []);
  const graphs = (namespace: string, metricName: string, dimension: string, value: string) =>
    metricsOf().some((metric) => metric[0] === namespace && metric[1] === metricName && metric[2] === dimension && metric[3] === value);

  test.each(Object.values(MetricName))('the dashboard graphs %s in the pipeline namespace, by service', (metricName) => {
    expect(graphs(settings.observability.metricsNamespace, metricName, 'service', settings.observability.serviceName)).toBe(true);
  });

  test('the dashboard graphs queue depth and age of both source queues and the depth of every dead-letter queue', () => {
    for (const queue of ['UploadEvents/Queue', 'Rows/Queue']) {
      expect(graphs('AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', `GetAtt:${id(queue)}.QueueName`)).toBe(true);
      expect(graphs('AWS/SQS', 'ApproximateAgeOfOldestMessage', 'QueueName', `GetAtt:${id(queue)}.QueueName`)).toBe(true);
    }
    for (const queue of ['UploadEvents/DeadLetters', 'Rows/DeadLetters', 'AlertDeadLetters']) {
      expect(graphs('AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', `GetAtt:${id(queue)}.QueueName`)).toBe(true);
    }
  });

  test('the dashboard graphs errors, throttles and duration of every function, table throttles and alerts published', () => {
    for (const part of parts) {
      for (const metricName of ['Errors', 'Throttles', 'Duration']) {
        expect(graphs('AWS/Lambda', metricName, 'FunctionName', `Ref:${id(constructOf(part))}`)).toBe(true);
      }
    }
    expect(JSON.stringify(metricsOf())).toContain('ThrottledRequests');
    expect(graphs('AWS/SNS', 'NumberOfMessagesPublished', 'TopicName', `GetAtt:${id('Alerts')}.TopicName`)).toBe(true);
  });

  const alarmsOn = (metricName: string, dimension: { Name: string; Value: unknown }) =>
    Object.values(resourcesOfType(dev.template, 'AWS::CloudWatch::Alarm'))
      .map((alarm) => alarm.Properties!)
      .filter((alarm) => alarm.MetricName === metricName && JSON.stringify(alarm.Dimensions) === JSON.stringify([dimension]));

  test.each([
    { queue: 'UploadEvents/DeadLetters', redrive: 'upload-events' },
    { queue: 'Rows/DeadLetters', redrive: 'rows' },
    { queue: 'AlertDeadLetters', redrive: 'alerts' },
  ])('an alarm pages operations when $queue holds a message, and says how to redrive it', ({ queue, redrive }) => {
    expect(alarmsOn('ApproximateNumberOfMessagesVisible', { Name: 'QueueName', Value: { 'Fn::GetAtt': [id(queue), 'QueueName'] } })).toEqual([
      expect.objectContaining({
        Namespace: 'AWS/SQS',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        AlarmDescription: expect.stringContaining(`npx inventory redrive --stage dev --queue ${redrive}`),
      }),
    ]);
  });

  test('the alerts dead-letter alarm tells parked alerts (republished with their alertId) from stream pointers (gone after 24 hours)', () => {
    const [alarm] = alarmsOn('ApproximateNumberOfMessagesVisible', { Name: 'QueueName', Value: { 'Fn::GetAtt': [id('AlertDeadLetters'), 'QueueName'] } });
    const description = alarm!.AlarmDescription as string;
    expect(description).toMatch(/full payload/);
    expect(description).toMatch(/original alertId/);
    expect(description).toMatch(/shard and sequence numbers/);
    expect(description).toMatch(/24-hour retention/);
    // CloudWatch's limit for an alarm description.
    expect(description.length).toBeLessThanOrEqual(1024);
  });

  test.each([
    { queue: 'UploadEvents/Queue', consumer: 'splitter' as const },
    { queue: 'Rows/Queue', consumer: 'writer' as const },
  ])('an alarm pages operations when the oldest message on $queue outlives a visibility timeout', ({ queue, consumer }) => {
    expect(alarmsOn('ApproximateAgeOfOldestMessage', { Name: 'QueueName', Value: { 'Fn::GetAtt': [id(queue), 'QueueName'] } })).toEqual([
      expect.objectContaining({ Threshold: visibilityTimeoutSeconds(settings[consumer].timeoutSeconds), ComparisonOperator: 'GreaterThanThreshold' }),
    ]);
  });

  test.each(parts)('an alarm pages operations when the %s fails', (part) => {
    expect(alarmsOn('Errors', { Name: 'FunctionName', Value: { Ref: id(constructOf(part)) } })).toEqual([
      expect.objectContaining({ Namespace: 'AWS/Lambda', Threshold: 0, ComparisonOperator: 'GreaterThanThreshold' }),
    ]);
  });

  test('every alarm notifies the operations topic, and no alarm the alerts topic', () => {
    const alarms = Object.values(resourcesOfType(dev.template, 'AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(3 + 2 + parts.length);
    for (const alarm of alarms) {
      expect(alarm.Properties!.AlarmActions).toEqual([{ Ref: id('Operations/Topic') }]);
    }
  });

  test('the stack outputs what an operator needs', () => {
    const outputs = dev.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs).toMatchObject({
      UploadsBucketName: { Value: { Ref: id('Uploads/Bucket') } },
      InventoryTableName: { Value: { Ref: id('Inventory') } },
      AlertsTopicArn: { Value: { Ref: id('Alerts') } },
      OperationsTopicArn: { Value: { Ref: id('Operations/Topic') } },
      UploadEventsQueueUrl: { Value: { Ref: id('UploadEvents/Queue') } },
      RowsQueueUrl: { Value: { Ref: id('Rows/Queue') } },
      UploadEventsDeadLetterQueueUrl: { Value: { Ref: id('UploadEvents/DeadLetters') } },
      RowsDeadLetterQueueUrl: { Value: { Ref: id('Rows/DeadLetters') } },
      AlertsDeadLetterQueueUrl: { Value: { Ref: id('AlertDeadLetters') } },
    });
    expect(JSON.stringify(outputs.DashboardUrl!.Value)).toContain(id('Monitoring/Dashboard'));
  });
});

describe('store-scoped uploads', () => {
  const managedPolicies = (pipeline: SynthesizedPipeline) => Object.entries(resourcesOfType(pipeline.template, 'AWS::IAM::ManagedPolicy'));
  const outputsOf = (pipeline: SynthesizedPipeline) => pipeline.template.toJSON().Outputs as Record<string, { Value: unknown }>;
  const splitterEnvironment = (pipeline: SynthesizedPipeline) =>
    (resourceOf(pipeline.template, logicalIdAt(pipeline.stack, 'Splitter')).Properties!.Environment as { Variables: Record<string, unknown> }).Variables;

  test('off by default: no uploader policy and no output for one; the splitter reads every upload as before', () => {
    for (const pipeline of [dev, prod]) {
      expect(managedPolicies(pipeline)).toEqual([]);
      expect(outputsOf(pipeline).StoreUploaderPolicyArn).toBeUndefined();
      expect(splitterEnvironment(pipeline)[settings.env.storeScopedUploads]).toBe('false');
    }
  });

  test('-c storeScopedUploads=true: the splitter is told, and one managed policy lets an uploader put objects only below uploads/<its store tag>/', () => {
    expect(splitterEnvironment(prodForBigNights)[settings.env.storeScopedUploads]).toBe('true');
    const policies = managedPolicies(prodForBigNights);
    expect(policies).toHaveLength(1);
    const [policyId, policy] = policies[0]!;
    const bucket = logicalIdAt(prodForBigNights.stack, 'Uploads/Bucket');
    expect(policy.Properties!.PolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'UploadForOwnStoreOnly',
          Effect: 'Allow',
          Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
          // A policy variable IAM resolves per request: not Fn::Sub, which would take it for a parameter.
          Resource: objectsArn(bucket, `${settings.uploads.prefix}\${aws:PrincipalTag/${settings.uploads.storeTag}}/`),
        },
      ],
    });
    // Attached to nobody by the stack: an operator attaches it to each store's tagged uploader.
    expect(policy.Properties!.Roles ?? policy.Properties!.Users ?? policy.Properties!.Groups).toBeUndefined();
    expect(outputsOf(prodForBigNights).StoreUploaderPolicyArn).toMatchObject({ Value: { Ref: policyId } });
  });
});

describe('clean-up by stage', () => {
  test('dev: `cdk destroy` empties and deletes the bucket, deletes the table and the log groups', () => {
    expect(resourceOf(dev.template, id('Uploads/Bucket')).DeletionPolicy).toBe('Delete');
    dev.template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    const table = resourceOf(dev.template, id('Inventory'));
    expect(table.DeletionPolicy).toBe('Delete');
    expect(table.Properties!.DeletionProtectionEnabled).toBeFalsy();
    for (const logGroup of Object.values(resourcesOfType(dev.template, 'AWS::Logs::LogGroup'))) expect(logGroup.DeletionPolicy).toBe('Delete');
  });

  test('prod: the buckets, their policies and the table are retained, and the table refuses deletion', () => {
    for (const bucket of ['Uploads/Bucket', 'Uploads/AccessLogs']) expect(resourceOf(prod.template, prodId(bucket)).DeletionPolicy).toBe('Retain');
    // Without their policies the retained buckets would take plain HTTP, and S3 could no longer deliver access logs.
    const policies = Object.values(resourcesOfType(prod.template, 'AWS::S3::BucketPolicy'));
    expect(policies.map((policy) => policy.Properties!.Bucket)).toEqual(
      expect.arrayContaining([{ Ref: prodId('Uploads/Bucket') }, { Ref: prodId('Uploads/AccessLogs') }]),
    );
    for (const policy of policies) expect([policy.DeletionPolicy, policy.UpdateReplacePolicy]).toEqual(['Retain', 'Retain']);
    prod.template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    const table = resourceOf(prod.template, prodId('Inventory'));
    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.Properties!.DeletionProtectionEnabled).toBe(true);
    for (const logGroup of Object.values(resourcesOfType(prod.template, 'AWS::Logs::LogGroup'))) expect(logGroup.DeletionPolicy).toBe('Retain');
  });

  test.each(['dev', 'prod'])('%s: every function, aws-cdk-lib’s custom-resource handlers included, logs to a log group of the stack with the settings’ retention', (stage) => {
    const pipeline = stage === 'dev' ? dev : prod;
    const functions = Object.values(resourcesOfType(pipeline.template, 'AWS::Lambda::Function'));
    // The three of the pipeline, the bucket-notifications handler, and in dev the auto-delete-objects provider.
    expect(functions).toHaveLength(stage === 'dev' ? 5 : 4);
    for (const fn of functions) {
      const logGroup = (fn.Properties!.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined)?.LogGroup?.Ref;
      expect(logGroup).toEqual(expect.any(String));
      expect(resourceOf(pipeline.template, logGroup!)).toMatchObject({
        Type: 'AWS::Logs::LogGroup',
        Properties: { RetentionInDays: settings.observability.logRetentionDays },
      });
    }
  });

  test('prod resources carry the prod names', () => {
    const names = resourceNames('prod');
    prod.template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: names.table });
    prod.template.hasResourceProperties('AWS::SNS::Topic', { TopicName: names.topic });
    const queueNames = Object.values(resourcesOfType(prod.template, 'AWS::SQS::Queue')).map((queue) => queue.Properties!.QueueName);
    expect(queueNames.sort()).toEqual(
      [names.uploadQueue, names.uploadDeadLetterQueue, names.workQueue, names.deadLetterQueue, names.alertDeadLetterQueue].sort(),
    );
  });
});
