import { App } from 'aws-cdk-lib';
import { DeploymentContextError, readDeployment } from '../../cdk/deployment';
import { settings } from '../../src/shared/settings';

const deploymentOf = (context: Record<string, unknown>) => readDeployment(new App({ context }).node);

test('without -c values the default stage deploys: disposable, without subscribers, the table neither pre-warmed nor uncapped, nothing reserved', () => {
  expect(deploymentOf({})).toEqual({
    stage: settings.stage.default,
    keepsData: false,
    tableCapacity: { warmWriteUnitsPerSecond: undefined, maxWriteRequestUnitsPerSecond: settings.table.capacity.maxWriteRequestUnitsPerSecond },
    reserveConcurrency: false,
    storeScopedUploads: false,
  });
});

test('-c storeScopedUploads=true|false, from the command line (text) or cdk.json (a boolean); anything else is refused', () => {
  expect(deploymentOf({ storeScopedUploads: 'true' }).storeScopedUploads).toBe(true);
  expect(deploymentOf({ storeScopedUploads: true }).storeScopedUploads).toBe(true);
  expect(deploymentOf({ storeScopedUploads: 'false' }).storeScopedUploads).toBe(false);
  expect(() => deploymentOf({ storeScopedUploads: 'yes' })).toThrow(new DeploymentContextError('-c storeScopedUploads=yes is neither true nor false'));
});

test('prod keeps its data', () => {
  expect(deploymentOf({ stage: 'prod' })).toMatchObject({ stage: 'prod', keepsData: true });
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

describe('table capacity', () => {
  test('-c tableWarmWriteUnits and -c tableMaxWriteUnits are read as whole numbers, from the command line (text) or cdk.json (numbers)', () => {
    expect(deploymentOf({ tableWarmWriteUnits: '20000', tableMaxWriteUnits: ' 30000 ' }).tableCapacity).toEqual({
      warmWriteUnitsPerSecond: 20_000,
      maxWriteRequestUnitsPerSecond: 30_000,
    });
    expect(deploymentOf({ tableWarmWriteUnits: 4000, tableMaxWriteUnits: 4000 }).tableCapacity).toEqual({
      warmWriteUnitsPerSecond: 4000,
      maxWriteRequestUnitsPerSecond: 4000,
    });
  });

  test('a cap alone leaves the table un-warmed', () => {
    expect(deploymentOf({ tableMaxWriteUnits: '500' }).tableCapacity).toEqual({ warmWriteUnitsPerSecond: undefined, maxWriteRequestUnitsPerSecond: 500 });
  });

  test.each(['20k', '4000.5', '-5000', '', 'true'])('-c tableWarmWriteUnits=%j is refused: not a whole number', (value) => {
    expect(() => deploymentOf({ tableWarmWriteUnits: value })).toThrow(DeploymentContextError);
  });

  test('a warm throughput below what a new on-demand table has anyway is refused, naming the minimum (DynamoDB would refuse it mid-deployment)', () => {
    expect(() => deploymentOf({ tableWarmWriteUnits: '3999' })).toThrow(
      new DeploymentContextError(
        '-c tableWarmWriteUnits=3999 is not a warm write throughput (writes per second) DynamoDB accepts for an on-demand table: use a whole number of at least 4,000',
      ),
    );
  });

  test.each(['0', '1e4', 'none'])('-c tableMaxWriteUnits=%j is refused', (value) => {
    expect(() => deploymentOf({ tableMaxWriteUnits: value })).toThrow(/^-c tableMaxWriteUnits=.* is not a maximum write throughput/);
  });

  test('pre-warming beyond the cap is refused: that throughput would be paid for and never used', () => {
    expect(() => deploymentOf({ tableWarmWriteUnits: '10000' })).toThrow(
      `-c tableWarmWriteUnits=10000 pre-warms the table beyond its maximum of ${settings.table.capacity.maxWriteRequestUnitsPerSecond} writes/s (-c tableMaxWriteUnits)`,
    );
    expect(deploymentOf({ tableWarmWriteUnits: '10000', tableMaxWriteUnits: '10000' }).tableCapacity.warmWriteUnitsPerSecond).toBe(10_000);
  });
});

describe('reserved concurrency', () => {
  test.each([
    ['true', true],
    ['false', false],
    [true, true],
    [false, false],
  ])('-c reserveConcurrency=%j', (value, expected) => {
    expect(deploymentOf({ reserveConcurrency: value }).reserveConcurrency).toBe(expected);
  });

  test('anything but true or false is refused', () => {
    expect(() => deploymentOf({ reserveConcurrency: 'yes' })).toThrow(new DeploymentContextError('-c reserveConcurrency=yes is neither true nor false'));
  });
});
