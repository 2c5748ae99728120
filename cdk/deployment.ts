/**
 * What one `cdk deploy` targets, read from the CDK context (`-c stage=prod -c alertEmail=…`).
 *
 * Only two stages exist: a typo such as `-c stage=prd` must fail here rather than quietly create
 * a third copy of the pipeline with its own bucket and table.
 */
import type { Node } from 'constructs';
import { settings } from '../src/shared/settings';

const devStage = settings.stage.default;
const prodStage = settings.stage.production;
const stages = [devStage, prodStage] as const;
export type Stage = (typeof stages)[number];

const contextKeys = { stage: 'stage', alertEmail: 'alertEmail' } as const;

export interface Deployment {
  stage: Stage;
  /**
   * Whether the data stores (uploads bucket, inventory table) and logs outlive the stack. In dev,
   * `cdk destroy` removes everything; in prod they are retained and the table is deletion-protected.
   */
  keepsData: boolean;
  /** Subscribed to the alerts topic and the operations topic; AWS asks it to confirm once. */
  alertEmail?: string;
}

export class DeploymentContextError extends Error {
  override name = 'DeploymentContextError';
}

function isStage(value: unknown): value is Stage {
  return stages.some((stage) => stage === value);
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
  return { stage, keepsData: stage === prodStage, alertEmail };
}
