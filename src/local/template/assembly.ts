/**
 * Reading a cloud assembly — the directory `npx cdk synth -o DIR` writes: its manifest, each stack's
 * template, and the asset manifests that say which directory holds the code a function's
 * `Code.S3Key` names.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
}

export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown; Description?: string }>;
}

export interface AssemblyStack {
  /** The stack's name, as CloudFormation would know it. */
  name: string;
  templateFile: string;
  template: CfnTemplate;
  /** Where each file asset went: its object key in the assets bucket → its directory (or file) here. */
  assets: Map<string, string>;
}

export interface CloudAssembly {
  dir: string;
  stacks: AssemblyStack[];
}

/** The assembly cannot be used; the message says why in one sentence a user can act on. */
export class CloudAssemblyError extends Error {
  override name = 'CloudAssemblyError';
}

interface ManifestArtifact {
  type: string;
  properties?: { templateFile?: string; stackName?: string; file?: string };
  displayName?: string;
}

interface AssetManifest {
  files?: Record<string, { source: { path: string }; destinations: Record<string, { objectKey: string }> }>;
}

function readJson<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (error) {
    throw new CloudAssemblyError(`${what} ${path} cannot be read: ${(error as Error).message}`);
  }
}

export function readCloudAssembly(dir: string): CloudAssembly {
  const root = resolve(dir);
  const manifestFile = join(root, 'manifest.json');
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    throw new CloudAssemblyError(`${dir} is not a directory; write a cloud assembly there with \`npx cdk synth -o ${dir}\``);
  }
  if (!existsSync(manifestFile)) {
    throw new CloudAssemblyError(`${dir} is not a cloud assembly (it has no manifest.json); write one with \`npx cdk synth -o ${dir}\``);
  }
  const manifest = readJson<{ artifacts?: Record<string, ManifestArtifact> }>(manifestFile, 'The assembly manifest');
  const artifacts = Object.entries(manifest.artifacts ?? {});

  const assets = new Map<string, string>();
  for (const [, artifact] of artifacts.filter(([, a]) => a.type === 'cdk:asset-manifest' && a.properties?.file)) {
    const assetManifest = readJson<AssetManifest>(join(root, artifact.properties!.file!), 'The asset manifest');
    for (const file of Object.values(assetManifest.files ?? {})) {
      for (const destination of Object.values(file.destinations)) assets.set(destination.objectKey, resolve(root, file.source.path));
    }
  }

  const stacks = artifacts
    .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile)
    .map(([id, artifact]) => {
      const templateFile = join(root, artifact.properties!.templateFile!);
      const template = readJson<CfnTemplate>(templateFile, 'The stack template');
      if (typeof template.Resources !== 'object' || template.Resources === null) {
        throw new CloudAssemblyError(`The stack template ${templateFile} has no Resources`);
      }
      return { name: artifact.properties!.stackName ?? id, templateFile, template, assets };
    });
  if (stacks.length === 0) throw new CloudAssemblyError(`The cloud assembly in ${dir} holds no CloudFormation stack`);
  return { dir: root, stacks };
}

/** The one stack of the assembly that has Lambda event source mappings: the pipeline. */
export function pipelineStack(assembly: CloudAssembly): AssemblyStack {
  const withMappings = assembly.stacks.filter((stack) =>
    Object.values(stack.template.Resources).some((resource) => resource.Type === 'AWS::Lambda::EventSourceMapping'),
  );
  if (withMappings.length !== 1) {
    const names = assembly.stacks.map((stack) => stack.name).join(', ');
    throw new CloudAssemblyError(
      withMappings.length === 0
        ? `No stack in ${assembly.dir} (${names}) has a Lambda event source mapping: there is no pipeline to run`
        : `Several stacks in ${assembly.dir} have Lambda event source mappings (${withMappings.map((s) => s.name).join(', ')}); synthesize one stage at a time`,
    );
  }
  return withMappings[0]!;
}
