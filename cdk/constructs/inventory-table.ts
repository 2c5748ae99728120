/**
 * The inventory of record: one item per (store, product). Its stream feeds the alerter, so the
 * stream carries both images — a crossing is only visible by comparing old and new.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { Construct } from 'constructs';
import { settings, type TableCapacity } from '../../src/shared/settings';

export interface InventoryTableProps {
  tableName: string;
  /** Retain the table with the stack and refuse DeleteTable (prod); otherwise it goes with the stack. */
  keep: boolean;
  capacity: TableCapacity;
}

export class InventoryTable extends Table {
  constructor(scope: Construct, id: string, props: InventoryTableProps) {
    super(scope, id, {
      tableName: props.tableName,
      partitionKey: { name: settings.table.partitionKey, type: AttributeType.STRING },
      sortKey: { name: settings.table.sortKey, type: AttributeType.STRING },
      // Uploads arrive in nightly bursts and the table idles in between: on-demand fits both.
      billingMode: BillingMode.PAY_PER_REQUEST,
      // A ceiling on what a runaway can cost; pre-warming (billed) only when a deployment asks for it.
      maxWriteRequestUnits: props.capacity.maxWriteRequestUnitsPerSecond,
      warmThroughput:
        props.capacity.warmWriteUnitsPerSecond === undefined ? undefined : { writeUnitsPerSecond: props.capacity.warmWriteUnitsPerSecond },
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
      // The AWS-managed key: every use is visible in CloudTrail, with no key of ours to administer.
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: props.keep,
      removalPolicy: props.keep ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
  }
}
