/**
 * What each `AWS::Lambda::EventSourceMapping` of the template tells Lambda to do, as plain data the
 * local event sources follow: which queue or stream, which function, and its batching, concurrency,
 * partial-batch, bisect, retry and on-failure settings — with Lambda's defaults where the template
 * leaves a setting out.
 */
import { CloudAssemblyError } from './assembly';
import { referencedLogicalId } from './functions';
import type { LocalStack } from './local-stack';
import type { ProvisionedResources } from './provision';

export type MappingSource =
  | { type: 'sqs'; queueLogicalId: string; queueArn: string; queueUrl: string }
  | { type: 'dynamodb-stream'; tableLogicalId: string; streamArn: string };

export interface OnFailureDestination {
  arn: string;
  /** When the destination is a queue of the stack: its URL. */
  queueUrl?: string;
}

export interface EventSourceMappingSettings {
  logicalId: string;
  functionLogicalId: string;
  source: MappingSource;
  enabled: boolean;
  batchSize: number;
  maximumBatchingWindowSeconds: number;
  /** SQS: the most concurrent invocations the mapping makes (ScalingConfig.MaximumConcurrency). */
  maximumConcurrency?: number;
  /** FunctionResponseTypes has ReportBatchItemFailures: the function reports partial failures. */
  reportBatchItemFailures: boolean;
  /** Streams: split a failing batch in two and retry each half. */
  bisectBatchOnFunctionError: boolean;
  /** Streams: retries of a failing batch before it goes to the on-failure destination (undefined: until it expires). */
  maximumRetryAttempts?: number;
  /** Streams: records older than this are skipped (undefined: never). */
  maximumRecordAgeSeconds?: number;
  startingPosition?: string;
  parallelizationFactor: number;
  onFailure?: OnFailureDestination;
}

interface MappingProperties {
  EventSourceArn: string;
  BatchSize?: number;
  Enabled?: boolean;
  MaximumBatchingWindowInSeconds?: number;
  ScalingConfig?: { MaximumConcurrency?: number };
  FunctionResponseTypes?: string[];
  BisectBatchOnFunctionError?: boolean;
  MaximumRetryAttempts?: number;
  MaximumRecordAgeInSeconds?: number;
  StartingPosition?: string;
  ParallelizationFactor?: number;
  DestinationConfig?: { OnFailure?: { Destination?: string } };
}

/** -1 means "no limit" to Lambda. */
const limit = (value: number | undefined) => (value === undefined || value === -1 ? undefined : value);

function sourceOf(logicalId: string, arn: string, resources: ProvisionedResources): MappingSource {
  const queue = resources.queues.find((q) => q.arn === arn);
  if (queue) return { type: 'sqs', queueLogicalId: queue.logicalId, queueArn: queue.arn, queueUrl: queue.url };
  const table = resources.tables.find((t) => t.streamArn === arn);
  if (table) return { type: 'dynamodb-stream', tableLogicalId: table.logicalId, streamArn: arn };
  throw new CloudAssemblyError(`event source mapping ${logicalId} reads ${arn}, which is neither a queue nor a table stream of the stack`);
}

export function eventSourceMappings(stack: LocalStack, resources: ProvisionedResources): EventSourceMappingSettings[] {
  return stack.logicalIdsOf('AWS::Lambda::EventSourceMapping').map((logicalId) => {
    const properties = stack.properties(logicalId) as unknown as MappingProperties;
    const source = sourceOf(logicalId, properties.EventSourceArn, resources);
    const destination = properties.DestinationConfig?.OnFailure?.Destination;
    const destinationQueue = resources.queues.find((q) => q.arn === destination);
    return {
      logicalId,
      functionLogicalId: referencedLogicalId(stack.template.Resources[logicalId]!.Properties?.FunctionName, `${logicalId}.FunctionName`),
      source,
      enabled: properties.Enabled ?? true,
      batchSize: properties.BatchSize ?? (source.type === 'sqs' ? 10 : 100),
      maximumBatchingWindowSeconds: properties.MaximumBatchingWindowInSeconds ?? 0,
      ...(properties.ScalingConfig?.MaximumConcurrency !== undefined ? { maximumConcurrency: properties.ScalingConfig.MaximumConcurrency } : {}),
      reportBatchItemFailures: (properties.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
      bisectBatchOnFunctionError: properties.BisectBatchOnFunctionError ?? false,
      ...(limit(properties.MaximumRetryAttempts) !== undefined ? { maximumRetryAttempts: properties.MaximumRetryAttempts } : {}),
      ...(limit(properties.MaximumRecordAgeInSeconds) !== undefined ? { maximumRecordAgeSeconds: properties.MaximumRecordAgeInSeconds } : {}),
      ...(properties.StartingPosition ? { startingPosition: properties.StartingPosition } : {}),
      parallelizationFactor: properties.ParallelizationFactor ?? 1,
      ...(destination ? { onFailure: { arn: destination, ...(destinationQueue ? { queueUrl: destinationQueue.url } : {}) } } : {}),
    };
  });
}
