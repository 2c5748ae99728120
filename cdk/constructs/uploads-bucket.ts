/**
 * Where stores upload their CSVs and where the splitter leaves its rejects and receipts. Every new
 * upload is announced on the upload-events queue, which drives the splitter durably: a failed split
 * is retried and finally dead-lettered, exactly as in the local runtime.
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Grant, PolicyStatement, ServicePrincipal, type IGrantable } from 'aws-cdk-lib/aws-iam';
import {
  BlockPublicAccess,
  Bucket,
  BucketEncryption,
  BucketNotificationDestinationType,
  CfnBucket,
  EventType,
  type BucketProps,
  type IBucketNotificationDestination,
  type IBucketRef,
} from 'aws-cdk-lib/aws-s3';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { settings } from '../../src/shared/settings';

export interface UploadsBucketProps {
  /** Receives an S3 ObjectCreated event for every upload. */
  uploadEvents: IQueue;
  /** DESTROY empties and deletes the buckets with the stack; RETAIN keeps them, and their policies. */
  removalPolicy: RemovalPolicy;
  /**
   * Log every request to an access-log bucket of its own. Only where the uploads are kept: S3 delivers
   * access logs late (best effort, up to hours), so a bucket `cdk destroy` empties and deletes can
   * receive a log file in between and fail the deletion (BucketNotEmpty).
   */
  logAccess: boolean;
}

const { prefix: uploadsPrefix, rejectsPrefix, reportsPrefix } = settings.uploads;

/** A multipart upload the splitter abandoned (e.g. it timed out mid-write) still costs storage. */
const abandonedMultipartUploadDays = 1;

/**
 * The upload-events queue as a notification destination, with the queue policy AWS documents for
 * S3 event notifications: only S3, only SendMessage, only for this bucket of this account (the bucket
 * ARN alone names no account, and a deleted bucket's name can be taken by anyone).
 */
class UploadEventsDestination implements IBucketNotificationDestination {
  constructor(private readonly queue: IQueue) {}

  bind(scope: Construct, bucket: IBucketRef) {
    this.queue.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowThisBucketToAnnounceUploads',
        principals: [new ServicePrincipal('s3.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': bucket.bucketRef.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(scope).account },
        },
      }),
    );
    // The notification is configured after the policy: S3 checks it may send when it is configured.
    return { arn: this.queue.queueArn, type: BucketNotificationDestinationType.QUEUE, dependencies: [this.queue] };
  }
}

export class UploadsBucket extends Construct {
  readonly bucket: Bucket;
  /** S3 server access logs of the uploads bucket (who uploaded or fetched which file), where it logs access. */
  readonly accessLogs?: Bucket;

