/**
 * The pipeline assembled from the settings module — what `inventory local` runs: the handlers'
 * TypeScript sources in this process, against resources created with the names and settings the
 * stack deploys (resources.ts), on a moto server it starts or an endpoint it is given. Faults
 * (`--faults`) are injected in the handlers' clients and in the event sources, below the handlers.
 */
import { Console } from 'node:console';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSEvent } from 'aws-lambda';
import { createAlerterHandler } from '../alerter/handler';
import { sqsParking } from '../alerter/parking';
import { snsPublishBatch } from '../alerter/publisher';
import { createAwsClients, destroyAwsClients, localEndpointCredentials } from '../shared/aws';
import { CountingMetrics } from '../shared/observability';
import { concurrencyBudget, settings } from '../shared/settings';
import { createSplitterHandler } from '../splitter/handler';
import { DynamoInventoryTable } from '../writer/dynamodb-table';
import { createWriterHandler } from '../writer/handler';
import { sqsRowsQueue } from '../writer/rows-queue';
import { batchIdentity, FaultInjector, noFaults, type FaultSpec } from './faults';
import { startMoto } from './moto';
import { ensureResources } from './resources';
import type { FunctionName, PipelineAssembly } from './runtime';
import { oneRequestAtATime } from './serialize';

/**
 * Invocations get this many times their function's timeout (the Lambda context's remaining time).
 * moto applies one write at a time, tens of times slower than DynamoDB takes a writer's 8 in
 * flight, so a batch that takes the writer seconds on AWS takes minutes here; with Lambda's own
 * 60 s the writer's time budget would run out and defer rows only because the local AWS is slow.
 */
const localTimeScale = 20;

export interface SettingsPipelineOptions {
  /** An AWS-compatible endpoint to use; without one a fresh moto server is started (and stopped). */
  endpoint?: string;
  /** Threshold for items no row gave one (default: settings.inventory.defaultThreshold). */
  defaultThreshold?: number;
  stage?: string;
  /** Handler log level (Powertools); logs go to stderr. Default SILENT. */
  logLevel?: string;
  /** How soon a failed message is retried (on AWS: the queue's visibility timeout). */
  retryDelaySeconds?: number;
  /** Concurrent writer invocations. */
  writerConcurrency?: number;
  /** Faults to inject below the handlers (`--faults`); none by default. */
  faults?: FaultSpec;
  /** Split uploads store-scoped (`--store-scoped`); default settings.uploads.storeScoped. */
  storeScoped?: boolean;
}

/** Handler logs go to stderr: stdout belongs to the CLI's output (its --json document above all). */
function localLogger(component: string, level: string): Logger {
  const logger = new Logger({ serviceName: settings.observability.serviceName, logLevel: level as never, persistentKeys: { component } });
  (logger as unknown as { console: Console }).console = new Console({ stdout: process.stderr, stderr: process.stderr });
  return logger;
}

