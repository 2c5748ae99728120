/**
 * The synthesized template, read from its cloud assembly and resolved for the local account and
 * region the way the local runtime deploys it: every name, ARN, environment variable, grant and
 * event source mapping comes out as the stack's settings say it should.
 */
import { existsSync } from 'node:fs';
import { pipelineStack, readCloudAssembly, type AssemblyStack } from '../../src/local/template/assembly';
import { eventSourceMappings } from '../../src/local/template/event-source-mappings';
import { mappedFunctionIds } from '../../src/local/template/functions';
import { LocalStack, localTarget } from '../../src/local/template/local-stack';
import type { ProvisionedResources } from '../../src/local/template/provision';
import { templateRole } from '../../src/local/template/roles';
import { TemplateResolutionError } from '../../src/local/template/intrinsics';
import { resourceNames, settings } from '../../src/shared/settings';
import { synthesizePipeline, type SynthesizedPipeline } from './synth';

const names = resourceNames('dev');
const account = '123456789012';
const region = 'us-east-1';
const queueUrl = (name: string) => `http://127.0.0.1:4566/${account}/${name}`;
const streamArn = `arn:aws:dynamodb:${region}:${account}:table/${names.table}/stream/2024-06-01T00:00:00.000`;

let pipeline: SynthesizedPipeline;
let assemblyStack: AssemblyStack;

beforeAll(() => {
  pipeline = synthesizePipeline({ context: { stage: 'dev' } });
  assemblyStack = pipelineStack(readCloudAssembly(pipeline.outdir));
});
afterAll(() => pipeline?.dispose());

/** The stack after its queues and table were created: what only the services can tell, recorded. */
function createdStack(): { stack: LocalStack; resources: ProvisionedResources } {
  const stack = new LocalStack(assemblyStack.template, localTarget(assemblyStack.name));
  const queues = stack.logicalIdsOf('AWS::SQS::Queue').map((logicalId) => {
    const name = stack.physicalName(logicalId);
    stack.record(logicalId, { QueueUrl: queueUrl(name) });
    return { logicalId, name, url: queueUrl(name), arn: stack.getAtt(logicalId, 'Arn') };
  });
  const [tableId] = stack.logicalIdsOf('AWS::DynamoDB::Table');
  stack.record(tableId!, { StreamArn: streamArn });
  const tables = [{ logicalId: tableId!, name: names.table, arn: stack.arn(tableId!), streamArn }];
  return { stack, resources: { queues, tables, topics: [], buckets: [] } };
}

const functionId = (stack: LocalStack, part: string) =>
  mappedFunctionIds(stack).find((id) => (stack.template.Resources[id]!.Metadata?.['aws:cdk:path'] as string).includes(`/${part}/`))!;

test("the assembly's stack and the bundled code of each of its three functions are found", () => {
  expect(assemblyStack.name).toBe('InventoryPipeline-dev');
  const { stack } = createdStack();
  const functions = mappedFunctionIds(stack);
  expect(functions).toHaveLength(3);
  for (const id of functions) {
    const { Code } = stack.properties(id) as { Code: { S3Key: string; S3Bucket: string } };
    // Without bundling (as here), the CDK names the project itself as each function's asset.
    expect(existsSync(assemblyStack.assets.get(Code.S3Key) ?? '')).toBe(true);
    // Fn::Sub of the pseudo parameters.
    expect(Code.S3Bucket).toBe(`cdk-hnb659fds-assets-${account}-${region}`);
  }
});

test("the functions' environment variables resolve to the local names, URLs and ARNs", () => {
  const { stack } = createdStack();
  const variables = (part: string) => (stack.properties(functionId(stack, part)) as { Environment: { Variables: Record<string, string> } }).Environment.Variables;
  expect(variables('Splitter')[settings.env.workQueueUrl]).toBe(queueUrl(names.workQueue));
  expect(variables('Writer')[settings.env.tableName]).toBe(names.table);
  expect(variables('Alerter')[settings.env.topicArn]).toBe(`arn:aws:sns:${region}:${account}:${names.topic}`);
});

test("each role's grants resolve to the resources they name", () => {
  const { stack } = createdStack();
  const statements = (part: string) => {
    const roleId = (stack.template.Resources[functionId(stack, part)]!.Properties!.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    return templateRole(stack, roleId).inlinePolicies.flatMap((policy) => [policy.document.Statement].flat());
  };
  const bucketArn = stack.arn(stack.logicalIdsOf('AWS::S3::Bucket').find((id) => id.startsWith('UploadsBucket'))!);
  expect(statements('Writer')).toContainEqual({ Action: 'dynamodb:UpdateItem', Effect: 'Allow', Resource: `arn:aws:dynamodb:${region}:${account}:table/${names.table}` });
  expect(statements('Splitter')).toContainEqual({ Action: ['s3:GetObject', 's3:GetObjectVersion'], Effect: 'Allow', Resource: `${bucketArn}/${settings.uploads.prefix}*` });
  expect(statements('Alerter')).toContainEqual({ Action: 'sns:Publish', Effect: 'Allow', Resource: `arn:aws:sns:${region}:${account}:${names.topic}` });
  expect(statements('Alerter')).toContainEqual(
    expect.objectContaining({ Action: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], Resource: streamArn }),
  );
});

test('the event source mappings carry the batching, concurrency, partial-batch, bisect, retry and on-failure settings of the stack', () => {
  const { stack, resources } = createdStack();
  const mappings = eventSourceMappings(stack, resources);
  const of = (part: string) => mappings.find((mapping) => mapping.functionLogicalId === functionId(stack, part))!;
  expect(of('Splitter')).toMatchObject({
    source: { type: 'sqs', queueUrl: queueUrl(names.uploadQueue) },
    batchSize: settings.splitter.batchSize,
    maximumBatchingWindowSeconds: 0,
    reportBatchItemFailures: true,
  });
  expect(of('Writer')).toMatchObject({
    source: { type: 'sqs', queueUrl: queueUrl(names.workQueue) },
    batchSize: settings.writer.batchSize,
    maximumBatchingWindowSeconds: settings.writer.maxBatchingWindowSeconds,
    maximumConcurrency: settings.writer.maxConcurrency,
    reportBatchItemFailures: true,
  });
  expect(of('Alerter')).toEqual(
    expect.objectContaining({
      source: expect.objectContaining({ type: 'dynamodb-stream', streamArn }),
      batchSize: settings.alerter.batchSize,
      maximumBatchingWindowSeconds: settings.alerter.maxBatchingWindowSeconds,
      bisectBatchOnFunctionError: true,
      maximumRetryAttempts: settings.alerter.retryAttempts,
      reportBatchItemFailures: true,
      startingPosition: 'TRIM_HORIZON',
      onFailure: { arn: `arn:aws:sqs:${region}:${account}:${names.alertDeadLetterQueue}`, queueUrl: queueUrl(names.alertDeadLetterQueue) },
    }),
  );
});

test("a value only the service can give (a queue's URL) is an error until the resource exists", () => {
  const stack = new LocalStack(assemblyStack.template, localTarget(assemblyStack.name));
  expect(() => stack.properties(functionId(stack, 'Splitter'))).toThrow(TemplateResolutionError);
  expect(() => stack.properties(functionId(stack, 'Splitter'))).toThrow(/QueueUrl is only known once .* has been created/);
});
