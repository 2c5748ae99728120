import { mergeValues, mergeVariants, OneClickError, relocateCode, requireParameter, type CfnTemplate } from '../../cdk/one-click';

test('values: equal parts kept, plain objects merged key by key (a missing key is AWS::NoValue), lists and intrinsics chosen whole', () => {
  expect(mergeValues('C', { a: 1, b: [1, 2], c: { Ref: 'X' } }, { a: 1, b: [1, 3], c: { Ref: 'Y' }, d: true })).toEqual({
    a: 1,
    b: { 'Fn::If': ['C', [1, 2], [1, 3]] },
    c: { 'Fn::If': ['C', { Ref: 'X' }, { Ref: 'Y' }] },
    d: { 'Fn::If': ['C', { Ref: 'AWS::NoValue' }, true] },
  });
  expect(mergeValues('C', { 'Fn::Join': ['', ['a', 'b']] }, { 'Fn::Join': ['', ['a', 'c']] })).toEqual({
    'Fn::If': ['C', { 'Fn::Join': ['', ['a', 'b']] }, { 'Fn::Join': ['', ['a', 'c']] }],
  });
});

const template = (resources: CfnTemplate['Resources']): CfnTemplate => ({ Parameters: { P: { Type: 'String' } }, Resources: resources });

test('variants: what only one has gets its condition, differing deletion policies become Fn::If under the LanguageExtensions transform', () => {
  const keeping = template({
    Table: { Type: 'AWS::DynamoDB::Table', Properties: { DeletionProtectionEnabled: true }, DeletionPolicy: 'Retain' },
    Same: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'q' } },
  });
  const disposable = template({
    Table: { Type: 'AWS::DynamoDB::Table', Properties: { DeletionProtectionEnabled: false }, DeletionPolicy: 'Delete' },
    Same: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'q' } },
    Cleaner: { Type: 'Custom::Cleaner', DependsOn: ['Same'] },
  });
  expect(mergeVariants(keeping, disposable, 'Keeps', 'Disposes')).toEqual({
    Parameters: { P: { Type: 'String' } },
    Transform: 'AWS::LanguageExtensions',
    Resources: {
      Table: { Type: 'AWS::DynamoDB::Table', Properties: { DeletionProtectionEnabled: { 'Fn::If': ['Keeps', true, false] } }, DeletionPolicy: { 'Fn::If': ['Keeps', 'Retain', 'Delete'] } },
      Same: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'q' } },
      Cleaner: { Type: 'Custom::Cleaner', DependsOn: ['Same'], Condition: 'Disposes' },
    },
  });
  expect(mergeVariants(template({ Same: keeping.Resources.Same! }), template({ Same: keeping.Resources.Same! }), 'Keeps', 'Disposes').Transform).toBeUndefined();
});

test('variants it cannot express are refused with the resource named: differing DependsOn, a dependency on a conditional resource, differing parameters', () => {
  const queue = { Type: 'AWS::SQS::Queue' };
  expect(() => mergeVariants(template({ A: { ...queue, DependsOn: 'B' }, B: queue }), template({ A: queue, B: queue }), 'K', 'D')).toThrow(
    new OneClickError("resource A depends on other resources in each variant (B / none); DependsOn can't be conditional"),
  );
  expect(() => mergeVariants(template({ A: { ...queue, DependsOn: 'B' }, B: queue }), template({ A: { ...queue, DependsOn: 'B' } }), 'K', 'D')).toThrow(
    new OneClickError('resource A depends on B, which exists only under the condition K'),
  );
  expect(() => mergeVariants({ ...template({}), Parameters: {} }, template({}), 'K', 'D')).toThrow(/Parameters differ/);
});

test('outputs: those only one variant has get its condition, differing values become Fn::If; a choice that only adds needs no negated condition, and merged templates merge again', () => {
  const queue = { Type: 'AWS::SQS::Queue' };
  const withPolicy: CfnTemplate = {
    ...template({ Q: queue, Policy: { Type: 'AWS::IAM::ManagedPolicy' } }),
    Outputs: { Url: { Value: { Ref: 'Q' } }, PolicyArn: { Value: { Ref: 'Policy' } }, Mode: { Value: 'scoped' } },
  };
  const without: CfnTemplate = { ...template({ Q: queue }), Outputs: { Url: { Value: { Ref: 'Q' } }, Mode: { Value: 'open' } } };
  const merged = mergeVariants(withPolicy, without, 'Scoped');
  expect(merged.Resources).toEqual({ Q: queue, Policy: { Type: 'AWS::IAM::ManagedPolicy', Condition: 'Scoped' } });
  expect(merged.Outputs).toEqual({
    Url: { Value: { Ref: 'Q' } },
    Mode: { Value: { 'Fn::If': ['Scoped', 'scoped', 'open'] } },
    PolicyArn: { Value: { Ref: 'Policy' }, Condition: 'Scoped' },
  });
  // What only the false variant has needs the negated condition.
  expect(() => mergeVariants(without, withPolicy, 'Open')).toThrow(new OneClickError('resource Policy exists only where Open is false, and there is no condition for that'));
  // Merged again under another condition: what is conditional already stays so where both have it.
  const keeping = mergeVariants(withPolicy, without, 'Scoped');
  expect(mergeVariants(keeping, merged, 'Keeps', 'Disposes').Resources.Policy).toEqual({ Type: 'AWS::IAM::ManagedPolicy', Condition: 'Scoped' });
});

test('code: the CDK asset location becomes the code bucket and prefix parameters; an asset it does not know is refused', () => {
  const cdkBucket = { 'Fn::Sub': 'cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}' };
  const fn = (key: string) =>
    template({ Fn: { Type: 'AWS::Lambda::Function', Properties: { Code: { S3Bucket: cdkBucket, S3Key: key }, Handler: 'index.handler' }, Metadata: { 'aws:asset:path': 'asset.x', note: 'kept' } } });
  expect(relocateCode(fn('abc.zip'), [{ objectKey: 'abc.zip', fileName: 'abc.zip' }], 'Bucket', 'Prefix').Resources.Fn).toEqual({
    Type: 'AWS::Lambda::Function',
    Properties: { Code: { S3Bucket: { Ref: 'Bucket' }, S3Key: { 'Fn::Sub': '${Prefix}abc.zip' } }, Handler: 'index.handler' },
    Metadata: { note: 'kept' },
  });
  expect(() => relocateCode(fn('other.zip'), [{ objectKey: 'abc.zip', fileName: 'abc.zip' }], 'Bucket', 'Prefix')).toThrow(OneClickError);
});

test('a resource that uses an optional parameter exists only under its condition', () => {
  const resources = requireParameter(
    template({
      Subscription: { Type: 'AWS::SNS::Subscription', Properties: { Endpoint: { Ref: 'Email' } } },
      Named: { Type: 'AWS::SNS::Topic', Properties: { DisplayName: { 'Fn::Sub': 'alerts for ${Email}' } } },
      Other: { Type: 'AWS::SNS::Topic', Properties: { TopicName: { Ref: 'Stage' } } },
    }),
    'Email',
    'HasEmail',
  ).Resources;
  expect([resources.Subscription!.Condition, resources.Named!.Condition, resources.Other!.Condition]).toEqual(['HasEmail', 'HasEmail', undefined]);
});
