/**
 * Synthesizes the CDK app the way `npx cdk synth` does — same entry (buildApp), same cdk.json
 * context, the metadata the CLI asks for — into a temporary directory the caller disposes of.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BUNDLING_STACKS, PATH_METADATA_ENABLE_CONTEXT } from 'aws-cdk-lib/cx-api';
import { buildApp } from '../../cdk/app';
import type { InventoryStack } from '../../cdk/inventory-stack';

const cdkJson = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
/** What the CDK CLI adds to every synth: resources carry their construct path and asset location. */
const cliContext = { [PATH_METADATA_ENABLE_CONTEXT]: true, 'aws:cdk:enable-asset-metadata': true };

export interface SynthesizedPipeline {
  app: App;
  stack: InventoryStack;
  template: Template;
  /** The cloud assembly directory: templates, bundled assets, validation report. */
  outdir: string;
  dispose(): void;
}

export interface SynthOptions {
  /** `-c` values, as on the command line. */
  context?: Record<string, string>;
  /**
   * Bundle the functions with esbuild, as a synth for deployment does. Without it the template is
   * the same but for asset hashes; only the test that inspects the bundles needs them.
   */
  bundle?: boolean;
  /**
   * Run the CDK's built-in CloudFormation validation, as `cdk synth` does. It leaves the template
   * as it is and costs seconds per test file, so only the validation test asks for it.
   */
  validate?: boolean;
}

export function synthesizePipeline({ context = {}, bundle = false, validate = false }: SynthOptions = {}): SynthesizedPipeline {
  const outdir = mkdtempSync(join(tmpdir(), 'inventory-cdk-'));
  const app = new App({
    outdir,
    builtinCloudFormationValidation: validate,
    context: { ...cdkJson.context, ...cliContext, ...context, ...(bundle ? {} : { [BUNDLING_STACKS]: [] }) },
  });
  const stack = buildApp(app);
  const template = Template.fromStack(stack);
  return { app, stack, template, outdir, dispose: () => rmSync(outdir, { recursive: true, force: true }) };
}
