/**
 * `npm run package -- --out DIR [--bucket B] [--prefix P] [--region R]`: the one-click deployment —
 * DIR/InventoryPipeline.template.json, which needs no CDK bootstrap, and the functions' zip files it
 * takes from a bucket and key prefix given as parameters, with the stage, the alert email and
 * store-scoped uploads as parameters too. With --bucket (and --region) it prints the exact upload
 * commands and the CloudFormation quick-create link.
 *
 * Exit status: 0 when the package is written, 2 for a usage error or a stack it cannot package.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { App, CfnParameter, DefaultStackSynthesizer, Fn, type Stack } from 'aws-cdk-lib';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { Command, CommanderError } from 'commander';
import { zipSync, type Zippable } from 'fflate';
import { settings } from '../src/shared/settings';
import { addPipelineStack } from './app';
import { readDeployment, type Stage } from './deployment';
import { mergeVariants, relocateCode, requireParameter, type CfnTemplate, type CodeAsset } from './one-click';

const projectRoot = join(__dirname, '..');
const { context: cdkContext, version } = {
  context: (JSON.parse(readFileSync(join(projectRoot, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context,
  version: (JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as { version: string }).version,
};

/** The package's name: its template is `<name>.template.json`, and the stack name it suggests starts with it. */
export const packageName = 'InventoryPipeline';

export const Parameter = {
  stage: 'Stage',
  alertEmail: 'AlertEmail',
  storeScopedUploads: 'StoreScopedUploads',
  codeBucket: 'CodeBucket',
  codeKeyPrefix: 'CodeKeyPrefix',
} as const;
const Condition = { keepsData: 'KeepsData', disposesData: 'DisposesData', hasAlertEmail: 'HasAlertEmail', storeScoped: 'StoreScoped' } as const;

/** The parameters the stack's tokens refer to, declared in the stack so the CDK's own template validation sees them. */
function declareParameters(stack: Stack): void {
  new CfnParameter(stack, Parameter.stage, {
    allowedValues: [settings.stage.default, settings.stage.production],
    default: settings.stage.default,
    description:
      `${settings.stage.default}: everything is deleted with the stack. ${settings.stage.production}: the uploads and access-log buckets, ` +
      'the inventory table and the log groups are kept when the stack is deleted, and the table is deletion-protected. ' +
      'Resource names are inventory-pipeline-<stage>-…, so one stack per stage and Region.',
  });
  new CfnParameter(stack, Parameter.alertEmail, {
    default: '',
    allowedPattern: '^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
    constraintDescription: 'must be an email address, or empty',
    description: 'Subscribed to the low-stock alerts and to the alarms (AWS asks it to confirm each). Empty: no subscription.',
  });
}

/** What the packaging itself adds: where the code is, the choices its merging made conditional, and the conditions they and the optional email use. */
function withPackageParameters(template: CfnTemplate): CfnTemplate {
  return {
    ...template,
    Parameters: {
      ...template.Parameters,
      [Parameter.storeScopedUploads]: {
        Type: 'String',
        AllowedValues: ['false', 'true'],
        Default: String(settings.uploads.storeScoped),
        Description:
          `true: each upload goes to ${settings.uploads.prefix}<store>/<name>.csv and may hold rows for that store only (its store column is then optional), ` +
          `and the stack outputs StoreUploaderPolicyArn, a managed policy to attach to each store's uploader role, tagged ${settings.uploads.storeTag}=<its store>. ` +
          `false: uploads anywhere under ${settings.uploads.prefix}, with rows for any store.`,
      },
      [Parameter.codeBucket]: {
        Type: 'String',
        AllowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
        ConstraintDescription: 'must be an S3 bucket name',
        Description: "A bucket in this stack's Region holding the functions' zip files (see the README: one-click CloudFormation).",
      },
      [Parameter.codeKeyPrefix]: {
        Type: 'String',
        Default: `inventory-pipeline/${version}/`,
        Description: 'The key prefix of the zip files in that bucket, ending in a slash (or empty).',
      },
    },
    Conditions: {
      ...template.Conditions,
      [Condition.keepsData]: { 'Fn::Equals': [{ Ref: Parameter.stage }, settings.stage.production] },
      [Condition.disposesData]: { 'Fn::Not': [{ Condition: Condition.keepsData }] },
      [Condition.hasAlertEmail]: { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: Parameter.alertEmail }, ''] }] },
      [Condition.storeScoped]: { 'Fn::Equals': [{ Ref: Parameter.storeScopedUploads }, 'true'] },
    },
  };
}

interface Variant {
  template: CfnTemplate;
  outdir: string;
  assetsFile: string;
}

