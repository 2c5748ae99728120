/**
 * What one `cdk deploy` targets, read from the CDK context (`-c stage=prod -c alertEmail=…`).
 *
 * Only two stages exist: a typo such as `-c stage=prd` must fail here rather than quietly create
 * a third copy of the pipeline with its own bucket and table. Every other value is checked as
 * strictly, so a mistyped number fails the synth with one sentence instead of a failed deployment.
 */
import type { Node } from 'constructs';
import { settings, type TableCapacity } from '../src/shared/settings';

const devStage = settings.stage.default;
const prodStage = settings.stage.production;
const stages = [devStage, prodStage] as const;
export type Stage = (typeof stages)[number];

const contextKeys = {
  stage: 'stage',
  alertEmail: 'alertEmail',
  tableWarmWriteUnits: 'tableWarmWriteUnits',
  tableMaxWriteUnits: 'tableMaxWriteUnits',
  reserveConcurrency: 'reserveConcurrency',
  storeScopedUploads: 'storeScopedUploads',
} as const;

export interface Deployment {
  stage: Stage;
  /**
   * Whether the data stores (uploads bucket, inventory table) and logs outlive the stack. In dev,
   * `cdk destroy` removes everything; in prod they are retained and the table is deletion-protected.
   */
  keepsData: boolean;
  /** Subscribed to the alerts topic and the operations topic; AWS asks it to confirm once. */
  alertEmail?: string;
  tableCapacity: TableCapacity;
  /**
   * Reserve each function's share of the concurrency budget (concurrencyBudget in the settings): a guarantee as well as a
   * ceiling, but Lambda refuses it on an account with less than 100 concurrency left unreserved.
   */
  reserveConcurrency: boolean;
  /**
   * Store-scoped uploads: each key is `uploads/<store>/<name>.csv` and may hold rows for that store only, and
   * the stack adds a managed policy that lets an uploader put files only below its own store's folder.
   */
  storeScopedUploads: boolean;
}

export class DeploymentContextError extends Error {
  override name = 'DeploymentContextError';
}

function isStage(value: unknown): value is Stage {
  return stages.some((stage) => stage === value);
}

/** A `-c` value that must be a whole number of at least `min` (the command line passes it as text). */
function readWholeNumber(node: Node, key: string, min: number, what: string): number | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined) return undefined;
  const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < min) {
    throw new DeploymentContextError(`-c ${key}=${String(value)} is not ${what}: use a whole number of at least ${min.toLocaleString('en-US')}`);
  }
  return number;
}

function readBoolean(node: Node, key: string): boolean | undefined {
  const value: unknown = node.tryGetContext(key);
  if (value === undefined || typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new DeploymentContextError(`-c ${key}=${String(value)} is neither true nor false`);
}

function readTableCapacity(node: Node): TableCapacity {
  const { onDemandWarmWriteUnitsPerSecond, capacity } = settings.table;
  const warmWriteUnitsPerSecond =
    readWholeNumber(
      node,
      contextKeys.tableWarmWriteUnits,
      // DynamoDB refuses a warm throughput below what a new on-demand table has anyway.
      onDemandWarmWriteUnitsPerSecond,
      'a warm write throughput (writes per second) DynamoDB accepts for an on-demand table',
    ) ?? capacity.warmWriteUnitsPerSecond ?? undefined;
  const maxWriteRequestUnitsPerSecond =
    readWholeNumber(node, contextKeys.tableMaxWriteUnits, 1, 'a maximum write throughput (write units per second)') ??
    capacity.maxWriteRequestUnitsPerSecond;
  if (warmWriteUnitsPerSecond !== undefined && warmWriteUnitsPerSecond > maxWriteRequestUnitsPerSecond) {
    throw new DeploymentContextError(
      `-c ${contextKeys.tableWarmWriteUnits}=${warmWriteUnitsPerSecond} pre-warms the table beyond its maximum of ${maxWriteRequestUnitsPerSecond} writes/s (-c ${contextKeys.tableMaxWriteUnits}): that throughput would be paid for and never used`,
    );
  }
  return { warmWriteUnitsPerSecond, maxWriteRequestUnitsPerSecond };
}

export function readDeployment(node: Node): Deployment {
  const stage: unknown = node.tryGetContext(contextKeys.stage) ?? devStage;
  if (!isStage(stage)) {
    throw new DeploymentContextError(`-c ${contextKeys.stage}=${String(stage)} is not a stage; use one of: ${stages.join(', ')}`);
  }
  const alertEmail: unknown = node.tryGetContext(contextKeys.alertEmail);
  if (alertEmail !== undefined && (typeof alertEmail !== 'string' || !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alertEmail))) {
    throw new DeploymentContextError(`-c ${contextKeys.alertEmail}=${String(alertEmail)} is not an email address`);
  }
  return {
    stage,
    keepsData: stage === prodStage,
    alertEmail,
    tableCapacity: readTableCapacity(node),
    reserveConcurrency: readBoolean(node, contextKeys.reserveConcurrency) ?? false,
    storeScopedUploads: readBoolean(node, contextKeys.storeScopedUploads) ?? settings.uploads.storeScoped,
  };
}