  constructor(scope: Construct, id: string, props: UploadsBucketProps) {
    super(scope, id);
    const disposal: Partial<BucketProps> = {
      removalPolicy: props.removalPolicy,
      autoDeleteObjects: props.removalPolicy === RemovalPolicy.DESTROY,
    };
    const secureDefaults = {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      // SSE-S3: the only encryption S3 server access logging can deliver into.
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
    } satisfies BucketProps;

    this.accessLogs = props.logAccess
      ? new Bucket(this, 'AccessLogs', {
          ...secureDefaults,
          ...disposal,
          lifecycleRules: [{ expiration: Duration.days(settings.observability.logRetentionDays) }],
        })
      : undefined;

    this.bucket = new Bucket(this, 'Bucket', {
      ...secureDefaults,
      ...disposal,
      serverAccessLogsBucket: this.accessLogs,
      lifecycleRules: [
        ...[uploadsPrefix, rejectsPrefix, reportsPrefix].map((prefix) => ({
          id: `expire-${prefix.replace(/\/$/, '')}`,
          prefix,
          expiration: Duration.days(settings.uploads.expireAfterDays),
        })),
        { id: 'abort-abandoned-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(abandonedMultipartUploadDays) },
      ],
    });

    if (!this.accessLogs) {
      Validations.of(this.bucket).acknowledge({
        id: 'AwsSolutions-S1',
        reason:
          'Only the stage that keeps its data logs access: a dev stack is disposable, and S3 delivers access logs late, so a log bucket `cdk destroy` empties could receive a file before its deletion and fail it (BucketNotEmpty).',
      });
    }
    // A retained bucket keeps its policy too (TLS only; the log-delivery grant): CloudFormation would
    // otherwise delete the policies with the stack and leave the buckets open to plain HTTP.
    for (const bucket of [this.bucket, this.accessLogs]) bucket?.policy?.applyRemovalPolicy(props.removalPolicy);

    // One rule per suffix: an S3 filter holds one prefix and one suffix.
    const uploadEvents = new UploadEventsDestination(props.uploadEvents);
    for (const suffix of settings.uploads.suffixes) {
      this.bucket.addEventNotification(EventType.OBJECT_CREATED, uploadEvents, { prefix: uploadsPrefix, suffix });
    }
    // aws-cdk-lib applies the notifications with a custom resource whose function (a stack-wide
    // singleton) gets a role with the AWS-managed basic execution policy; we can't hand it another.
    const notificationsHandler = Stack.of(this).node.children.find((child) => child.node.id.startsWith('BucketNotificationsHandler'));
    if (!notificationsHandler) throw new Error('aws-cdk-lib no longer creates BucketNotificationsHandler: revisit the cdk-nag acknowledgement below');
    Validations.of(notificationsHandler).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        "aws-cdk-lib's bucket-notifications handler runs only during deployments; the managed policy lets it write its own logs, and its only other permission is s3:PutBucketNotification on this bucket.",
    });
  }

  /**
   * The splitter reads the upload its S3 event names — any key under uploads/, nothing else: by
   * version ID when the event has one (s3:GetObjectVersion; the bucket is not versioned today, but
   * the splitter must not break the day it is), otherwise by ETag (s3:GetObject). It also needs
   * s3:ListBucket (on the bucket, not its keys): without it S3 answers a GetObject for a key deleted
   * since its event with 403 instead of 404, and the splitter would retry a vanished upload into the
   * dead-letter queue instead of skipping it.
   */
  grantReadUploads(grantee: IGrantable): Grant {
    Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [this.bucket.bucketArn] });
    return this.grantOnPrefixes(
      grantee,
      ['s3:GetObject', 's3:GetObjectVersion'],
      [uploadsPrefix],
      'reads the upload (or the version of it) its S3 event names, which can be any key under uploads/',
    );
  }

  /**
   * Writing rejects/* and reports/*. s3:PutObject also authorises the parts of a multipart upload
   * (large reject files are streamed that way); aborting one needs its own action.
   */
  grantWriteResults(grantee: IGrantable): Grant {
    return this.grantOnPrefixes(
      grantee,
      ['s3:PutObject', 's3:AbortMultipartUpload'],
      [rejectsPrefix, reportsPrefix],
      "writes one reject file and one receipt per upload, named after the upload's key",
    );
  }

  /** Object actions on key prefixes: the object ARN wildcard is as narrow as S3 permissions get. */
  private grantOnPrefixes(grantee: IGrantable, actions: string[], prefixes: string[], why: string): Grant {
    const grant = Grant.addToPrincipal({ grantee, actions, resourceArns: prefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)) });
    const principal = grantee.grantPrincipal;
    if (!Construct.isConstruct(principal)) throw new Error(`grant ${actions.join(', ')} to a role of this app, not ${principal}`);
    const bucketLogicalId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnBucket);
    for (const prefix of prefixes) {
      Validations.of(principal).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${prefix}*]`,
        reason: `Object-level ${actions.join(', ')} on ${prefix}* only: the function ${why}.`,
      });
    }
    return grant;
  }
}
