/**
 * moto's IAM enforcement, made to judge the calls a pipeline makes the way AWS does, and to tell
 * what it decided.
 *
 * moto (5.2.5) checks every request after the first INITIAL_NO_AUTH_ACTION_COUNT against the
 * caller's identity policies with its own evaluator (wildcards, Allow/Deny, resource patterns). Where
 * it falls short, the server the local runtime starts with `enforceIam` is patched (measured in
 * /work/shared/notes/moto-iam.md):
 * - DynamoDB, DynamoDB Streams and SNS requests are checked against resource `*`, so a grant scoped
 *   to a table, stream or topic never matched: they now name the table ARN (from TableName), the
 *   stream ARN (from StreamArn, or the shard iterator, which carries it) and the topic ARN.
 * - Batch operations are checked under their own names, which no policy grants: they are checked
 *   under the action AWS authorises them as (SendMessageBatch → sqs:SendMessage, …).
 * - A denial of a JSON-protocol call (DynamoDB, its streams, SQS) came back as an XML body the AWS
 *   SDK cannot parse (a SyntaxError instead of an access error): it is now the JSON error AWS sends,
 *   `AccessDeniedException`, and every denial names the resource, as AWS's message does.
 * - Every decision is recorded and served at `/moto-api/iam-decisions`: the denials, the calls
 *   authorised per principal, and which statement of a role's policies granted each of them (asked
 *   of moto's own evaluator, one statement at a time), so a run can show the grants nothing used.
 *   A DELETE there forgets them all, for a new run on the same server.
 *
 * Not evaluated by moto at all: resource-based policies (queue, topic and bucket policies are
 * stored, not checked), conditions in identity policies (a statement with a Condition counts as a
 * deny), permission boundaries, SCPs and session policies.
 */
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, PutUserPolicyCommand } from '@aws-sdk/client-iam';
import { clientConfig } from '../shared/aws';

/** How many requests moto serves unauthenticated: exactly those `bootstrapAdministrator` makes. */
export const unauthenticatedBootstrapRequests = 3;

/** Python run in the moto server before it starts, when IAM is enforced. */
export const iamEnforcementPatch = `
import json, threading
from moto.core.exceptions import AccessDeniedError, JsonRESTError
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
from moto.iam.access_control import AssumedRoleAccessKey, IAMPolicyStatement, IAMRequestBase, PermissionResult
from moto.s3.exceptions import S3AccessDeniedError
from moto.sns.responses import SNSResponse
from moto.utilities.utils import get_partition
import moto.moto_api._internal.urls as moto_api_urls

def _table_resource(self):
    name = (getattr(self, "params", None) or {}).get("TableName")
    if not name:
        return "*"
    if name.startswith("arn:"):
        return name
    return f"arn:{get_partition(self.region)}:dynamodb:{self.region}:{self.current_account}:table/{name}"
DynamoHandler._determine_resource = _table_resource

def _stream_resource(self):
    # moto's shard iterators are "<stream ARN>|1|<id>".
    return self._get_param("StreamArn") or (self._get_param("ShardIterator") or "").split("|")[0] or "*"
DynamoDBStreamsHandler._determine_resource = _stream_resource

SNSResponse._determine_resource = lambda self: self._get_param("TopicArn") or "*"

_AUTHORISED_AS = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "sns:PublishBatch": "sns:Publish",
}

_decisions = threading.Lock()
_denials = []
_authorised = {}
_grants_used = {}
_grants_of_call = {}

def _role_policy_documents(access_key):
    role = access_key.backend.get_role(access_key._owner_role_name)
    documents = list(role.policies.items())
    for policy in role.managed_policies.values():
        documents.append((policy.name, next(v.document for v in policy.versions if v.is_default)))
    return documents

def _grants_permitting(access_key, action, resource):
    granted = []
    for policy_name, document in _role_policy_documents(access_key):
        statements = json.loads(document)["Statement"] if isinstance(document, str) else document["Statement"]
        for index, statement in enumerate(statements if isinstance(statements, list) else [statements]):
            if statement.get("Effect") != "Allow" or "Action" not in statement:
                continue
            actions = statement["Action"]
            for element in [actions] if isinstance(actions, str) else actions:
                single = dict(statement, Action=element)
                if IAMPolicyStatement(single).is_action_permitted(action, resource) == PermissionResult.PERMITTED:
                    granted.append({"policy": policy_name, "statement": index, "action": element})
    return granted

_check_action_permitted = IAMRequestBase.check_action_permitted
def _check_and_record(self, resource):
    self._action = _AUTHORISED_AS.get(self._action, self._action)
    principal = self._access_key.arn
    try:
        _check_action_permitted(self, resource)
    except (AccessDeniedError, S3AccessDeniedError) as denial:
        message = f"User: {principal} is not authorized to perform: {self._action} on resource: {resource}"
        with _decisions:
            _denials.append({"principal": principal, "action": self._action, "resource": resource, "message": message})
        if isinstance(denial, S3AccessDeniedError):
            denial.message = message
            raise
        if self._headers.get("X-Amz-Target"):
            raise JsonRESTError("AccessDeniedException", message) from None
        raise AccessDeniedError(user_arn=principal, action=f"{self._action} on resource: {resource}") from None
    if not isinstance(self._access_key, AssumedRoleAccessKey):
        return
    call = (principal, self._action, resource)
    with _decisions:
        _authorised[call] = _authorised.get(call, 0) + 1
        known = call in _grants_of_call
    if not known:
        grants = _grants_permitting(self._access_key, self._action, resource)
        role = self._access_key._owner_role_name
        with _decisions:
            _grants_of_call[call] = grants
            used = _grants_used.setdefault(role, {})
            for grant in grants:
                used[(grant["policy"], grant["statement"], grant["action"])] = grant
IAMRequestBase.check_action_permitted = _check_and_record

def _iam_decisions(request, full_url, headers):
    with _decisions:
        if request.method == "DELETE":
            # A new run on the same server: forget what earlier runs (and their policies) led to.
            _denials.clear()
            _authorised.clear()
            _grants_used.clear()
            _grants_of_call.clear()
            return 204, {}, ""
        body = {
            "denials": list(_denials),
            "authorised": [{"principal": p, "action": a, "resource": r, "count": n} for (p, a, r), n in _authorised.items()],
            "grantsUsed": {role: list(used.values()) for role, used in _grants_used.items()},
        }
    return 200, {"Content-Type": "application/json"}, json.dumps(body)
moto_api_urls.url_paths["{0}/moto-api/iam-decisions"] = _iam_decisions
`;

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The IAM user that stands for "AWS itself" on an IAM-enforcing moto: it may do anything. */
export const administratorUserName = 'local-aws';

