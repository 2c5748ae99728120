/**
 * How tools outside a deployed stack find its resources: the stack's name per stage and the
 * outputs it declares (cdk/inventory-stack.ts). CloudFormation names the bucket, so a stack's
 * outputs — not resourceNames() — are the way to it; the CLI's `status` and the load test read them.
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { clientConfig, type AwsOptions } from './aws';

export function stackName(stage: string): string {
  return `InventoryPipeline-${stage}`;
}

/** The outputs of cdk/inventory-stack.ts that other tools rely on. */
export const StackOutput = {
  UploadsBucketName: 'UploadsBucketName',
  InventoryTableName: 'InventoryTableName',
  UploadEventsQueueUrl: 'UploadEventsQueueUrl',
  UploadEventsDeadLetterQueueUrl: 'UploadEventsDeadLetterQueueUrl',
  RowsQueueUrl: 'RowsQueueUrl',
  RowsDeadLetterQueueUrl: 'RowsDeadLetterQueueUrl',
  AlertsDeadLetterQueueUrl: 'AlertsDeadLetterQueueUrl',
} as const;
export type StackOutput = (typeof StackOutput)[keyof typeof StackOutput];

/** A stack that lacks what a tool needs: one sentence to act on. */
export class StackOutputsError extends Error {
  override name = 'StackOutputsError';
}

export interface StackOutputs {
  stack: string;
  region: string;
  values: ReadonlyMap<string, string>;
  /** The output's value; a StackOutputsError naming the stack and the output if it has none. */
  required(key: StackOutput): string;
}

export async function readStackOutputs(stack: string, options: AwsOptions = {}): Promise<StackOutputs> {
  const cloudFormation = new CloudFormationClient(clientConfig(options));
  try {
    let described;
    try {
      described = await cloudFormation.send(new DescribeStacksCommand({ StackName: stack }));
    } catch (error) {
      // CloudFormation answers a missing stack with a ValidationError "Stack with id … does not exist".
      if (error instanceof Error && /does not exist/.test(error.message)) {
        throw new StackOutputsError(`there is no stack ${stack} in ${await cloudFormation.config.region()}: deploy it first, or name another stage or region`);
      }
      throw error;
    }
    const values = new Map((described.Stacks?.[0]?.Outputs ?? []).map((output) => [output.OutputKey ?? '', output.OutputValue ?? '']));
    return {
      stack,
      region: await cloudFormation.config.region(),
      values,
      required(key) {
        const value = values.get(key);
        if (!value) throw new StackOutputsError(`stack ${stack} has no output ${key}: is it an InventoryPipeline stack, deployed by this version of the project?`);
        return value;
      },
    };
  } finally {
    cloudFormation.destroy();
  }
}