export async function assembleFromSettings(options: SettingsPipelineOptions): Promise<PipelineAssembly> {
  const moto = options.endpoint ? undefined : await startMoto();
  const endpoint = options.endpoint ?? moto!.endpoint;
  try {
    const credentials = localEndpointCredentials();
    const clients = createAwsClients({ endpoint, credentials });
    oneRequestAtATime(clients.sqs);
    // The writer's: its table client makes as few SDK attempts as on Lambda (settings.writer.backPressure).
    const writerClients = createAwsClients({ endpoint, credentials, maxAttempts: settings.writer.backPressure.sdkMaxAttempts });
    oneRequestAtATime(writerClients.dynamodb);
    const resources = await ensureResources(clients, options.stage ?? settings.stage.local);

    const logLevel = options.logLevel ?? 'SILENT';
    const retryDelaySeconds = options.retryDelaySeconds ?? 1;
    const defaultThreshold = options.defaultThreshold ?? settings.inventory.defaultThreshold;
    const storeScoped = options.storeScoped ?? settings.uploads.storeScoped;
    const metrics = new CountingMetrics();
    let rowsWritten = 0;
    const faults = new FaultInjector(options.faults ?? noFaults);
    for (const client of [clients.s3, clients.sqs, clients.sns, writerClients.dynamodb]) faults.crashableCalls(client);
    faults.throttleUpdates(writerClients.dynamodb);
    faults.failPublishes(clients.sns);

    const splitter = createSplitterHandler({
      s3: clients.s3,
      sqs: clients.sqs,
      workQueueUrl: resources.workQueueUrl,
      storeScoped,
      logger: localLogger('splitter', logLevel),
      metrics,
    });
    const table = new DynamoInventoryTable(writerClients.documents, resources.table, defaultThreshold);
    const rowsQueue = sqsRowsQueue(clients.sqs, resources.workQueueUrl);
    const writer = createWriterHandler({
      // Counted as each row is written, so a progress bar moves within a long invocation.
      table: {
        applyRow: (row) => table.applyRow(row).then((applied) => ((rowsWritten += 1), applied)),
        applyThreshold: (row) => table.applyThreshold(row),
      },
      // The local runtime's one difference in timing: what waits for minutes on AWS (a deferred
      // batch's delay, a failed message's growing visibility timeout) waits `retryDelaySeconds`.
      rowsQueue: {
        sendLater: (body, delaySeconds) => rowsQueue.sendLater(body, Math.min(delaySeconds, retryDelaySeconds)),
        retryAfter: (receiptHandle, seconds) => rowsQueue.retryAfter(receiptHandle, Math.min(seconds, retryDelaySeconds)),
      },
      logger: localLogger('writer', logLevel),
      metrics,
    });
    const alerter = createAlerterHandler({
      publishBatch: snsPublishBatch(clients.sns, resources.topicArn),
      park: sqsParking(clients.sqs, resources.alertDeadLetterQueueUrl),
      defaultThreshold,
      logger: localLogger('alerter', logLevel),
      metrics,
    });
    // A crash fault strikes inside an invocation, as a dying sandbox would.
    const crashable =
      <E extends { Records: unknown[] }, R>(name: FunctionName, handler: (event: E, context: Context) => Promise<R>) =>
      (event: E, context: Context): Promise<R> =>
        faults.invoke(name, batchIdentity(event), () => handler(event, context));

    return {
      endpoint,
      clients,
      resources,
      storeScoped,
      splitter: {
        function: { name: 'splitter', timeoutSeconds: settings.splitter.timeoutSeconds * localTimeScale, handler: crashable('splitter', (event: SQSEvent, context) => splitter(event, context)) },
        sqs: clients.sqs,
        options: { batchSize: settings.splitter.batchSize, concurrency: 1, retryDelaySeconds, duplicates: (m) => faults.duplicates('upload-events', m) },
      },
      writer: {
        function: { name: 'writer', timeoutSeconds: settings.writer.timeoutSeconds * localTimeScale, handler: crashable('writer', writer) },
        sqs: clients.sqs,
        options: {
          batchSize: settings.writer.batchSize,
          concurrency: options.writerConcurrency ?? Math.min(concurrencyBudget().writer, 4),
          retryDelaySeconds,
          duplicates: (m) => faults.duplicates('rows', m),
        },
      },
      alerter: {
        function: { name: 'alerter', timeoutSeconds: settings.alerter.timeoutSeconds * localTimeScale, handler: crashable('alerter', alerter) },
        streams: clients.streams,
        sqs: clients.sqs,
        options: { batchSize: settings.alerter.batchSize, retryAttempts: settings.alerter.retryAttempts, onFailureQueueUrl: resources.alertDeadLetterQueueUrl },
      },
      metrics,
      rowsWritten: () => rowsWritten,
      faults,
      async close() {
        destroyAwsClients(clients);
        destroyAwsClients(writerClients);
        await moto?.stop();
      },
    };
  } catch (error) {
    await moto?.stop();
    throw error;
  }
}
