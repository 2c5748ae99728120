/**
 * Turns the synthesized stack into a template anyone can deploy from the CloudFormation console,
 * without the CDK: no bootstrap (no version parameter or rule, no CDK asset bucket), the functions'
 * code from a bucket and key prefix given as parameters, and the stage a parameter too.
 *
 * The stack makes choices at synth time (`keepsData`: retain or delete the data stores, deletion
 * protection, auto-deleting buckets; store-scoped uploads: the uploader policy, the splitter's
 * setting). So it is synthesized once per choice and the templates are merged under a condition, a
 * choice at a time: what differs becomes `Fn::If`, what only one has (resources, outputs) exists
 * under that condition, and the DeletionPolicy / UpdateReplacePolicy that differ become
 * `Fn::If` too — which CloudFormation allows with the AWS::LanguageExtensions transform
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/function-refs-in-policy-attributes.html).
 * Nothing here names a resource of the stack: it works on whatever the stack synthesizes.
 */
import { isDeepStrictEqual } from 'node:util';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Condition?: string;
  DependsOn?: string | string[];
  DeletionPolicy?: unknown;
  UpdateReplacePolicy?: unknown;
  Metadata?: Record<string, unknown>;
  [attribute: string]: unknown;
}

export interface CfnTemplate {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Transform?: string | string[];
  Metadata?: Record<string, unknown>;
  Parameters?: Record<string, Record<string, unknown>>;
  Rules?: Record<string, unknown>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, unknown>;
}

/** A template can't be merged: a stack change this packaging does not handle. One sentence to act on. */
export class OneClickError extends Error {
  override name = 'OneClickError';
}

const languageExtensions = 'AWS::LanguageExtensions';

