import { dropRedundantDependsOn } from '../../cdk/template-tidy';

test('DependsOn entries that a Ref or Fn::GetAtt in the properties already implies are dropped; the others are kept', () => {
  const template = {
    Resources: {
      Fn: {
        DependsOn: ['Role', 'RolePolicy', 'Queue'],
        Properties: { Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, Environment: { Variables: { URL: { Ref: 'Queue' } } } },
      },
      Notifications: { DependsOn: 'Topic', Properties: { Target: { 'Fn::GetAtt': 'Topic.Arn' } } },
      Alone: { DependsOn: ['Fn'], Properties: { Name: 'x' } },
      Plain: { Properties: { Ref: 'Fn' } },
    },
  };
  expect(dropRedundantDependsOn(template).Resources).toEqual({
    Fn: { DependsOn: ['RolePolicy'], Properties: template.Resources.Fn.Properties },
    Notifications: { Properties: { Target: { 'Fn::GetAtt': 'Topic.Arn' } } },
    Alone: { DependsOn: ['Fn'], Properties: { Name: 'x' } },
    Plain: { Properties: { Ref: 'Fn' } },
  });
});
