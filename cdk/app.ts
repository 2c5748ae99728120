/**
 * The CDK app: one InventoryStack per stage, checked against the cdk-nag AWS Solutions rules on
 * every synth — an unacknowledged finding fails `cdk synth` and `cdk deploy`.
 *
 *   npx cdk deploy -c stage=prod -c alertEmail=ops@example.com
 */
import { App, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { settings } from '../src/shared/settings';
import { stackName } from '../src/shared/stack';
import { DeploymentContextError, readDeployment } from './deployment';
import { InventoryStack } from './inventory-stack';

export function buildApp(app: App = new App()): InventoryStack {
  const deployment = readDeployment(app.node);
  const stack = new InventoryStack(app, stackName(deployment.stage), {
    deployment,
    description: `Inventory pipeline (${deployment.stage}): store CSV uploads to a DynamoDB inventory with low-stock alerts`,
  });
  Tags.of(stack).add('project', settings.observability.serviceName);
  Tags.of(stack).add('stage', deployment.stage);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
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
