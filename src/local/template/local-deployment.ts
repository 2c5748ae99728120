/**
 * A cloud assembly deployed on a local AWS: what `inventory local --from-template DIR` runs against.
 * It reads the assembly, starts an IAM-enforcing moto (or uses one it is given), creates the stack's
 * resources from the template, creates each mapped function's role with the template's policies,
 * assumes it twice — once for the function's own calls, once for the calls its event source mapping
 * makes on its behalf, as Lambda does with the same role — and readies each function to run in
 * processes of its own with those credentials. It then reports what IAM decided: every call denied
 * to a function or its mapping, how many calls their roles made, and the grants no call used.
 */
import { IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { clientConfig, createAwsClients, destroyAwsClients, type AwsClients } from '../../shared/aws';
import { startMoto, type MotoServer } from '../moto';
import { assumedRoleOf, readIamDecisions, resetIamDecisions, type Credentials, type IamDecisions } from '../moto-iam';
import { pipelineStack, readCloudAssembly } from './assembly';
import { eventSourceMappings, type EventSourceMappingSettings } from './event-source-mappings';
import { LocalFunction } from './function-process';
import { mappedFunctionIds, templateFunction, type TemplateFunction } from './functions';
import { LocalStack, localTarget } from './local-stack';
import { provisionResources, type ProvisionedResources } from './provision';
import { assumeRole, createRole, templateRole, type PolicyStatement, type TemplateRole } from './roles';

export interface IamEndpoint {
  endpoint: string;
  /** A key that may do anything there ("AWS itself"). */
  administrator: Credentials;
}

export interface LocalDeploymentOptions {
  /** The directory `npx cdk synth -o DIR` wrote. */
  assemblyDir: string;
  /**
   * An IAM-enforcing moto to deploy on; without one, one is started (and stopped on close) that also
   * serves one request at a time, since the functions' own clients cannot be serialized.
   */
  server?: IamEndpoint;
  /** Most processes per function (a mapping's MaximumConcurrency caps it further). Default 4. */
  maxInstancesPerFunction?: number;
  /** Each line a function writes; default: its stderr, prefixed with its name. */
  onOutput?: (functionName: string, line: string, stream: 'stdout' | 'stderr') => void;
}

export interface DeployedFunction {
  definition: TemplateFunction;
  role: TemplateRole;
  /** The role's credentials for the function's own calls (they run in its processes). */
  credentials: Credentials;
  /** The role's credentials for its event source mapping's calls (receive, delete, read the stream, on-failure). */
  eventSourceCredentials: Credentials;
  /** Its processes: `invoke(event)` runs the handler in one. */
  process: LocalFunction;
}

export interface AccessDenial {
  function: string;
  action: string;
  resource: string;
  message: string;
}

/** A granted action: one action of one statement of one of the role's policies. */
export interface Grant {
  policy: string;
  action: string;
  resources: string[];
}

export interface RoleGrants {
  function: string;
  role: string;
  used: Grant[];
  unused: Grant[];
}

export interface IamReport {
  /** Calls denied to the functions and their event source mappings. */
  accessDenied: number;
  /** Calls they made that their roles allowed. */
  callsAuthorized: number;
  /** Each distinct denied call once. */
  accessDenials: AccessDenial[];
  grants: RoleGrants[];
}

/** The longest Timeout Lambda allows a function (15 minutes). */
const lambdaMaximumTimeoutSeconds = 900;

const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
const eventSourceSession = (name: string) => `${name}.event-source-mapping`;

/** Every Allow statement's actions, in the order (policy, statement index) moto reports them. */
function grantsOf(role: TemplateRole): (Grant & { statement: number })[] {
  return [...role.inlinePolicies, ...role.managedPolicies].flatMap((policy) =>
    asArray<PolicyStatement>(policy.document.Statement).flatMap((statement, index) =>
      statement.Effect !== 'Allow'
        ? []
        : asArray(statement.Action).map((action) => ({ policy: policy.name, statement: index, action, resources: asArray(statement.Resource) })),
    ),
  );
}

export class LocalDeployment {
  private constructor(
    readonly endpoint: string,
    /** Clients with the administrator's key: for what is not a function's own call. */
    readonly clients: AwsClients,
    readonly stack: LocalStack,
    readonly resources: ProvisionedResources,
    readonly functions: DeployedFunction[],
    readonly mappings: EventSourceMappingSettings[],
    private readonly moto: MotoServer | undefined,
  ) {}

  static async start(options: LocalDeploymentOptions): Promise<LocalDeployment> {
    const assemblyStack = pipelineStack(readCloudAssembly(options.assemblyDir));
    // A server earlier runs used still holds their decisions; this run's report starts afresh.
    if (options.server) await resetIamDecisions(options.server.endpoint);
    const moto = options.server ? undefined : await startMoto({ enforceIam: true, oneRequestAtATime: true });
    const server = options.server ?? { endpoint: moto!.endpoint, administrator: moto!.administrator! };
    const target = localTarget(assemblyStack.name);
    const administrator = { endpoint: server.endpoint, region: target.region, credentials: server.administrator };
    const clients = createAwsClients(administrator);
    const iam = new IAMClient(clientConfig(administrator));
    const sts = new STSClient(clientConfig(administrator));
    try {
      // The roles trust whoever plays Lambda here: the administrator.
      const { Arn: administratorArn } = await sts.send(new GetCallerIdentityCommand({})).catch((error: unknown) => {
        throw new Error(`${server.endpoint} does not accept the administrator's key: ${(error as Error).message}`);
      });
      const stack = new LocalStack(assemblyStack.template, target);
      const resources = await provisionResources(stack, clients);
      const mappings = eventSourceMappings(stack, resources);
      const functions: DeployedFunction[] = [];
      for (const logicalId of mappedFunctionIds(stack)) {
        const definition = templateFunction(stack, logicalId, assemblyStack.assets);
        const role = templateRole(stack, definition.roleLogicalId);
        await createRole(iam, role, administratorArn!, target.account);
        const credentials = await assumeRole(sts, role.arn, definition.name);
        const eventSourceCredentials = await assumeRole(sts, role.arn, eventSourceSession(definition.name));
        const mappingConcurrency = mappings
          .filter((mapping) => mapping.functionLogicalId === logicalId)
          .map((mapping) => (mapping.source.type === 'sqs' ? (mapping.maximumConcurrency ?? Infinity) : mapping.parallelizationFactor));
        const concurrency = Math.min(options.maxInstancesPerFunction ?? 4, Math.max(1, ...mappingConcurrency));
        const onOutput = options.onOutput;
        const process = new LocalFunction(
          {
            name: definition.name,
            functionName: definition.physicalName,
            functionArn: definition.arn,
            runtime: definition.runtime,
            codeDirectory: definition.codeDirectory,
            handler: definition.handler,
            timeoutSeconds: definition.timeoutSeconds,
            // The handler's context counts down from the template's Timeout, as deployed; the sandbox
            // is ended only at Lambda's maximum. moto applies ~100-150 writes a second where DynamoDB
            // takes ~1,000 per writer invocation, so a batch that takes 15 s on AWS takes minutes here.
            endAfterSeconds: Math.max(definition.timeoutSeconds, lambdaMaximumTimeoutSeconds),
            memoryMb: definition.memoryMb,
            variables: definition.variables,
            region: target.region,
            endpoint: server.endpoint,
            credentials,
            ...(onOutput ? { onOutput: (line: string, stream: 'stdout' | 'stderr') => onOutput(definition.name, line, stream) } : {}),
          },
          concurrency,
        );
        functions.push({ definition, role, credentials, eventSourceCredentials, process });
      }
      return new LocalDeployment(server.endpoint, clients, stack, resources, functions, mappings, moto);
    } catch (error) {
      destroyAwsClients(clients);
      await moto?.stop();
      throw error;
    } finally {
      iam.destroy();
      sts.destroy();
    }
  }

  functionNamed(name: string): DeployedFunction {
    const found = this.functions.find((f) => f.definition.name === name || f.definition.logicalId === name);
    if (!found) throw new Error(`the stack has no function ${name} (it has ${this.functions.map((f) => f.definition.name).join(', ')})`);
    return found;
  }

  /** What IAM decided for the functions' roles so far, from the endpoint's own record. */
  async iamReport(): Promise<IamReport> {
    return iamReportOf(await readIamDecisions(this.endpoint), this.functions);
  }

  async close(): Promise<void> {
    await Promise.all(this.functions.map((f) => f.process.close()));
    destroyAwsClients(this.clients);
    await this.moto?.stop();
  }
}

/** The denials and authorised calls of the functions' roles, and their grants used and unused. */
export function iamReportOf(decisions: IamDecisions, functions: readonly DeployedFunction[]): IamReport {
  const byRole = new Map(functions.map((f) => [f.role.name, f]));
  const functionOf = (principal: string) => {
    const assumed = assumedRoleOf(principal);
    return assumed ? byRole.get(assumed.role) : undefined;
  };
  const denied = decisions.denials.flatMap((denial) => {
    const deployed = functionOf(denial.principal);
    return deployed ? [{ function: deployed.definition.name, action: denial.action, resource: denial.resource, message: denial.message }] : [];
  });
  // Each distinct denial once (a missing table grant denies every row's write alike); the count is of calls.
  const accessDenials = [...new Map(denied.map((denial) => [JSON.stringify(denial), denial])).values()];
  const callsAuthorized = decisions.authorised.filter((call) => functionOf(call.principal)).reduce((sum, call) => sum + call.count, 0);
  const grants = functions.map((deployed) => {
    const used = new Set((decisions.grantsUsed[deployed.role.name] ?? []).map((grant) => `${grant.policy}\u0000${grant.statement}\u0000${grant.action}`));
    const all = grantsOf(deployed.role);
    const isUsed = (grant: (typeof all)[number]) => used.has(`${grant.policy}\u0000${grant.statement}\u0000${grant.action}`);
    const plain = ({ policy, action, resources }: Grant): Grant => ({ policy, action, resources });
    return {
      function: deployed.definition.name,
      role: deployed.role.name,
      used: all.filter(isUsed).map(plain),
      unused: all.filter((grant) => !isUsed(grant)).map(plain),
    };
  });
  return { accessDenied: denied.length, callsAuthorized, accessDenials, grants };
}
