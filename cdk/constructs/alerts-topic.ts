/** The LOW_STOCK / RESTOCKED alerts the alerter publishes, for whoever subscribes downstream. */
import { Alias } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';

export interface AlertsTopicProps {
  topicName: string;
  alertEmail?: string;
}

export class AlertsTopic extends Topic {
  constructor(scope: Construct, id: string, props: AlertsTopicProps) {
    super(scope, id, {
      topicName: props.topicName,
      // The AWS-managed key lets any principal of the account that may publish also encrypt, so the
      // alerter needs no KMS permission. (Alarms can't use it — see the operations topic.)
      masterKey: Alias.fromAliasName(scope, `${id}Key`, 'alias/aws/sns'),
      enforceSSL: true,
      signatureVersion: '2',
    });
    if (props.alertEmail) this.addSubscription(new EmailSubscription(props.alertEmail));
  }
}
