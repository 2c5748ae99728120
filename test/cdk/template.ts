/**
 * Reading a synthesized template the way the stack tests need it: resources by construct path,
 * IAM statements per role, and the dashboard body with its CloudFormation tokens rendered as text.
 */
import type { CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';

export interface CfnResourceJson {
  Type: string;
  Properties?: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  DependsOn?: string[];
  Metadata?: Record<string, unknown>;
}

export interface PolicyStatementJson {
  Effect: 'Allow' | 'Deny';
  Action: string[];
  Resource: unknown[];
  Principal?: unknown;
  Condition?: unknown;
}

/** The logical ID of the CloudFormation resource behind a construct path such as `Uploads/Bucket`. */
export function logicalIdAt(stack: Stack, path: string): string {
  let construct: IConstruct = stack;
  for (const id of path.split('/')) construct = construct.node.findChild(id);
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return stack.getLogicalId(element);
}

export function resourceOf(template: Template, logicalId: string): CfnResourceJson {
  const resource = (template.toJSON() as { Resources: Record<string, CfnResourceJson> }).Resources[logicalId];
  if (!resource) throw new Error(`no resource ${logicalId} in the template`);
  return resource;
}

export function resourcesOfType(template: Template, type: string): Record<string, CfnResourceJson> {
  return template.findResources(type) as Record<string, CfnResourceJson>;
}

const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

function normalize(statement: Record<string, unknown>): PolicyStatementJson {
  return { ...(statement as unknown as PolicyStatementJson), Action: asArray(statement.Action) as string[], Resource: asArray(statement.Resource) };
}

/** Every statement of every identity policy in the template: AWS::IAM::Policy, managed policies and roles' inline policies. */
export function identityPolicyStatements(template: Template): PolicyStatementJson[] {
  const policies = ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].flatMap((type) =>
    Object.values(resourcesOfType(template, type)).map((policy) => policy.Properties!.PolicyDocument),
  );
  const inline = Object.values(resourcesOfType(template, 'AWS::IAM::Role')).flatMap((role) =>
    ((role.Properties!.Policies ?? []) as { PolicyDocument: unknown }[]).map((policy) => policy.PolicyDocument),
  );
  return [...policies, ...inline].flatMap((document) => (document as { Statement: Record<string, unknown>[] }).Statement.map(normalize));
}

/** The statements of the policies attached to one role. */
export function roleStatements(template: Template, roleLogicalId: string): PolicyStatementJson[] {
  return Object.values(resourcesOfType(template, 'AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties!.Roles as unknown[]).some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId })))
    .flatMap((policy) => (policy.Properties!.PolicyDocument as { Statement: Record<string, unknown>[] }).Statement.map(normalize));
}

/** `{ Ref: X }` → `Ref:X`, `{ Fn::GetAtt: [X, Y] }` → `GetAtt:X.Y`: tokens as plain text inside a JSON body. */
function renderToken(token: unknown): string {
  const intrinsic = token as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
  if (intrinsic.Ref) return `Ref:${intrinsic.Ref}`;
  if (intrinsic['Fn::GetAtt']) return `GetAtt:${intrinsic['Fn::GetAtt'].join('.')}`;
  throw new Error(`unexpected token ${JSON.stringify(token)}`);
}

export interface DashboardWidgetJson {
  type: string;
  properties: { title?: string; metrics?: unknown[][]; alarms?: string[] };
}

export function dashboardWidgets(template: Template): DashboardWidgetJson[] {
  const [dashboard, ...others] = Object.values(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'));
  if (!dashboard || others.length > 0) throw new Error('expected exactly one dashboard');
  const body = dashboard.Properties!.DashboardBody as { 'Fn::Join': [string, unknown[]] };
  const text = body['Fn::Join'][1].map((part) => (typeof part === 'string' ? part : renderToken(part))).join('');
  return (JSON.parse(text) as { widgets: DashboardWidgetJson[] }).widgets;
}
