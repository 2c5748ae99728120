/**
 * The pipeline assembled from a cloud assembly — what `inventory local --from-template DIR` runs:
 * the stack deployed on an IAM-enforcing moto (local-deployment.ts), each bundled function invoked
 * in its own processes under its role, each event source mapping following the template's settings
 * and polling with the function's role, counters read from the functions' own metrics (EMF).
 *
 * Which function is which follows from the template's wiring, not from names: the splitter is the
 * function mapped to the queue the bucket notifies, the writer the one mapped to another queue, the
 * alerter the one mapped to the table's stream; the alerts topic is the one the alerter's TOPIC_ARN
 * names, the dead-letter queues are the source queues' redrive targets and the stream mapping's
 * on-failure destination.
 */
import { createAwsClients, destroyAwsClients, type AwsClients } from '../../shared/aws';
import { storeScopedUploadsFromEnv } from '../../shared/env';
import { CountingMetrics } from '../../shared/observability';
import { MetricName, settings } from '../../shared/settings';
import type { DynamoDBStreamEvent, SQSEvent } from 'aws-lambda';
import type { BatchResponse, FunctionSpec, SqsSourceOptions, StreamBatchResponse } from '../event-sources';
import { FaultInjector, noFaults } from '../faults';
import { readIamDecisions, type Credentials } from '../moto-iam';
import { ensureAlertCapture, type PipelineResources } from '../resources';
import type { FunctionName, PipelineAssembly, SqsMapping, StreamMapping } from '../runtime';
import { CloudAssemblyError } from './assembly';
import type { EventSourceMappingSettings } from './event-source-mappings';
import { embeddedMetrics, shownAtLevel } from './function-output';
import { LocalDeployment, type DeployedFunction } from './local-deployment';

export interface TemplatePipelineOptions {
  /** The directory `npx cdk synth -o DIR` wrote. */
  assemblyDir: string;
  /**
   * A moto server started with the project's IAM patches (src/local/moto-iam.ts), to deploy on
   * instead of starting one; `administrator` is a key that may do anything there.
   */
  endpoint?: string;
  administrator?: Credentials;
  /** The functions' log lines shown on stderr from this level up (default SILENT). */
  logLevel?: string;
  /** How soon a failed message is retried (on AWS: the queue's visibility timeout). */
  retryDelaySeconds?: number;
}

/**
 * Retries of a failing stream batch when the mapping sets no limit. Lambda then retries until the
 * records expire (24 hours); a local run would wait on a poison batch forever.
 */
const localStreamRetryLimit = 10;

/** The endpoint must be a moto with the project's IAM patches: it reports its IAM decisions. */
async function checkIamEndpoint(endpoint: string, administrator: Credentials | undefined): Promise<Credentials> {
  try {
    await readIamDecisions(endpoint);
  } catch {
    throw new Error(
      `${endpoint} is not a moto server enforcing IAM with this project's patches (it does not answer /moto-api/iam-decisions); ` +
        'run --from-template without --endpoint to start one',
    );
  }
  if (administrator === undefined) {
    throw new Error(`--from-template with --endpoint needs a key that may do anything on ${endpoint}, in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`);
  }
  return administrator;
}

function mappingOf(deployment: LocalDeployment, fn: DeployedFunction): EventSourceMappingSettings {
  const mapping = deployment.mappings.find((m) => m.functionLogicalId === fn.definition.logicalId)!;
  if (!mapping.enabled) throw new CloudAssemblyError(`the event source mapping ${mapping.logicalId} of ${fn.definition.logicalId} is disabled (Enabled: false)`);
  return mapping;
}

/** The pipeline's three functions, by how the template wires them. */
function pipelineFunctions(deployment: LocalDeployment, uploadQueueArn: string): Record<FunctionName, DeployedFunction> {
  const mappedTo = (test: (mapping: EventSourceMappingSettings) => boolean, role: string) => {
    const found = deployment.functions.filter((fn) => deployment.mappings.some((m) => m.functionLogicalId === fn.definition.logicalId && test(m)));
    if (found.length !== 1) {
      throw new CloudAssemblyError(`the stack has ${found.length} functions that could be the ${role}; the local runtime needs exactly one`);
    }
    return found[0]!;
  };
  return {
    splitter: mappedTo((m) => m.source.type === 'sqs' && m.source.queueArn === uploadQueueArn, 'splitter (mapped to the queue the bucket notifies)'),
    writer: mappedTo((m) => m.source.type === 'sqs' && m.source.queueArn !== uploadQueueArn, 'writer (mapped to a queue the bucket does not notify)'),
    alerter: mappedTo((m) => m.source.type === 'dynamodb-stream', "alerter (mapped to the table's stream)"),
  };
}

