/**
 * The one-click package (`npm run package`): a template that needs no CDK bootstrap, takes the
 * functions' code from the bucket and prefix parameters, makes the stage's choices from the Stage
 * parameter — checked by resolving it for each stage and comparing with what `cdk synth` makes for
 * that stage — and zips that hold the handlers their functions name. cfn-lint finds nothing.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { Parameter, packageName, quickCreateLink, writePackage, type Package } from '../../cdk/package';
import type { CfnResource, CfnTemplate } from '../../cdk/one-click';
import { ensurePythonTools } from '../../src/local/venv';
import { settings } from '../../src/shared/settings';
import { StackOutput } from '../../src/shared/stack';
import { cfnLint, describeFinding } from '../support/cfn-lint';
import { synthesizePipeline } from './synth';

const out = mkdtempSync(join(tmpdir(), 'inventory-package-test-'));
let written: Package;
let synthesized: Record<'dev' | 'prod' | 'prodStoreScoped', CfnTemplate>;

beforeAll(() => {
  ensurePythonTools();
  written = writePackage(out);
  synthesized = { dev: templateOf('dev'), prod: templateOf('prod'), prodStoreScoped: templateOf('prod', { storeScopedUploads: 'true' }) };
});

afterAll(() => rmSync(out, { recursive: true, force: true }));

function templateOf(stage: string, context: Record<string, string> = {}): CfnTemplate {
  const pipeline = synthesizePipeline({ context: { stage, ...context } });
  try {
    return pipeline.template.toJSON() as CfnTemplate;
  } finally {
    pipeline.dispose();
  }
}

type Values = Record<string, string>;

/** The template as CloudFormation would deploy it with these parameter values: conditions decided, Fn::If and plain Fn::Join resolved. */
function resolveFor(template: CfnTemplate, parameters: Values): Record<string, CfnResource> {
  const conditions = new Map<string, boolean>();
  const condition = (name: string): boolean => {
    if (!conditions.has(name)) conditions.set(name, truth(template.Conditions![name]));
    return conditions.get(name)!;
  };
  const truth = (expression: unknown): boolean => {
    const e = expression as Record<string, unknown[]> & { Condition?: string };
    if (e.Condition !== undefined) return condition(e.Condition);
    if (e['Fn::Equals']) return resolve(e['Fn::Equals'][0]) === resolve(e['Fn::Equals'][1]);
    if (e['Fn::Not']) return !truth(e['Fn::Not'][0]);
    throw new Error(`unexpected condition ${JSON.stringify(expression)}`);
  };
  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve).filter((item) => item !== undefined);
    if (value === null || typeof value !== 'object') return value;
    const object = value as Record<string, unknown>;
    if (typeof object.Ref === 'string' && object.Ref in parameters) return parameters[object.Ref];
    if (object.Ref === 'AWS::NoValue') return undefined;
    if (Array.isArray(object['Fn::If'])) {
      const [name, whenTrue, whenFalse] = object['Fn::If'] as [string, unknown, unknown];
      return resolve(condition(name) ? whenTrue : whenFalse);
    }
    if (Array.isArray(object['Fn::Join'])) {
      const [separator, parts] = object['Fn::Join'] as [string, unknown[]];
      const resolved = parts.map(resolve);
      if (resolved.every((part) => typeof part === 'string')) return resolved.join(separator);
      return { 'Fn::Join': [separator, resolved] };
    }
    return Object.fromEntries(
      Object.entries(object)
        .map(([key, inner]) => [key, resolve(inner)] as const)
        .filter(([, inner]) => inner !== undefined),
    );
  };
  return Object.fromEntries(
    Object.entries(template.Resources)
      .filter(([, resource]) => resource.Condition === undefined || condition(resource.Condition))
      .map(([id, resource]) => {
        const { Condition: _condition, ...rest } = resource;
        return [id, resolve(rest) as CfnResource];
      }),
  );
}

const countByType = (resources: Record<string, CfnResource>) => {
  const counts: Record<string, number> = {};
  for (const resource of Object.values(resources)) counts[resource.Type] = (counts[resource.Type] ?? 0) + 1;
  return counts;
};
const retained = (resources: Record<string, CfnResource>) =>
  Object.entries(resources)
    .filter(([, resource]) => resource.DeletionPolicy === 'Retain')
    .map(([id]) => id)
    .sort();