/** `Ref`, `Fn::…` and `Condition` objects are values as a whole: two that differ are not merged inside. */
function isIntrinsic(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Condition' || keys[0]!.startsWith('Fn::'));
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && !isIntrinsic(value);

/** The value that is `whenTrue` under `condition` and `whenFalse` otherwise; `undefined` is "absent". */
function choose(condition: string, whenTrue: unknown, whenFalse: unknown): unknown {
  const noValue = { Ref: 'AWS::NoValue' };
  return { 'Fn::If': [condition, whenTrue === undefined ? noValue : whenTrue, whenFalse === undefined ? noValue : whenFalse] };
}

/** One value from two: equal parts kept, plain objects merged key by key, the rest chosen by `condition`. */
export function mergeValues(condition: string, whenTrue: unknown, whenFalse: unknown): unknown {
  if (isDeepStrictEqual(whenTrue, whenFalse)) return whenTrue;
  if (isPlainObject(whenTrue) && isPlainObject(whenFalse)) {
    const merged: Record<string, unknown> = {};
    for (const key of new Set([...Object.keys(whenTrue), ...Object.keys(whenFalse)])) merged[key] = mergeValues(condition, whenTrue[key], whenFalse[key]);
    return merged;
  }
  return choose(condition, whenTrue, whenFalse);
}

const dependencies = (resource: CfnResource) => (resource.DependsOn === undefined ? [] : Array.isArray(resource.DependsOn) ? resource.DependsOn : [resource.DependsOn]);

/** The condition for what only one variant has: `condition`, or `otherwise` for the false one's (where there is such a condition). */
function onlyIn(kind: string, id: string, only: { Condition?: unknown }, inTrue: boolean, condition: string, otherwise: string | undefined): string {
  if (only.Condition !== undefined) throw new OneClickError(`${kind} ${id} already has a condition (${String(only.Condition)}); packaging can't add its own`);
  if (inTrue) return condition;
  if (otherwise === undefined) throw new OneClickError(`${kind} ${id} exists only where ${condition} is false, and there is no condition for that`);
  return otherwise;
}

/** The outputs of both variants: those only one has under its condition, the others' differing values as Fn::If. */
function mergeOutputs(whenTrue: CfnTemplate, whenFalse: CfnTemplate, condition: string, otherwise: string | undefined): Record<string, unknown> | undefined {
  if (whenTrue.Outputs === undefined && whenFalse.Outputs === undefined) return undefined;
  const [onTrue, onFalse] = [whenTrue.Outputs ?? {}, whenFalse.Outputs ?? {}];
  const outputs: Record<string, unknown> = {};
  for (const id of new Set([...Object.keys(onFalse), ...Object.keys(onTrue)])) {
    const [inTrue, inFalse] = [onTrue[id] as Record<string, unknown> | undefined, onFalse[id] as Record<string, unknown> | undefined];
    outputs[id] =
      inTrue && inFalse ? mergeValues(condition, inTrue, inFalse) : { ...(inTrue ?? inFalse)!, Condition: onlyIn('output', id, (inTrue ?? inFalse)!, inTrue !== undefined, condition, otherwise) };
  }
  return outputs;
}

/**
 * Merges the template synthesized for a true `condition` with the one for a false one. Resources
 * and outputs only one has get `condition` (or `otherwise`, its negation, when given: a choice that
 * only adds resources needs none); `DependsOn`, which takes no functions, must be the same in both
 * and may name a conditional resource only from one under the same condition. Merged templates can
 * be merged again under another condition.
 */
export function mergeVariants(whenTrue: CfnTemplate, whenFalse: CfnTemplate, condition: string, otherwise?: string): CfnTemplate {
  const resources: Record<string, CfnResource> = {};
  let policiesChosen = false;
  const ids = [...new Set([...Object.keys(whenFalse.Resources), ...Object.keys(whenTrue.Resources)])];
  for (const id of ids) {
    const [onTrue, onFalse] = [whenTrue.Resources[id], whenFalse.Resources[id]];
    if (!onTrue || !onFalse) {
      const only = (onTrue ?? onFalse)!;
      resources[id] = { ...only, Condition: onlyIn('resource', id, only, onTrue !== undefined, condition, otherwise) };
      continue;
    }
    if (onTrue.Type !== onFalse.Type) throw new OneClickError(`resource ${id} is a ${onTrue.Type} in one variant and a ${onFalse.Type} in the other`);
    if (!isDeepStrictEqual(dependencies(onTrue), dependencies(onFalse))) {
      const listed = (resource: CfnResource) => dependencies(resource).join(', ') || 'none';
      throw new OneClickError(`resource ${id} depends on other resources in each variant (${listed(onTrue)} / ${listed(onFalse)}); DependsOn can't be conditional`);
    }
    const merged: CfnResource = { Type: onTrue.Type };
    for (const attribute of new Set([...Object.keys(onTrue), ...Object.keys(onFalse)])) {
      if (attribute === 'Type') continue;
      const value = mergeValues(condition, onTrue[attribute], onFalse[attribute]);
      if ((attribute === 'DeletionPolicy' || attribute === 'UpdateReplacePolicy') && !isDeepStrictEqual(onTrue[attribute], onFalse[attribute])) {
        policiesChosen = true;
      }
      if (value !== undefined) merged[attribute] = value;
    }
    resources[id] = merged;
  }
  for (const [id, resource] of Object.entries(resources)) {
    for (const dependency of dependencies(resource)) {
      const target = resources[dependency]?.Condition;
      if (target !== undefined && target !== resource.Condition) {
        throw new OneClickError(`resource ${id} depends on ${dependency}, which exists only under the condition ${target}`);
      }
    }
  }
  const outputs = mergeOutputs(whenTrue, whenFalse, condition, otherwise);
  const merged: CfnTemplate = { ...whenFalse, Resources: resources, ...(outputs === undefined ? {} : { Outputs: outputs }) };
  for (const section of ['Parameters', 'Conditions', 'Rules', 'Metadata'] as const) {
    if (!isDeepStrictEqual(whenTrue[section], whenFalse[section])) throw new OneClickError(`the variants' ${section} differ; only resources and outputs may`);
  }
  if (policiesChosen || whenTrue.Transform !== undefined) merged.Transform = languageExtensions;
  return merged;
}

/** Where a function's code is: the object key the synthesizer would have published it under. */
export interface CodeAsset {
  /** The S3 key in the CDK's asset bucket (`<hash>.zip`). */
  objectKey: string;
  /** The zip's file name in the package, and its key below the code prefix. */
  fileName: string;
}

/**
 * Points every `Code` / `Content` that names one of `assets` at the code bucket and key prefix
 * parameters, and drops the CDK's asset metadata (paths in a cloud assembly that isn't shipped).
 */
export function relocateCode(template: CfnTemplate, assets: readonly CodeAsset[], bucketParameter: string, prefixParameter: string): CfnTemplate {
  const byKey = new Map(assets.map((asset) => [asset.objectKey, asset]));
  const relocate = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(relocate);
    if (value === null || typeof value !== 'object') return value;
    const object = value as Record<string, unknown>;
    const asset = typeof object.S3Key === 'string' ? byKey.get(object.S3Key) : undefined;
    if (asset && 'S3Bucket' in object) {
      return { ...object, S3Bucket: { Ref: bucketParameter }, S3Key: { 'Fn::Sub': `\${${prefixParameter}}${asset.fileName}` } };
    }
    return Object.fromEntries(Object.entries(object).map(([key, inner]) => [key, relocate(inner)]));
  };
  const resources: Record<string, CfnResource> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    const metadata = Object.fromEntries(Object.entries(resource.Metadata ?? {}).filter(([key]) => !key.startsWith('aws:asset:')));
    const { Metadata: _metadata, ...rest } = resource;
    resources[id] = { ...(relocate(rest) as CfnResource), ...(Object.keys(metadata).length > 0 ? { Metadata: metadata } : {}) };
  }
  const remaining = JSON.stringify(resources).match(/cdk-[a-z0-9]+-assets-/);
  if (remaining) throw new OneClickError(`a resource still names the CDK asset bucket (${remaining[0]}…): an asset packaging does not know`);
  return { ...template, Resources: resources };
}

/** Whether a value references the parameter `name` (with Ref or inside Fn::Sub). */
function references(value: unknown, name: string): boolean {
  if (Array.isArray(value)) return value.some((item) => references(item, name));
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([key, inner]) =>
    (key === 'Ref' && inner === name) || (key === 'Fn::Sub' && JSON.stringify(inner).includes(`\${${name}}`)) || references(inner, name),
  );
}

/** Resources whose properties use the parameter `name` exist only under `condition` (e.g. subscriptions of an optional email). */
export function requireParameter(template: CfnTemplate, name: string, condition: string): CfnTemplate {
  const resources: Record<string, CfnResource> = {};
  for (const [id, resource] of Object.entries(template.Resources)) {
    if (!references(resource.Properties, name)) {
      resources[id] = resource;
      continue;
    }
    if (resource.Condition !== undefined && resource.Condition !== condition) {
      throw new OneClickError(`resource ${id} uses ${name} and already has the condition ${resource.Condition}`);
    }
    resources[id] = { ...resource, Condition: condition };
  }
  return { ...template, Resources: resources };
}
