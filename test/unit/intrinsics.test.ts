/**
 * CloudFormation's intrinsic functions as the local runtime evaluates them, on small templates.
 */
import { TemplateResolutionError, TemplateResolver, type References } from '../../src/local/template/intrinsics';

const target = { account: '123456789012', region: 'eu-west-1', partition: 'aws', stackName: 'Shop-dev' };
const references: References = {
  ref: (logicalId) => `ref-of-${logicalId}`,
  getAtt: (logicalId, attribute) => `${attribute}-of-${logicalId}`,
};
const resolver = new TemplateResolver(target, references);

test('Ref gives pseudo parameters and resources; Fn::GetAtt takes both of its forms', () => {
  expect(resolver.resolve({ Ref: 'AWS::AccountId' })).toBe('123456789012');
  expect(resolver.resolve({ Ref: 'AWS::Region' })).toBe('eu-west-1');
  expect(resolver.resolve({ Ref: 'AWS::Partition' })).toBe('aws');
  expect(resolver.resolve({ Ref: 'AWS::StackName' })).toBe('Shop-dev');
  expect(resolver.resolve({ Ref: 'Queue' })).toBe('ref-of-Queue');
  expect(resolver.resolve({ 'Fn::GetAtt': ['Table', 'StreamArn'] })).toBe('StreamArn-of-Table');
  expect(resolver.resolve({ 'Fn::GetAtt': 'Table.Arn' })).toBe('Arn-of-Table');
});

test('Fn::Join, Fn::Select and Fn::Split compose, inside objects and lists', () => {
  const value = {
    Resource: [
      { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/uploads/*']] },
      { 'Fn::Select': [1, { 'Fn::Split': ['/', { 'Fn::Join': ['/', ['a', { Ref: 'AWS::Region' }, 'c']] }] }] },
    ],
    Count: 3,
  };
  expect(resolver.resolve(value)).toEqual({ Resource: ['Arn-of-Bucket/uploads/*', 'eu-west-1'], Count: 3 });
});

test('Fn::Sub substitutes parameters, attributes and its own variables, and keeps ${!literal}', () => {
  expect(resolver.resolve({ 'Fn::Sub': 'cdk-assets-${AWS::AccountId}-${AWS::Region}' })).toBe('cdk-assets-123456789012-eu-west-1');
  expect(resolver.resolve({ 'Fn::Sub': '${Topic}|${Table.Arn}|${!Literal}' })).toBe('ref-of-Topic|Arn-of-Table|${Literal}');
  expect(resolver.resolve({ 'Fn::Sub': ['${Name}-${AWS::Partition}', { Name: { Ref: 'Queue' } }] })).toBe('ref-of-Queue-aws');
});

test('AWS::NoValue removes the property or list item it stands for', () => {
  expect(resolver.resolve({ A: { Ref: 'AWS::NoValue' }, B: ['x', { Ref: 'AWS::NoValue' }] })).toEqual({ B: ['x'] });
});

test('an intrinsic the runtime does not evaluate, or a bad index, is a clear error', () => {
  expect(() => resolver.resolve({ 'Fn::ImportValue': 'Shared-Vpc' })).toThrow(TemplateResolutionError);
  expect(() => resolver.resolve({ 'Fn::ImportValue': 'Shared-Vpc' })).toThrow(/Fn::ImportValue is not supported/);
  expect(() => resolver.resolve({ 'Fn::Select': [2, ['a', 'b']] })).toThrow(/index 2 is outside its list of 2/);
  expect(() => resolver.resolveString({ 'Fn::Split': [',', 'a,b'] }, 'QueueName')).toThrow(/QueueName needs a string/);
});
