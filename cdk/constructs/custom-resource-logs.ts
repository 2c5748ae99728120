/**
 * Log groups for the functions aws-cdk-lib adds by itself: the custom-resource handlers that apply
 * the bucket notifications and, in dev, empty the buckets on `cdk destroy`. Left alone, Lambda
 * creates `/aws/lambda/<name>` on their first run, keeps it forever and leaves it behind on destroy.
 * Here each gets a log group of the stack with the pipeline's retention, which goes (or stays) with
 * the stack like the pipeline functions' own logs. Create it last: it covers the functions that
 * exist by then, and the template tests check that every function has a log group.
 */
import { CfnResource, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { settings } from '../../src/shared/settings';
import { logRetention } from './pipeline-function';

export interface CustomResourceLogsProps {
  removalPolicy: RemovalPolicy;
}

/** A function resource that names no log group of its own (a CfnFunction, or a provider's raw CfnResource). */
function isFunctionWithoutLogGroup(construct: Construct): construct is CfnResource {
  if (!(construct instanceof CfnResource) || construct.cfnResourceType !== CfnFunction.CFN_RESOURCE_TYPE_NAME) return false;
  return !(construct instanceof CfnFunction) || construct.loggingConfig === undefined;
}

export class CustomResourceLogs extends Construct {
  constructor(scope: Construct, id: string, props: CustomResourceLogsProps) {
    super(scope, id);
    for (const fn of Stack.of(this).node.findAll().filter(isFunctionWithoutLogGroup)) {
      // Named after the construct that owns the function (e.g. the auto-delete-objects provider).
      const logGroup = new LogGroup(this, fn.node.scope!.node.id, {
        retention: logRetention(settings.observability.logRetentionDays),
        removalPolicy: props.removalPolicy,
      });
      // Lambda's advanced logging controls: the function writes here (its role may write any log
      // group), and CloudFormation deletes the function before its log group.
      fn.addPropertyOverride('LoggingConfig.LogGroup', logGroup.logGroupName);
    }
  }
}