/**
 * Creates the administrator within the requests moto serves unauthenticated (exactly
 * `unauthenticatedBootstrapRequests` of them) and returns its access key, which everything that is
 * not a function's own call uses from then on.
 */
export async function bootstrapAdministrator(endpoint: string): Promise<Credentials> {
  // Unauthenticated requests are still signed; any key will do for them.
  const iam = new IAMClient(clientConfig({ endpoint, credentials: { accessKeyId: 'bootstrap', secretAccessKey: 'bootstrap' } }));
  try {
    await iam.send(new CreateUserCommand({ UserName: administratorUserName }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: administratorUserName,
        PolicyName: 'everything',
        PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] }),
      }),
    );
    const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: administratorUserName }));
    return { accessKeyId: AccessKey!.AccessKeyId!, secretAccessKey: AccessKey!.SecretAccessKey! };
  } finally {
    iam.destroy();
  }
}

/** The ARN of the administrator, the principal a local role's trust policy names. */
export function administratorArn(account: string, partition = 'aws'): string {
  return `arn:${partition}:iam::${account}:user/${administratorUserName}`;
}

export interface IamDenial {
  /** The caller: `arn:aws:sts::<account>:assumed-role/<role>/<session>` for a role. */
  principal: string;
  action: string;
  resource: string;
  message: string;
}

export interface IamAuthorisedCall {
  principal: string;
  action: string;
  resource: string;
  count: number;
}

/** One action element of one statement of a role's policy. */
export interface IamGrant {
  policy: string;
  /** The statement's index in the policy document. */
  statement: number;
  action: string;
}

export interface IamDecisions {
  denials: IamDenial[];
  /** Calls made under assumed roles and allowed, by principal, action and resource. */
  authorised: IamAuthorisedCall[];
  /** By role name: the grants that allowed at least one call. */
  grantsUsed: Record<string, IamGrant[]>;
}

/** Everything an IAM-enforcing moto started by `startMoto({ enforceIam: true })` decided so far. */
export async function readIamDecisions(endpoint: string): Promise<IamDecisions> {
  const response = await fetch(`${endpoint}/moto-api/iam-decisions`);
  if (!response.ok) {
    throw new Error(`${endpoint} does not report its IAM decisions (HTTP ${response.status}): is it a moto server started with IAM enforcement?`);
  }
  return (await response.json()) as IamDecisions;
}

/** Forgets every decision recorded so far (a new run on a server earlier runs used). */
export async function resetIamDecisions(endpoint: string): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/iam-decisions`, { method: 'DELETE' });
  await response.arrayBuffer();
  if (!response.ok) throw new Error(`${endpoint} did not forget its IAM decisions (HTTP ${response.status})`);
}

/** The role and session of an assumed-role principal ARN, if it is one. */
export function assumedRoleOf(principal: string): { role: string; session: string } | undefined {
  const match = /:assumed-role\/([^/]+)\/(.+)$/.exec(principal);
  return match ? { role: match[1]!, session: match[2]! } : undefined;
}

