/**
 * `cdk synth` checks the app against cdk-nag's AWS Solutions rules and the CDK's built-in
 * CloudFormation validation; both must come back clean, and every finding we accept must say why.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { BUNDLING_STACKS, VALIDATION_REPORT_FILE } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../../cdk/app';
import { synthesizePipeline, type SynthesizedPipeline } from './synth';

interface ValidationReport {
  pluginReports: { pluginName: string; violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

describe.each<{ name: string; context: Record<string, string> }>([
  { name: 'the dev stage', context: { stage: 'dev' } },
  { name: 'the prod stage', context: { stage: 'prod' } },
  {
    name: 'the prod stage with every capacity, concurrency and upload value set',
    context: { stage: 'prod', tableWarmWriteUnits: '20000', tableMaxWriteUnits: '30000', reserveConcurrency: 'true', storeScopedUploads: 'true' },
  },
])('$name', ({ context }) => {
  let pipeline: SynthesizedPipeline;
  beforeAll(() => {
    pipeline = synthesizePipeline({ context: { ...context, alertEmail: 'ops@example.com' }, validate: true });
  });
  afterAll(() => pipeline?.dispose());

  test('has no unacknowledged cdk-nag AWS Solutions finding, error or warning', () => {
    const { violations } = new AwsSolutionsChecks().validateScope(pipeline.stack);
    const findings = violations.flatMap((violation) =>
      violation.violatingResources.map((resource) => `${violation.severity} ${violation.ruleName} at ${resource.constructPath}`),
    );
    expect(findings).toEqual([]);
  });

  test('synthesizes with a clean validation report: cdk-nag, CloudFormation validation and construct annotations', () => {
    const report = JSON.parse(readFileSync(join(pipeline.outdir, VALIDATION_REPORT_FILE), 'utf8')) as ValidationReport;
    const findings = report.pluginReports.flatMap((plugin) =>
      plugin.violations.map((violation) => `${plugin.pluginName}: ${violation.severity} ${violation.ruleName} at ${violation.violatingConstructs.map((c) => c.constructPath).join(', ')}`),
    );
    expect(findings).toEqual([]);
    expect(Annotations.fromStack(pipeline.stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))).toEqual([]);
  });

  test('acknowledges each accepted finding with a reason a reviewer can check', () => {
    const acknowledgements = pipeline.stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata.filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
    expect(acknowledgements.length).toBeGreaterThan(0);
    for (const [rule, reason] of acknowledgements) {
      expect(rule).toMatch(/AwsSolutions-[A-Z]+\d+/);
      expect(reason.length).toBeGreaterThan(60);
    }
  });
});

test('an unacknowledged finding fails the synth', () => {
  const app = new App({ context: { [BUNDLING_STACKS]: [] }, builtinCloudFormationValidation: false });
  const stack = buildApp(app);
  new Bucket(stack, 'UnloggedBucket', { enforceSSL: true });
  expect(() => app.synth()).toThrow(/AwsSolutions-S1/);
});
