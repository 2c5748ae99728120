/**
 * The one place AWS SDK clients are built. Every client honours an explicit endpoint or the SDK's
 * standard `AWS_ENDPOINT_URL`, so the same code talks to AWS in production and to a local AWS
 * (moto server) on a developer's machine.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { settings } from './settings';

export interface AwsOptions {
  /** An AWS-compatible endpoint (e.g. a local moto server). Defaults to `AWS_ENDPOINT_URL`. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Attempts the SDK makes per call (default settings.aws.maxAttempts). */
  maxAttempts?: number;
}

export interface AwsClients {
  s3: S3Client;
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
  documents: DynamoDBDocumentClient;
  streams: DynamoDBStreamsClient;
  sns: SNSClient;
}

/**
 * The configuration every client shares: endpoint, region, credentials, retries and timeouts. Also
 * for a client of a service the functions don't use (IAM and STS for the local runtime; CloudFormation
 * and CloudWatch for the operators' tools), built where it is needed so the functions' bundles don't
 * carry it.
 */
export function clientConfig(options: AwsOptions = {}) {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL;
  // Off AWS there is no region to discover; any valid one will do for a local endpoint.
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (endpoint ? 'us-east-1' : undefined);
  return {
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? settings.aws.maxAttempts,
    // A connection that never answers is abandoned and retried, rather than holding the
    // invocation until its own timeout.
    requestHandler: {
      connectionTimeout: settings.aws.connectionTimeoutMs,
      requestTimeout: settings.aws.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  };
}

export function createAwsClients(options: AwsOptions = {}): AwsClients {
  const common = clientConfig(options);
  const dynamodb = new DynamoDBClient(common);
  return {
    // A local endpoint is one host: buckets go in the path, not in the host name.
    s3: new S3Client({ ...common, forcePathStyle: Boolean(common.endpoint) }),
    sqs: new SQSClient(common),
    dynamodb,
    documents: DynamoDBDocumentClient.from(dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    streams: new DynamoDBStreamsClient(common),
    sns: new SNSClient(common),
  };
}

/** For a local endpoint: the environment's credentials if it has any, else placeholders (a local AWS checks none). */
export function localEndpointCredentials(): AwsOptions['credentials'] {
  return process.env.AWS_ACCESS_KEY_ID ? undefined : { accessKeyId: 'local', secretAccessKey: 'local' };
}

export function destroyAwsClients(clients: AwsClients): void {
  for (const client of Object.values(clients) as { destroy(): void }[]) client.destroy();
}