const ofType = (resources: Record<string, CfnResource>, type: string) => Object.values(resources).filter((resource) => resource.Type === type);

test('the template needs no CDK bootstrap: no bootstrap version parameter or rule, no CDK asset bucket', () => {
  const { template } = written;
  expect(written.templateFile).toBe(join(out, `${packageName}.template.json`));
  expect(JSON.parse(readFileSync(written.templateFile, 'utf8'))).toEqual(template);
  expect(Object.keys(template.Parameters ?? {})).not.toContain('BootstrapVersion');
  expect(template.Rules).toBeUndefined();
  expect(JSON.stringify(template)).not.toMatch(/cdk-[a-z0-9]+-(assets|deploy|cfn-exec)|BootstrapVersion|aws:asset:/);
  expect(Object.keys(template.Parameters!).sort()).toEqual(
    [Parameter.alertEmail, Parameter.codeBucket, Parameter.codeKeyPrefix, Parameter.stage, Parameter.storeScopedUploads].sort(),
  );
  expect(template.Parameters![Parameter.stage]).toMatchObject({ AllowedValues: ['dev', 'prod'], Default: 'dev' });
  expect(template.Parameters![Parameter.storeScopedUploads]).toMatchObject({ AllowedValues: ['false', 'true'], Default: 'false' });
  expect(template.Transform).toBe('AWS::LanguageExtensions');
  // What `inventory status` and the load test read from a stack.
  expect(Object.keys(template.Outputs ?? {})).toEqual(expect.arrayContaining(Object.values(StackOutput)));
});

test("every function's code comes from the code bucket and prefix; each zip holds the handler file its function names, and nothing else is packaged", () => {
  const zips = new Set(readdirSync(out).filter((file) => file.endsWith('.zip')));
  const used = new Set<string>();
  for (const [id, fn] of Object.entries(written.template.Resources).filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')) {
    const code = fn.Properties!.Code as { ZipFile?: string; S3Bucket?: unknown; S3Key?: { 'Fn::Sub': string } };
    if (code.ZipFile !== undefined) continue; // inline, in the template itself
    expect({ id, bucket: code.S3Bucket }).toEqual({ id, bucket: { Ref: Parameter.codeBucket } });
    const key = code.S3Key!['Fn::Sub'];
    expect(key.startsWith(`\${${Parameter.codeKeyPrefix}}`)).toBe(true);
    const file = key.slice(`\${${Parameter.codeKeyPrefix}}`.length);
    expect(zips).toContain(file);
    used.add(file);
    const [module] = (fn.Properties!.Handler as string).split('.');
    const entries = Object.keys(unzipSync(readFileSync(join(out, file))));
    expect({ id, handlerFile: entries.find((entry) => /^(.*)\.(js|mjs|cjs)$/.exec(entry)?.[1] === module) }).toEqual({ id, handlerFile: expect.any(String) });
  }
  expect([...zips].sort()).toEqual([...used].sort());
  expect(written.zipFiles.map((file) => file.slice(out.length + 1)).sort()).toEqual([...used].sort());
});

test.each(['dev', 'prod'] as const)('with Stage=%s the template deploys what `cdk synth` makes for that stage: the same resources, the same ones retained, its names', (stage) => {
  const packaged = resolveFor(written.template, { [Parameter.stage]: stage, [Parameter.alertEmail]: '', [Parameter.storeScopedUploads]: 'false' });
  const cdk = synthesized[stage];
  expect(countByType(packaged)).toEqual(countByType(cdk.Resources));
  expect(retained(packaged)).toEqual(retained(cdk.Resources));
  expect(retained(packaged).length > 0).toBe(stage === 'prod');
  const [table] = ofType(packaged, 'AWS::DynamoDB::Table');
  const [cdkTable] = ofType(cdk.Resources, 'AWS::DynamoDB::Table');
  expect(table!.Properties).toMatchObject({ TableName: `inventory-pipeline-${stage}-inventory`, DeletionProtectionEnabled: cdkTable!.Properties!.DeletionProtectionEnabled });
  expect(ofType(packaged, 'AWS::SQS::Queue').map((queue) => queue.Properties!.QueueName).sort()).toEqual(
    ofType(cdk.Resources, 'AWS::SQS::Queue').map((queue) => queue.Properties!.QueueName).sort(),
  );
});

