/**
 * The InventoryTable port on DynamoDB: one conditional UpdateItem per row. A
 * ConditionalCheckFailed answer means the item already holds something newer: the row is stale.
 * Attribute names are those of InventoryItem (src/shared/item.ts).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { StampedRow } from '../shared/messages';
import type { InventoryTable, ThresholdRow } from './apply';

async function conditional(client: DynamoDBDocumentClient, command: UpdateCommand): Promise<boolean> {
  try {
    await client.send(command);
    return true;
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) return false;
    throw error;
  }
}

export class DynamoInventoryTable implements InventoryTable {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly defaultThreshold: number,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  applyRow(row: StampedRow): Promise<boolean> {
    const explicit = row.threshold !== null;
    const set = [
      '#count = :count',
      '#version = :version',
      '#upload = :upload',
      '#line = :line',
      '#updatedAt = :now',
      explicit ? '#threshold = :threshold, #thresholdVersion = :version' : '#threshold = if_not_exists(#threshold, :threshold)',
    ];
    return conditional(
      this.client,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { store: row.store, product: row.product },
        UpdateExpression: `SET ${set.join(', ')}`,
        ConditionExpression: 'attribute_not_exists(#version) OR #version < :version',
        ExpressionAttributeNames: {
          '#count': 'count',
          '#version': 'version',
          '#upload': 'upload',
          '#line': 'line',
          '#updatedAt': 'updatedAt',
          '#threshold': 'threshold',
          ...(explicit ? { '#thresholdVersion': 'thresholdVersion' } : {}),
        },
        ExpressionAttributeValues: {
          ':count': row.count,
          ':version': row.version,
          ':upload': row.upload,
          ':line': row.line,
          ':now': this.now(),
          ':threshold': row.threshold ?? this.defaultThreshold,
        },
      }),
    );
  }

  applyThreshold(row: ThresholdRow): Promise<boolean> {
    return conditional(
      this.client,
      new UpdateCommand({
        TableName: this.tableName,
        Key: { store: row.store, product: row.product },
        UpdateExpression: 'SET #threshold = :threshold, #thresholdVersion = :version, #updatedAt = :now',
        ConditionExpression: 'attribute_exists(#version) AND (attribute_not_exists(#thresholdVersion) OR #thresholdVersion < :version)',
        ExpressionAttributeNames: { '#threshold': 'threshold', '#thresholdVersion': 'thresholdVersion', '#version': 'version', '#updatedAt': 'updatedAt' },
        ExpressionAttributeValues: { ':threshold': row.threshold, ':version': row.version, ':now': this.now() },
      }),
    );
  }
}
