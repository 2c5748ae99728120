/**
 * One of the pipeline's three functions with every default it shares, stated once: runtime,
 * architecture, memory and timeout from the settings, bundling with the project's own esbuild (no
 * Docker), source maps, tracing, Powertools configuration, and a log group of its own that only it
 * may write to.
 */
import { join } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogLevel as BundlingLogLevel, NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { nodeOptionsOf, settings } from '../../src/shared/settings';

/** The pipeline's parts; each has `src/<part>/handler.ts` and its own block in the settings. */
export type PipelinePart = 'splitter' | 'writer' | 'alerter';

export interface PipelineFunctionProps {
  part: PipelinePart;
  description: string;
  environment: Record<string, string>;
  /** Whether the function's logs go with the stack (dev) or stay behind (prod). */
  logRemovalPolicy: RemovalPolicy;
  /** Concurrency reserved for the function alone (and its ceiling); none by default. */
  reservedConcurrentExecutions?: number;
}

const projectRoot = join(__dirname, '..', '..');

export function logRetention(days: number): RetentionDays {
  const retention = Object.values(RetentionDays).find((value) => value === days);
  if (retention === undefined) throw new Error(`settings.observability.logRetentionDays (${days}) is not a retention CloudWatch Logs offers`);
  return retention as RetentionDays;
}

export class PipelineFunction extends NodejsFunction {
  /** The function's own role; `role` of the base class is optional, this one is always there. */
  readonly executionRole: Role;

  constructor(scope: Construct, id: string, props: PipelineFunctionProps) {
    const { timeoutSeconds, memoryMb } = settings[props.part];
    // The log group and the role are created before the function (they are its props), hence in
    // the enclosing scope. A role of our own instead of AWSLambdaBasicExecutionRole: that managed
    // policy may create and write any log group in the account; this role writes one.
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: logRetention(settings.observability.logRetentionDays),
      removalPolicy: props.logRemovalPolicy,
    });
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Runs the inventory pipeline's ${props.part}`,
    });
    logGroup.grantWrite(role);

    super(scope, id, {
      entry: join(projectRoot, 'src', props.part, 'handler.ts'),
      handler: 'handler',
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: memoryMb,
      timeout: Duration.seconds(timeoutSeconds),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      role,
      logGroup,
      tracing: Tracing.ACTIVE,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: settings.observability.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: settings.observability.metricsNamespace,
        POWERTOOLS_LOG_LEVEL: settings.observability.logLevel,
        NODE_OPTIONS: nodeOptionsOf(props.part),
      },
      depsLockFilePath: join(projectRoot, 'package-lock.json'),
      projectRoot,
      bundling: {
        forceDockerBundling: false,
        logLevel: BundlingLogLevel.WARNING,
        minify: true,
        sourceMap: true,
        // Stack traces need file and line only; the sources themselves would double the bundle.
        sourcesContent: false,
        // Ship the SDK versions the tests ran against, not whichever the runtime happens to carry.
        bundleAwsSDK: true,
      },
    });

    this.executionRole = role;
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'The pipeline targets the Node.js 22 Lambda runtime on purpose: its code and tests run on Node 20 (local) and 22, and nodejs22.x is a supported Lambda runtime; moving to a newer one is a deliberate, tested upgrade.',
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html).',
    });
  }
}
