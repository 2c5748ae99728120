/**
 * The stack's resources as they exist locally: each one's physical name (the template's, or one
 * generated the way CloudFormation does for resources it names itself) and the values `Ref` and
 * `Fn::GetAtt` give for it in the local account and region. ARNs follow from names; what only the
 * service can tell (a queue's URL, a table's stream ARN) is recorded as each resource is created.
 */
import type { CfnTemplate } from './assembly';
import { TemplateResolutionError, TemplateResolver, type DeploymentTarget, type References } from './intrinsics';

/** moto's default account; any region will do for a local endpoint. */
export function localTarget(stackName: string): DeploymentTarget {
  return { account: '123456789012', region: 'us-east-1', partition: 'aws', stackName };
}

/** The property that names a resource of each type, where the template may name it. */
const nameProperty: Record<string, string> = {
  'AWS::SQS::Queue': 'QueueName',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::DynamoDB::Table': 'TableName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::Policy': 'PolicyName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::Lambda::Function': 'FunctionName',
  'AWS::Logs::LogGroup': 'LogGroupName',
};

export class LocalStack implements References {
  readonly resolver: TemplateResolver;
  /** Attributes only the service knows, recorded when each resource is created. */
  private readonly created = new Map<string, Record<string, string>>();

  constructor(
    readonly template: CfnTemplate,
    readonly target: DeploymentTarget,
  ) {
    this.resolver = new TemplateResolver(target, this);
  }

  /** The logical IDs of the resources of a type, in template order. */
  logicalIdsOf(type: string): string[] {
    return Object.entries(this.template.Resources)
      .filter(([, resource]) => resource.Type === type)
      .map(([logicalId]) => logicalId);
  }

  typeOf(logicalId: string): string {
    const resource = this.template.Resources[logicalId];
    if (!resource) throw new TemplateResolutionError(`the template has no resource ${logicalId}`);
    return resource.Type;
  }

  /** A resource's properties with every intrinsic evaluated. */
  properties(logicalId: string): Record<string, unknown> {
    this.typeOf(logicalId);
    return (this.resolver.resolve(this.template.Resources[logicalId]!.Properties ?? {}) as Record<string, unknown>) ?? {};
  }

  record(logicalId: string, attributes: Record<string, string>): void {
    this.created.set(logicalId, { ...this.created.get(logicalId), ...attributes });
  }

  /** The resource's name: the template's, else `<stack>-<logical ID>` (lower case for buckets, which must be). */
  physicalName(logicalId: string): string {
    const type = this.typeOf(logicalId);
    const property = nameProperty[type];
    const given = property ? this.template.Resources[logicalId]!.Properties?.[property] : undefined;
    if (given !== undefined) return this.resolver.resolveString(given, `${logicalId}.${property}`);
    const generated = `${this.target.stackName}-${logicalId}`;
    return type === 'AWS::S3::Bucket' ? generated.toLowerCase().slice(0, 63) : generated.slice(0, 64);
  }

  ref(logicalId: string): string {
    const type = this.typeOf(logicalId);
    if (type === 'AWS::SNS::Topic') return this.arn(logicalId);
    if (type === 'AWS::SQS::Queue') return this.createdValue(logicalId, 'QueueUrl');
    return this.physicalName(logicalId);
  }

  getAtt(logicalId: string, attribute: string): string {
    const type = this.typeOf(logicalId);
    const known = this.created.get(logicalId)?.[attribute];
    if (known !== undefined) return known;
    const name = () => this.physicalName(logicalId);
    switch (`${type}.${attribute}`) {
      case 'AWS::SQS::Queue.Arn':
      case 'AWS::SNS::Topic.TopicArn':
      case 'AWS::DynamoDB::Table.Arn':
      case 'AWS::S3::Bucket.Arn':
      case 'AWS::IAM::Role.Arn':
      case 'AWS::Lambda::Function.Arn':
      case 'AWS::Logs::LogGroup.Arn':
      case 'AWS::KMS::Key.Arn':
        return this.arn(logicalId);
      case 'AWS::SQS::Queue.QueueName':
      case 'AWS::SNS::Topic.TopicName':
        return name();
      case 'AWS::SQS::Queue.QueueUrl':
      case 'AWS::DynamoDB::Table.StreamArn':
        return this.createdValue(logicalId, attribute);
      case 'AWS::S3::Bucket.DomainName':
        return `${name()}.s3.amazonaws.com`;
      case 'AWS::S3::Bucket.RegionalDomainName':
        return `${name()}.s3.${this.target.region}.amazonaws.com`;
      default:
        throw new TemplateResolutionError(`Fn::GetAtt ${logicalId}.${attribute} (${type}) is not known to the local runtime`);
    }
  }

  /** The ARN of a resource, from its name, in the local account and region. */
  arn(logicalId: string): string {
    const { partition, region, account } = this.target;
    const name = this.physicalName(logicalId);
    const type = this.typeOf(logicalId);
    switch (type) {
      case 'AWS::SQS::Queue':
        return `arn:${partition}:sqs:${region}:${account}:${name}`;
      case 'AWS::SNS::Topic':
        return `arn:${partition}:sns:${region}:${account}:${name}`;
      case 'AWS::DynamoDB::Table':
        return `arn:${partition}:dynamodb:${region}:${account}:table/${name}`;
      case 'AWS::S3::Bucket':
        return `arn:${partition}:s3:::${name}`;
      case 'AWS::IAM::Role':
        return `arn:${partition}:iam::${account}:role/${name}`;
      case 'AWS::Lambda::Function':
        return `arn:${partition}:lambda:${region}:${account}:function:${name}`;
      case 'AWS::Logs::LogGroup':
        return `arn:${partition}:logs:${region}:${account}:log-group:${name}:*`;
      case 'AWS::KMS::Key':
        return `arn:${partition}:kms:${region}:${account}:key/${name}`;
      default:
        throw new TemplateResolutionError(`the local runtime does not know the ARN of ${logicalId} (${type})`);
    }
  }

  private createdValue(logicalId: string, attribute: string): string {
    const value = this.created.get(logicalId)?.[attribute];
    if (value === undefined) throw new TemplateResolutionError(`${logicalId}.${attribute} is only known once ${logicalId} has been created`);
    return value;
  }
}