/** The synth-time choices the package turns into parameters: one variant is synthesized for each combination. */
interface Choices {
  keepsData: boolean;
  storeScopedUploads: boolean;
}

/**
 * The stack synthesized with the stage and alert email as parameters and one combination of choices.
 * Only one variant bundles the functions (esbuild, seconds each); the others' code is taken from it.
 */
function synthesizeVariant({ keepsData, storeScopedUploads }: Choices, bundle: boolean): Variant {
  const outdir = mkdtempSync(join(tmpdir(), 'inventory-package-'));
  const app = new App({ outdir, context: { ...cdkContext, ...(bundle ? {} : { [BUNDLING_STACKS]: [] }) } });
  const stack = addPipelineStack(app, {
    deployment: {
      ...readDeployment(app.node),
      // A parameter's token where the stack expects a stage: names and tags become Fn::Join of it.
      stage: Fn.ref(Parameter.stage) as Stage,
      keepsData,
      storeScopedUploads,
      alertEmail: Fn.ref(Parameter.alertEmail),
    },
    stackId: packageName,
    description: 'Inventory pipeline: store CSV uploads to a DynamoDB inventory with low-stock alerts (one-click template; the stage is a parameter)',
    synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }),
  });
  declareParameters(stack);
  const artifact = app.synth().getStackByName(stack.stackName);
  return { template: artifact.template as CfnTemplate, outdir, assetsFile: join(outdir, `${artifact.stackName}.assets.json`) };
}

interface AssetManifest {
  files: Record<string, { source: { path: string; packaging?: 'zip' | 'file' }; destinations: Record<string, { objectKey: string }> }>;
}

/** The file assets the template uses, with where their content is in the cloud assembly. */
function codeAssets(variant: Variant): (CodeAsset & { source: string; packaging: 'zip' | 'file' })[] {
  const manifest = JSON.parse(readFileSync(variant.assetsFile, 'utf8')) as AssetManifest;
  const templateText = JSON.stringify(variant.template.Resources);
  return Object.values(manifest.files).flatMap((file) => {
    const objectKey = Object.values(file.destinations)[0]!.objectKey;
    if (!templateText.includes(`"${objectKey}"`)) return []; // the template itself, published by the CLI
    return [{ objectKey, fileName: objectKey, source: join(variant.outdir, file.source.path), packaging: file.source.packaging ?? 'file' }];
  });
}

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true })
    .flatMap((entry) => (entry.isDirectory() ? filesUnder(join(directory, entry.name)) : [join(directory, entry.name)]))
    .sort();
}

/** A zip of a directory that is the same for the same files: fixed times, sorted entries, read-only for all. */
function zipDirectory(directory: string): Uint8Array {
  const entries: Zippable = {};
  for (const file of filesUnder(directory)) {
    entries[relative(directory, file).split('\\').join('/')] = [readFileSync(file), { mtime: new Date('1980-01-02T00:00:00Z'), os: 3, attrs: 0o100644 << 16 }];
  }
  return zipSync(entries, { level: 9 });
}

/** The console form: parameters grouped and labelled. */
function consoleInterface(): Record<string, unknown> {
  return {
    'AWS::CloudFormation::Interface': {
      ParameterGroups: [
        { Label: { default: 'Pipeline' }, Parameters: [Parameter.stage, Parameter.alertEmail, Parameter.storeScopedUploads] },
        { Label: { default: "Functions' code (uploaded from the package)" }, Parameters: [Parameter.codeBucket, Parameter.codeKeyPrefix] },
      ],
      ParameterLabels: {
        [Parameter.stage]: { default: 'Stage' },
        [Parameter.alertEmail]: { default: 'Alert email (optional)' },
        [Parameter.storeScopedUploads]: { default: 'Store-scoped uploads' },
        [Parameter.codeBucket]: { default: 'Code bucket' },
        [Parameter.codeKeyPrefix]: { default: 'Code key prefix' },
      },
    },
  };
}

export interface Package {
  templateFile: string;
  zipFiles: string[];
  template: CfnTemplate;
}