test('with StoreScopedUploads=true the template deploys what `cdk synth -c storeScopedUploads=true` makes: the uploader policy and its output, the splitter told; false, neither', () => {
  const splitterVariable = (resources: Record<string, CfnResource>) => {
    const [splitter] = Object.entries(resources).filter(([id, resource]) => resource.Type === 'AWS::Lambda::Function' && id.startsWith('Splitter'));
    return (splitter![1].Properties!.Environment as { Variables: Record<string, unknown> }).Variables[settings.env.storeScopedUploads];
  };
  const policies = (resources: Record<string, CfnResource>) => ofType(resources, 'AWS::IAM::ManagedPolicy').map((policy) => policy.Properties!.PolicyDocument);
  const scoped = resolveFor(written.template, { [Parameter.stage]: 'prod', [Parameter.alertEmail]: '', [Parameter.storeScopedUploads]: 'true' });
  const cdk = synthesized.prodStoreScoped;
  expect(countByType(scoped)).toEqual(countByType(cdk.Resources));
  expect(policies(scoped)).toEqual(policies(cdk.Resources));
  expect(policies(scoped)).toHaveLength(1);
  expect(splitterVariable(scoped)).toBe('true');

  const plain = resolveFor(written.template, { [Parameter.stage]: 'prod', [Parameter.alertEmail]: '', [Parameter.storeScopedUploads]: 'false' });
  expect(policies(plain)).toEqual([]);
  expect(splitterVariable(plain)).toBe('false');
  // The output exists only where the policy does.
  const output = (written.template.Outputs as Record<string, { Condition?: string; Value: unknown }>).StoreUploaderPolicyArn;
  expect(output).toMatchObject({ Condition: expect.any(String) });
  const [policyId] = Object.entries(written.template.Resources).find(([, resource]) => resource.Type === 'AWS::IAM::ManagedPolicy')!;
  expect(output!.Value).toEqual({ Ref: policyId });
  expect(written.template.Resources[policyId]!.Condition).toBe(output!.Condition);
});

test('an alert email subscribes it to both topics; none, no subscription', () => {
  const subscriptions = (email: string) =>
    ofType(resolveFor(written.template, { [Parameter.stage]: 'prod', [Parameter.alertEmail]: email, [Parameter.storeScopedUploads]: 'false' }), 'AWS::SNS::Subscription');
  expect(subscriptions('')).toEqual([]);
  expect(subscriptions('ops@example.com').map((s) => s.Properties)).toEqual([
    expect.objectContaining({ Protocol: 'email', Endpoint: 'ops@example.com' }),
    expect.objectContaining({ Protocol: 'email', Endpoint: 'ops@example.com' }),
  ]);
});

test('cfn-lint finds nothing in the packaged template', () => {
  const { status, findings } = cfnLint([written.templateFile]);
  expect(findings.filter((finding) => finding.Level !== 'Informational').map(describeFinding)).toEqual([]);
  expect(status & (2 | 4)).toBe(0);
});

test('the quick-create link opens the console in the Region with the template and the code location filled in', () => {
  const link = new URL(quickCreateLink({ region: 'eu-west-1', templateUrl: 'https://b.s3.eu-west-1.amazonaws.com/p/InventoryPipeline.template.json', stage: 'prod', bucket: 'b', prefix: 'p/' }));
  expect(link.origin).toBe('https://eu-west-1.console.aws.amazon.com');
  const [route, query] = link.hash.split('?');
  expect(route).toBe('#/stacks/quickcreate');
  expect(Object.fromEntries(new URLSearchParams(query))).toEqual({
    templateURL: 'https://b.s3.eu-west-1.amazonaws.com/p/InventoryPipeline.template.json',
    stackName: 'InventoryPipeline-prod',
    param_Stage: 'prod',
    param_CodeBucket: 'b',
    param_CodeKeyPrefix: 'p/',
  });
});
