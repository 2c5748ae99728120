import { App } from 'aws-cdk-lib';
import { DeploymentContextError, readDeployment } from '../../cdk/deployment';
import { settings } from '../../src/shared/settings';

const deploymentOf = (context: Record<string, string>) => readDeployment(new App({ context }).node);

test('without -c stage the default stage deploys, disposable and without subscribers', () => {
  expect(deploymentOf({})).toEqual({ stage: settings.stage.default, keepsData: false });
});

test('prod keeps its data', () => {
  expect(deploymentOf({ stage: 'prod' })).toEqual({ stage: 'prod', keepsData: true });
});

test('-c alertEmail is carried along', () => {
  expect(deploymentOf({ alertEmail: 'ops@example.com' })).toMatchObject({ alertEmail: 'ops@example.com' });
});

test('a mistyped stage is refused rather than deployed as a new copy of the pipeline', () => {
  expect(() => deploymentOf({ stage: 'prd' })).toThrow(new DeploymentContextError('-c stage=prd is not a stage; use one of: dev, prod'));
});

test('an alert email that is no address is refused', () => {
  expect(() => deploymentOf({ alertEmail: 'ops' })).toThrow(DeploymentContextError);
});