/** Synthesizes, merges and writes the package to `out`. */
export function writePackage(out: string): Package {
  const bundled = synthesizeVariant({ keepsData: false, storeScopedUploads: false }, true);
  const variants = [bundled];
  try {
    const variant = (choices: Choices): Variant => {
      if (!choices.keepsData && !choices.storeScopedUploads) return bundled;
      const synthesized = synthesizeVariant(choices, false);
      variants.push(synthesized);
      // Not bundled: its functions run the bundled variant's code.
      for (const [id, resource] of Object.entries(synthesized.template.Resources)) {
        const code = bundled.template.Resources[id];
        if (resource.Properties?.Code !== undefined && code?.Properties?.Code !== undefined) {
          resource.Properties.Code = code.Properties.Code;
          resource.Metadata = code.Metadata;
        }
      }
      return synthesized;
    };
    const assets = codeAssets(bundled);
    // The stage's choice, for each choice of store-scoped uploads; then that choice, which only adds (the uploader policy).
    const byStage = (storeScopedUploads: boolean) =>
      mergeVariants(
        variant({ keepsData: true, storeScopedUploads }).template,
        variant({ keepsData: false, storeScopedUploads }).template,
        Condition.keepsData,
        Condition.disposesData,
      );
    let template = mergeVariants(byStage(true), byStage(false), Condition.storeScoped);
    template = relocateCode(template, assets, Parameter.codeBucket, Parameter.codeKeyPrefix);
    template = requireParameter(template, Parameter.alertEmail, Condition.hasAlertEmail);
    template = { AWSTemplateFormatVersion: '2010-09-09', ...withPackageParameters(template), Metadata: { ...template.Metadata, ...consoleInterface() } };

    mkdirSync(out, { recursive: true });
    const templateFile = join(out, `${packageName}.template.json`);
    writeFileSync(templateFile, `${JSON.stringify(template, null, 1)}\n`);
    const zipFiles = assets.map((asset) => {
      const target = join(out, asset.fileName);
      writeFileSync(target, asset.packaging === 'zip' ? zipDirectory(asset.source) : readFileSync(asset.source));
      return target;
    });
    return { templateFile, zipFiles, template };
  } finally {
    for (const variant of variants) rmSync(variant.outdir, { recursive: true, force: true });
  }
}

/** The console's quick-create page for the template, its form filled in. */
export function quickCreateLink(options: { region: string; templateUrl: string; stage: string; bucket: string; prefix: string }): string {
  const query = new URLSearchParams({
    templateURL: options.templateUrl,
    stackName: `${packageName}-${options.stage}`,
    [`param_${Parameter.stage}`]: options.stage,
    [`param_${Parameter.codeBucket}`]: options.bucket,
    [`param_${Parameter.codeKeyPrefix}`]: options.prefix,
  });
  return `https://${options.region}.console.aws.amazon.com/cloudformation/home?region=${options.region}#/stacks/quickcreate?${query.toString()}`;
}

function instructions(written: Package, out: string, options: { bucket?: string; prefix: string; region?: string }): string {
  const { bucket, region, prefix } = options;
  const templateKey = `${prefix}${packageName}.template.json`;
  const link =
    bucket !== undefined && region !== undefined
      ? quickCreateLink({ region, templateUrl: `https://${bucket}.s3.${region}.amazonaws.com/${templateKey}`, stage: settings.stage.default, bucket, prefix })
      : `https://<region>.console.aws.amazon.com/cloudformation/home?region=<region>#/stacks/quickcreate?templateURL=https://<bucket>.s3.<region>.amazonaws.com/${templateKey}` +
        `&stackName=${packageName}-${settings.stage.default}&param_${Parameter.codeBucket}=<bucket>&param_${Parameter.codeKeyPrefix}=${prefix}`;
  const lines = [
    `Wrote ${written.templateFile} and ${written.zipFiles.length} zip file(s) of the functions' code to ${out}.`,
    '',
    `1. Copy them to a bucket in the Region to deploy to:`,
    `   aws s3 cp ${out} s3://${bucket ?? '<bucket>'}/${prefix} --recursive --region ${region ?? '<region>'}`,
    '2. Open the quick-create link, check the form, tick the acknowledgements, Create stack:',
    `   ${link}`,
  ];
  return `${lines.join('\n')}\n`;
}

function main(argv: string[]): number {
  const cli = new Command('package')
    .description('Write the one-click CloudFormation template (no CDK bootstrap needed) and the functions’ zip files.')
    .requiredOption('--out <dir>', 'where to write <name>.template.json and the zip files')
    .option('--bucket <bucket>', 'the bucket you will copy them to (fills in the printed commands and link)')
    .option('--prefix <prefix>', 'the key prefix in that bucket', `inventory-pipeline/${version}/`)
    .option('--region <region>', 'the Region to deploy to')
    .exitOverride();
  try {
    cli.parse(argv);
  } catch (error) {
    return error instanceof CommanderError && error.exitCode === 0 ? 0 : 2;
  }
  const options = cli.opts<{ out: string; bucket?: string; prefix: string; region?: string }>();
  if (statSync(options.out, { throwIfNoEntry: false })?.isFile()) throw new Error(`--out ${options.out} is a file, not a directory`);
  const written = writePackage(options.out);
  process.stdout.write(instructions(written, options.out, options));
  return 0;
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv);
  } catch (error) {
    process.stderr.write(`package: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  }
}