/** The queue the bucket notifications deliver uploads to, and the bucket. */
function uploadsOf(deployment: LocalDeployment): { bucket: string; uploadQueueArn: string } {
  const [notifications, ...others] = deployment.stack.logicalIdsOf('Custom::S3BucketNotifications');
  if (notifications === undefined || others.length > 0) {
    throw new CloudAssemblyError('the stack must have exactly one bucket notification configuration (Custom::S3BucketNotifications): it announces the uploads');
  }
  const { BucketName, NotificationConfiguration } = deployment.stack.properties(notifications) as {
    BucketName: string;
    NotificationConfiguration: { QueueConfigurations?: { QueueArn: string }[] };
  };
  const queueArns = [...new Set((NotificationConfiguration.QueueConfigurations ?? []).map((c) => c.QueueArn))];
  if (queueArns.length !== 1) throw new CloudAssemblyError(`bucket ${BucketName} must notify exactly one queue of its uploads (it notifies ${queueArns.length})`);
  return { bucket: BucketName, uploadQueueArn: queueArns[0]! };
}

function queueByArn(deployment: LocalDeployment, arn: string) {
  const queue = deployment.resources.queues.find((q) => q.arn === arn);
  if (!queue) throw new CloudAssemblyError(`${arn} is not a queue of the stack`);
  return queue;
}

/** The dead-letter queue a source queue's redrive policy names. */
function deadLetterQueueOf(deployment: LocalDeployment, queueArn: string): string {
  const queue = queueByArn(deployment, queueArn);
  const redrive = deployment.stack.properties(queue.logicalId).RedrivePolicy as { deadLetterTargetArn?: string } | undefined;
  if (!redrive?.deadLetterTargetArn) throw new CloudAssemblyError(`queue ${queue.name} has no dead-letter queue (RedrivePolicy)`);
  return queueByArn(deployment, redrive.deadLetterTargetArn).url;
}

