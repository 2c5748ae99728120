/**
 * Where the pipeline's alarms notify the people who run it — separate from the alerts topic, which
 * carries business events (LOW_STOCK / RESTOCKED) to whoever consumes them.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface OperationsTopicProps {
  alertEmail?: string;
}

export class OperationsTopic extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, props: OperationsTopicProps) {
    super(scope, id);
    const { account, region, partition } = Stack.of(this);
    const cloudWatch = new ServicePrincipal('cloudwatch.amazonaws.com');
    const fromOurAlarms = {
      StringEquals: { 'aws:SourceAccount': account },
      ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` },
    };

    // A key of our own: CloudWatch alarms can't publish to a topic under the AWS-managed SNS key,
    // whose policy can't grant them. It only ever protects alarm notifications, so it may go with
    // the stack in every stage. Which alarms may publish is decided by the topic policy below; the
    // key statement stays unconditioned, as AWS documents it for CloudWatch.
    const key = new Key(this, 'Key', {
      description: 'Encrypts the inventory pipeline operations topic (alarm notifications)',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToEncrypt',
        principals: [cloudWatch],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
      }),
    );

    this.topic = new Topic(this, 'Topic', { masterKey: key, enforceSSL: true, signatureVersion: '2' });
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowOurCloudWatchAlarmsToPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: fromOurAlarms,
      }),
    );
    if (props.alertEmail) this.topic.addSubscription(new EmailSubscription(props.alertEmail));
  }
}
