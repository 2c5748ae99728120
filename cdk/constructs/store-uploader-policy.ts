/**
 * Store-scoped uploads' other half: who may upload for which store. One customer-managed policy for
 * every store's uploader (attribute-based access control): it allows s3:PutObject only below
 * `uploads/<store>/`, the store taken from the calling principal's `store` tag. Tagging a role (or
 * user) `store=S0012` and attaching this policy makes it store S0012's uploader; a principal without
 * the tag can upload nothing (IAM matches no resource for a policy variable without a value).
 *
 * The splitter enforces the same rule from the key (src/shared/upload.ts, storeScopeOf): the key's
 * first segment below `uploads/` is the store, and its rows may be for that store only.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { Bucket, CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { settings } from '../../src/shared/settings';

export interface StoreUploaderPolicyProps {
  bucket: Bucket;
}

/** `uploads/${aws:PrincipalTag/store}/`: the folder of the caller's own store, as IAM resolves it per request. */
export const ownStoreFolder = `${settings.uploads.prefix}\${aws:PrincipalTag/${settings.uploads.storeTag}}/`;

export class StoreUploaderPolicy extends Construct {
  readonly policy: ManagedPolicy;

  constructor(scope: Construct, id: string, props: StoreUploaderPolicyProps) {
    super(scope, id);
    this.policy = new ManagedPolicy(this, 'Policy', {
      description: `Store-scoped uploads of the inventory pipeline: put files only below ${ownStoreFolder} (tag the role or user ${settings.uploads.storeTag}=<its store>)`,
      statements: [
        new PolicyStatement({
          sid: 'UploadForOwnStoreOnly',
          // PutObject also authorises a multipart upload's parts (large files); aborting one needs its own action.
          actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
          resources: [props.bucket.arnForObjects(`${ownStoreFolder}*`)],
        }),
      ],
    });
    const bucketLogicalId = Stack.of(this).getLogicalId(props.bucket.node.defaultChild as CfnBucket);
    // cdk-nag writes references, the policy variable among them, as <…>.
    const folderAsNagWritesIt = ownStoreFolder.replace(/\$\{([^}]+)\}/, '<$1>');
    Validations.of(this.policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${folderAsNagWritesIt}*]`,
      reason:
        "Object-level PutObject and AbortMultipartUpload below the caller's own store folder only: the store is the principal's store tag, and the file names below it are the store's to choose (one per night, say), so they can't be listed in advance.",
    });
  }
}
