/**
 * The functions the pipeline runs: every `AWS::Lambda::Function` an event source mapping invokes,
 * with what Lambda needs to run it — its bundled code's directory (from the assets manifest), handler,
 * runtime, timeout, memory, resolved environment variables and execution role. (The CDK's custom
 * resource handlers run at deploy time only; the local runtime does their work itself.)
 */
import { existsSync } from 'node:fs';
import { CloudAssemblyError } from './assembly';
import type { LocalStack } from './local-stack';

export interface TemplateFunction {
  logicalId: string;
  /** The name reports use: the function's construct id in lower case ("writer"), else its logical ID. */
  name: string;
  physicalName: string;
  arn: string;
  runtime: string;
  handler: string;
  codeDirectory: string;
  timeoutSeconds: number;
  memoryMb: number;
  variables: Record<string, string>;
  roleLogicalId: string;
}

/** `Stack/Writer/Resource` (the CDK's path metadata) → `writer`. */
function reportName(logicalId: string, metadata: Record<string, unknown> | undefined): string {
  const path = metadata?.['aws:cdk:path'];
  const segments = typeof path === 'string' ? path.split('/') : [];
  return segments.length >= 3 && segments.at(-1) === 'Resource' ? segments.at(-2)!.toLowerCase() : logicalId;
}

/** The logical ID a `Ref` or `Fn::GetAtt` in the template points at. */
export function referencedLogicalId(value: unknown, where: string): string {
  const reference = value as { Ref?: unknown; 'Fn::GetAtt'?: unknown };
  if (typeof reference?.Ref === 'string') return reference.Ref;
  const getAtt = reference?.['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0]!;
  throw new CloudAssemblyError(`${where} does not refer to a resource of the stack (${JSON.stringify(value)})`);
}

/** The functions the stack's event source mappings invoke, in template order. */
export function mappedFunctionIds(stack: LocalStack): string[] {
  const ids = stack
    .logicalIdsOf('AWS::Lambda::EventSourceMapping')
    .map((mappingId) => referencedLogicalId(stack.template.Resources[mappingId]!.Properties?.FunctionName, `${mappingId}.FunctionName`));
  return stack.logicalIdsOf('AWS::Lambda::Function').filter((id) => ids.includes(id));
}

/** A mapped function, resolved. Its environment may name any resource, so provision them first. */
export function templateFunction(stack: LocalStack, logicalId: string, assets: Map<string, string>): TemplateFunction {
  const resource = stack.template.Resources[logicalId]!;
  const properties = stack.properties(logicalId) as {
    Code?: { S3Key?: string; ZipFile?: string };
    Handler?: string;
    Runtime?: string;
    Timeout?: number;
    MemorySize?: number;
    Environment?: { Variables?: Record<string, unknown> };
  };
  const objectKey = properties.Code?.S3Key;
  const codeDirectory = objectKey === undefined ? undefined : assets.get(objectKey);
  if (codeDirectory === undefined || !existsSync(codeDirectory)) {
    throw new CloudAssemblyError(
      `function ${logicalId}'s code (${objectKey ?? 'inline'}) is not a bundled asset of the assembly; synthesize it with \`npx cdk synth -o DIR\` (bundling on)`,
    );
  }
  if (!properties.Runtime?.startsWith('nodejs') || !properties.Handler) {
    throw new CloudAssemblyError(`function ${logicalId} is not a Node.js function with a handler (Runtime ${properties.Runtime ?? 'none'})`);
  }
  return {
    logicalId,
    name: reportName(logicalId, resource.Metadata),
    physicalName: stack.physicalName(logicalId),
    arn: stack.arn(logicalId),
    runtime: properties.Runtime,
    handler: properties.Handler,
    codeDirectory,
    // Lambda's defaults, when the template leaves them out.
    timeoutSeconds: properties.Timeout ?? 3,
    memoryMb: properties.MemorySize ?? 128,
    variables: Object.fromEntries(Object.entries(properties.Environment?.Variables ?? {}).map(([name, value]) => [name, String(value)])),
    roleLogicalId: referencedLogicalId(resource.Properties?.Role, `${logicalId}.Role`),
  };
}

