/**
 * The CDK app: one InventoryStack per stage, checked against the cdk-nag AWS Solutions rules on
 * every synth — an unacknowledged finding fails `cdk synth` and `cdk deploy`.
 *
 *   npx cdk deploy -c stage=prod -c alertEmail=ops@example.com
 */
import { App, Tags, Validations, type IStackSynthesizer } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { settings } from '../src/shared/settings';
import { stackName } from '../src/shared/stack';
import { DeploymentContextError, readDeployment, type Deployment } from './deployment';
import { InventoryStack } from './inventory-stack';

export interface PipelineStackProps {
  deployment: Deployment;
  stackId: string;
  description: string;
  synthesizer?: IStackSynthesizer;
}

/** The stack with the tags and the cdk-nag checks every deployment of it gets. */
export function addPipelineStack(app: App, props: PipelineStackProps): InventoryStack {
  const stack = new InventoryStack(app, props.stackId, { deployment: props.deployment, description: props.description, synthesizer: props.synthesizer });
  Tags.of(stack).add('project', settings.observability.serviceName);
  Tags.of(stack).add('stage', props.deployment.stage);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}

export function buildApp(app: App = new App()): InventoryStack {
  const deployment = readDeployment(app.node);
  return addPipelineStack(app, {
    deployment,
    stackId: stackName(deployment.stage),
    description: `Inventory pipeline (${deployment.stage}): store CSV uploads to a DynamoDB inventory with low-stock alerts`,
  });
}

if (require.main === module) {
  try {
    buildApp();
  } catch (error) {
    if (!(error instanceof DeploymentContextError)) throw error;
    // A mistyped -c value is the user's to fix: the message, not a stack trace.
    console.error(error.message);
    process.exitCode = 1;
  }
}