export async function assembleFromTemplate(options: TemplatePipelineOptions): Promise<PipelineAssembly> {
  const server = options.endpoint ? { endpoint: options.endpoint, administrator: await checkIamEndpoint(options.endpoint, options.administrator) } : undefined;
  const metrics = new CountingMetrics();
  const logLevel = options.logLevel ?? 'SILENT';
  const deployment = await LocalDeployment.start({
    assemblyDir: options.assemblyDir,
    ...(server ? { server } : {}),
    onOutput: (functionName, line) => {
      const emitted = embeddedMetrics(line);
      if (emitted) for (const [name, value] of emitted) metrics.add(name as MetricName, value);
      else if (shownAtLevel(line, logLevel)) process.stderr.write(`[${functionName}] ${line}\n`);
    },
  });
  const mappingClients: AwsClients[] = [];
  try {
    const { bucket, uploadQueueArn } = uploadsOf(deployment);
    const functions = pipelineFunctions(deployment, uploadQueueArn);
    const mappings = {
      splitter: mappingOf(deployment, functions.splitter),
      writer: mappingOf(deployment, functions.writer),
      alerter: mappingOf(deployment, functions.alerter),
    };
    const rowsQueue = mappings.writer.source as { queueArn: string; queueUrl: string };
    const stream = mappings.alerter.source as { tableLogicalId: string; streamArn: string };
    const alertDeadLetterQueueUrl = mappings.alerter.onFailure?.queueUrl;
    if (alertDeadLetterQueueUrl === undefined) {
      throw new CloudAssemblyError(`the alerter's stream mapping ${mappings.alerter.logicalId} has no on-failure queue of the stack`);
    }
    const topicArn = functions.alerter.definition.variables[settings.env.topicArn];
    const topic = deployment.resources.topics.find((t) => t.arn === topicArn);
    if (!topic) throw new CloudAssemblyError(`the alerter's ${settings.env.topicArn} (${topicArn ?? 'unset'}) is not a topic of the stack`);
    const table = deployment.resources.tables.find((t) => t.logicalId === stream.tableLogicalId)!;

    const resources: PipelineResources = {
      bucket,
      table: table.name,
      streamArn: stream.streamArn,
      uploadQueueUrl: queueByArn(deployment, uploadQueueArn).url,
      uploadQueueArn,
      uploadDeadLetterQueueUrl: deadLetterQueueOf(deployment, uploadQueueArn),
      workQueueUrl: rowsQueue.queueUrl,
      workQueueArn: rowsQueue.queueArn,
      deadLetterQueueUrl: deadLetterQueueOf(deployment, rowsQueue.queueArn),
      alertDeadLetterQueueUrl,
      topicArn: topic.arn,
      // Not part of the stack: where the CLI reads what the topic delivered.
      alertCaptureQueueUrl: await ensureAlertCapture(deployment.clients, topic.arn, `${topic.name}-capture`),
    };

    // Each mapping polls, deletes and records failures with its function's role, as Lambda does.
    const clientsOf = (fn: DeployedFunction) => {
      const clients = createAwsClients({ endpoint: deployment.endpoint, region: deployment.stack.target.region, credentials: fn.eventSourceCredentials });
      mappingClients.push(clients);
      return clients;
    };
    const retryDelaySeconds = options.retryDelaySeconds ?? 1;
    const invoked = <E, R>(name: FunctionName): FunctionSpec<E, R> & { name: FunctionName } => ({
      name,
      timeoutSeconds: functions[name].definition.timeoutSeconds,
      // What the bundled handler answered; a FunctionError (it threw, timed out or its process died) fails the whole batch.
      handler: (event: E) => functions[name].process.invoke(event) as Promise<R>,
    });
    const sqsMapping = (name: 'splitter' | 'writer'): SqsMapping => {
      const mapping = mappings[name];
      const options: SqsSourceOptions = {
        batchSize: mapping.batchSize,
        batchingWindowSeconds: mapping.maximumBatchingWindowSeconds,
        // The function's processes are capped by the mapping's MaximumConcurrency already.
        concurrency: functions[name].process.concurrency,
        retryDelaySeconds,
        reportBatchItemFailures: mapping.reportBatchItemFailures,
        runtimeSqs: deployment.clients.sqs,
      };
      return { function: invoked<SQSEvent, BatchResponse>(name), sqs: clientsOf(functions[name]).sqs, options };
    };
    const alerterClients = clientsOf(functions.alerter);
    const alerter: StreamMapping = {
      function: invoked<DynamoDBStreamEvent, StreamBatchResponse>('alerter'),
      streams: alerterClients.streams,
      sqs: alerterClients.sqs,
      options: {
        batchSize: mappings.alerter.batchSize,
        batchingWindowSeconds: mappings.alerter.maximumBatchingWindowSeconds,
        retryAttempts: mappings.alerter.maximumRetryAttempts ?? localStreamRetryLimit,
        reportBatchItemFailures: mappings.alerter.reportBatchItemFailures,
        bisectBatchOnFunctionError: mappings.alerter.bisectBatchOnFunctionError,
        onFailureQueueUrl: alertDeadLetterQueueUrl,
      },
    };

    return {
      endpoint: deployment.endpoint,
      clients: deployment.clients,
      resources,
      // As the bundled splitter reads it from its environment.
      storeScoped: storeScopedUploadsFromEnv(functions.splitter.definition.variables),
      splitter: sqsMapping('splitter'),
      writer: sqsMapping('writer'),
      alerter,
      metrics,
      // Known once each writer invocation has reported its metrics.
      rowsWritten: () => metrics.get(MetricName.RowsApplied) + metrics.get(MetricName.RowsSkipped),
      // Faults are injected in the handlers' clients, which here run in processes of their own.
      faults: new FaultInjector(noFaults),
      iamReport: () => deployment.iamReport(),
      async close() {
        for (const clients of mappingClients) destroyAwsClients(clients);
        await deployment.close();
      },
    };
  } catch (error) {
    for (const clients of mappingClients) destroyAwsClients(clients);
    await deployment.close();
    throw error;
  }
}
