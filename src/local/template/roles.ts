/**
 * The functions' execution roles, created on an IAM-enforcing endpoint from the template: each role
 * with every policy the template gives it (its inline `Policies`, the `AWS::IAM::Policy` and
 * `AWS::IAM::ManagedPolicy` resources naming it, its `ManagedPolicyArns`), and credentials for it from
 * STS AssumeRole — what Lambda hands a function, and uses itself for the function's event source
 * mapping.
 *
 * One thing differs from the template, on purpose: the trust policy. The template's trusts the Lambda
 * service (`lambda.amazonaws.com`); locally the runtime plays Lambda and assumes the roles with the
 * administrator's key, so the trust policy names that user instead. (moto 5.2.5 also fails with an
 * HTTP 500 when it checks a Service principal against a user's AssumeRole.) What a role may do is
 * exactly what the template says.
 */
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  DeletePolicyVersionCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  EntityAlreadyExistsException,
  ListAttachedRolePoliciesCommand,
  ListPolicyVersionsCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAssumeRolePolicyCommand,
  type IAMClient,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, type STSClient } from '@aws-sdk/client-sts';
import type { Credentials } from '../moto-iam';
import type { LocalStack } from './local-stack';

export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: unknown;
  Sid?: string;
}

export interface RolePolicy {
  name: string;
  document: { Version?: string; Statement: PolicyStatement | PolicyStatement[] };
}

export interface TemplateRole {
  logicalId: string;
  name: string;
  arn: string;
  /** Policies written onto the role (inline, and AWS::IAM::Policy resources). */
  inlinePolicies: RolePolicy[];
  /** Customer managed policies (AWS::IAM::ManagedPolicy) attached to it. */
  managedPolicies: RolePolicy[];
  /** ARNs of managed policies the template attaches by ARN (AWS managed ones, say). */
  managedPolicyArns: string[];
}

const namesRole = (roles: unknown, roleName: string) => Array.isArray(roles) && roles.includes(roleName);

/** The role and every policy the template gives it, resolved. */
export function templateRole(stack: LocalStack, logicalId: string): TemplateRole {
  const name = stack.physicalName(logicalId);
  const properties = stack.properties(logicalId) as { Policies?: { PolicyName: string; PolicyDocument: RolePolicy['document'] }[]; ManagedPolicyArns?: string[] };
  const inlinePolicies: RolePolicy[] = (properties.Policies ?? []).map((policy) => ({ name: policy.PolicyName, document: policy.PolicyDocument }));
  for (const policyId of stack.logicalIdsOf('AWS::IAM::Policy')) {
    const policy = stack.properties(policyId) as { Roles?: string[]; PolicyDocument: RolePolicy['document'] };
    if (namesRole(policy.Roles, name)) inlinePolicies.push({ name: stack.physicalName(policyId), document: policy.PolicyDocument });
  }
  const managedPolicies: RolePolicy[] = [];
  for (const policyId of stack.logicalIdsOf('AWS::IAM::ManagedPolicy')) {
    const policy = stack.properties(policyId) as { Roles?: string[]; PolicyDocument: RolePolicy['document'] };
    if (namesRole(policy.Roles, name)) managedPolicies.push({ name: stack.physicalName(policyId), document: policy.PolicyDocument });
  }
  return { logicalId, name, arn: stack.arn(logicalId), inlinePolicies, managedPolicies, managedPolicyArns: properties.ManagedPolicyArns ?? [] };
}

/**
 * Creates the role (trusted by `trustedPrincipalArn`) with its policies on the endpoint — or, when
 * an earlier run created it, gives it exactly the template's policies again (the template may have
 * changed since).
 */
export async function createRole(iam: IAMClient, role: TemplateRole, trustedPrincipalArn: string, account: string): Promise<void> {
  const trustPolicy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: trustedPrincipalArn }, Action: 'sts:AssumeRole' }],
  });
  const existed = await iam.send(new CreateRoleCommand({ RoleName: role.name, AssumeRolePolicyDocument: trustPolicy })).then(
    () => false,
    (error: unknown) => {
      if (error instanceof EntityAlreadyExistsException) return true;
      throw error;
    },
  );
  const managedArns = [...role.managedPolicies.map((policy) => `arn:aws:iam::${account}:policy/${policy.name}`), ...role.managedPolicyArns];
  if (existed) {
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role.name, PolicyDocument: trustPolicy }));
    const { PolicyNames = [] } = await iam.send(new ListRolePoliciesCommand({ RoleName: role.name }));
    for (const name of PolicyNames.filter((name) => !role.inlinePolicies.some((policy) => policy.name === name))) {
      await iam.send(new DeleteRolePolicyCommand({ RoleName: role.name, PolicyName: name }));
    }
    const { AttachedPolicies = [] } = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: role.name }));
    for (const attached of AttachedPolicies.filter((policy) => !managedArns.includes(policy.PolicyArn!))) {
      await iam.send(new DetachRolePolicyCommand({ RoleName: role.name, PolicyArn: attached.PolicyArn }));
    }
  }
  for (const policy of role.inlinePolicies) {
    await iam.send(new PutRolePolicyCommand({ RoleName: role.name, PolicyName: policy.name, PolicyDocument: JSON.stringify(policy.document) }));
  }
  for (const policy of role.managedPolicies) {
    await putManagedPolicy(iam, `arn:aws:iam::${account}:policy/${policy.name}`, policy);
  }
  for (const arn of managedArns) {
    await iam.send(new AttachRolePolicyCommand({ RoleName: role.name, PolicyArn: arn })).catch((error: unknown) => {
      throw new Error(`role ${role.name} attaches the managed policy ${arn}, which the local AWS cannot attach: ${(error as Error).message}`);
    });
  }
}

/** Creates a customer managed policy, or makes the template's document its default version. */
async function putManagedPolicy(iam: IAMClient, arn: string, policy: RolePolicy): Promise<void> {
  const document = JSON.stringify(policy.document);
  const created = await iam.send(new CreatePolicyCommand({ PolicyName: policy.name, PolicyDocument: document })).then(
    () => true,
    (error: unknown) => {
      // Another role of the stack, or an earlier run, created it already.
      if (error instanceof EntityAlreadyExistsException) return false;
      throw error;
    },
  );
  if (created) return;
  // A policy keeps at most five versions: make room, then make the template's the default.
  const { Versions = [] } = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }));
  for (const version of Versions.filter((v) => !v.IsDefaultVersion)) {
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: version.VersionId }));
  }
  await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: document, SetAsDefault: true }));
}

/** Credentials of the role for one session (the session's name shows in every denial's principal). */
export async function assumeRole(sts: STSClient, roleArn: string, sessionName: string): Promise<Credentials> {
  const { Credentials: assumed } = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName }));
  return { accessKeyId: assumed!.AccessKeyId!, secretAccessKey: assumed!.SecretAccessKey!, sessionToken: assumed!.SessionToken! };
}
