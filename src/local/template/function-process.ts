/**
 * A bundled function run the way Lambda runs it: each instance in a process of its own (a sandbox),
 * started once with the function's environment — its variables, its role's credentials, the local
 * endpoint — and its NODE_OPTIONS where the local Node accepts them, then invoked one event at a time.
 * An invocation that outlives the function's timeout is ended with the sandbox, as on Lambda; so is
 * one whose process dies. `LocalFunction` keeps up to a function's concurrency of sandboxes warm.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Credentials } from '../moto-iam';
import { endOfInvocation, type ChildMessage, type FunctionErrorPayload, type ParentMessage } from './invoke-protocol';

export interface SandboxSpec {
  /** The function's name in reports ("writer"). */
  name: string;
  /** Its physical name and ARN (the context's functionName and invokedFunctionArn). */
  functionName: string;
  functionArn: string;
  runtime: string;
  /** The bundled asset directory: Lambda's task root. */
  codeDirectory: string;
  /** `file.export` in the task root. */
  handler: string;
  /** The function's Timeout: its context's getRemainingTimeInMillis counts down from it. */
  timeoutSeconds: number;
  /** When an invocation still running is ended with its sandbox (default: at timeoutSeconds, as on Lambda). */
  endAfterSeconds?: number;
  memoryMb: number;
  /** The function's environment variables, resolved (NODE_OPTIONS among them). */
  variables: Record<string, string>;
  region: string;
  endpoint: string;
  credentials: Credentials;
  /** Each line the function writes: its logs, and its metrics as CloudWatch embedded metric format. */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** An invocation that failed: the handler threw, timed out, or its process died. */
export class FunctionError extends Error {
  override name = 'FunctionError';

  constructor(
    readonly functionName: string,
    readonly payload: FunctionErrorPayload,
  ) {
    super(`${functionName}: ${payload.errorType}: ${payload.errorMessage}`);
  }
}

const hostFile = join(__dirname, 'function-host.ts');

/** NODE_OPTIONS split into what the local Node accepts in NODE_OPTIONS and what it would refuse to start with. */
export function localNodeOptions(nodeOptions: string | undefined): { accepted: string[]; refused: string[] } {
  const accepted: string[] = [];
  const refused: string[] = [];
  for (const option of (nodeOptions ?? '').split(/\s+/).filter(Boolean)) {
    const flag = option.split('=')[0]!;
    (process.allowedNodeEnvironmentFlags.has(flag) ? accepted : refused).push(option);
  }
  return { accepted, refused };
}

/** The environment Lambda gives a function's process: its variables and the runtime's reserved ones. */
function sandboxEnvironment(spec: SandboxSpec): NodeJS.ProcessEnv {
  return {
    ...spec.variables,
    NODE_OPTIONS: localNodeOptions(spec.variables.NODE_OPTIONS).accepted.join(' '),
    PATH: process.env.PATH,
    LANG: 'en_US.UTF-8',
    TZ: ':UTC',
    LAMBDA_TASK_ROOT: spec.codeDirectory,
    _HANDLER: spec.handler,
    AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: spec.functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME: 'local',
    AWS_REGION: spec.region,
    AWS_DEFAULT_REGION: spec.region,
    AWS_ACCESS_KEY_ID: spec.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: spec.credentials.secretAccessKey,
    ...(spec.credentials.sessionToken ? { AWS_SESSION_TOKEN: spec.credentials.sessionToken } : {}),
    // Not on Lambda: the local endpoint, and silence for the SDK's notice that Node 20 (a supported
    // local Node) will stop being supported — the functions run on Node 22 on Lambda.
    AWS_ENDPOINT_URL: spec.endpoint,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** One instance of a function: a process that runs one invocation at a time. */
export class FunctionSandbox {
  private nextId = 0;
  private pending:
    | {
        id: number;
        endLine: string;
        /** The process's answer, and whether its END line has been read: the invocation settles on both. */
        answer?: ChildMessage;
        ended: boolean;
        resolve: (result: unknown) => void;
        reject: (error: FunctionError) => void;
        timer: NodeJS.Timeout;
      }
    | undefined;
  private exited = false;

  private constructor(
    private readonly spec: SandboxSpec,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: ChildMessage) => {
      if (this.pending && 'id' in message && message.id === this.pending.id) {
        this.pending.answer = message;
        this.settle();
      }
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      this.fail({ errorType: 'Runtime.ExitError', errorMessage: `Runtime exited ${signal ? `on signal ${signal}` : `with status ${code}`}`, stackTrace: [] });
    });
  }

  /** Starts the process and waits until the handler is loaded (Lambda's init phase). */
  static async start(spec: SandboxSpec): Promise<FunctionSandbox> {
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), hostFile], {
      cwd: spec.codeDirectory,
      env: sandboxEnvironment(spec),
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const output = spec.onOutput ?? ((line: string) => process.stderr.write(`[${spec.name}] ${line}\n`));
    const { refused } = localNodeOptions(spec.variables.NODE_OPTIONS);
    if (refused.length > 0) output(`NODE_OPTIONS ${refused.join(' ')} left out: Node ${process.version} does not accept it in NODE_OPTIONS`, 'stderr');
    let sandbox: FunctionSandbox | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!sandbox?.isEndOfInvocation(line)) output(line, 'stdout');
    });
    createInterface({ input: child.stderr! }).on('line', (line) => output(line, 'stderr'));
    await new Promise<void>((resolve, reject) => {
      const initFailed = (payload: FunctionErrorPayload) => {
        child.kill('SIGKILL');
        reject(new FunctionError(spec.name, payload));
      };
      child.once('message', (message: ChildMessage) => {
        if (message.type === 'ready') resolve();
        else if (message.type === 'init-error') initFailed({ ...message.error, errorType: `Runtime.ImportModuleError: ${message.error.errorType}` });
      });
      child.once('exit', (code) => initFailed({ errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with status ${code} before the handler was loaded`, stackTrace: [] }));
      child.once('error', reject);
    });
    child.removeAllListeners('exit');
    child.removeAllListeners('message');
    sandbox = new FunctionSandbox(spec, child);
    return sandbox;
  }

  /** Whether the line closes the running invocation's output (it settles once the answer is in too). */
  private isEndOfInvocation(line: string): boolean {
    if (this.pending === undefined || line !== this.pending.endLine) return false;
    this.pending.ended = true;
    this.settle();
    return true;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Runs the handler with the event; resolves to its response, rejects with a FunctionError. */
  invoke(event: unknown): Promise<unknown> {
    if (this.pending) throw new Error(`${this.spec.name}'s sandbox is already running an invocation`);
    if (this.exited) return Promise.reject(new FunctionError(this.spec.name, { errorType: 'Runtime.ExitError', errorMessage: 'the sandbox has exited', stackTrace: [] }));
    const id = (this.nextId += 1);
    const { spec } = this;
    const awsRequestId = randomUUID();
    const message: ParentMessage = {
      type: 'invoke',
      id,
      event,
      context: {
        awsRequestId,
        functionName: spec.functionName,
        functionVersion: '$LATEST',
        invokedFunctionArn: spec.functionArn,
        memoryLimitInMB: String(spec.memoryMb),
        logGroupName: `/aws/lambda/${spec.functionName}`,
        logStreamName: 'local',
        deadlineMs: Date.now() + spec.timeoutSeconds * 1000,
      },
    };
    const endAfterSeconds = spec.endAfterSeconds ?? spec.timeoutSeconds;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // Lambda ends the sandbox of an invocation that times out; its next invocation starts cold.
        this.fail({ errorType: 'Sandbox.Timedout', errorMessage: `Task timed out after ${endAfterSeconds.toFixed(2)} seconds`, stackTrace: [] });
        this.child.kill('SIGKILL');
      }, endAfterSeconds * 1000);
      this.pending = { id, endLine: endOfInvocation(awsRequestId), ended: false, resolve, reject, timer };
      this.child.send(message);
    });
  }

  private settle(): void {
    const pending = this.pending;
    if (!pending?.answer || !pending.ended) return;
    clearTimeout(pending.timer);
    this.pending = undefined;
    const { answer } = pending;
    if (answer.type === 'result') pending.resolve(answer.result);
    else if (answer.type === 'error') pending.reject(new FunctionError(this.spec.name, answer.error));
  }

  private fail(payload: FunctionErrorPayload): void {
    const pending = this.pending;
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pending = undefined;
    pending.reject(new FunctionError(this.spec.name, payload));
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/**
 * A function with up to `concurrency` sandboxes, started as invocations need them and kept warm:
 * an invocation takes an idle sandbox, else starts one (while under the concurrency), else waits.
 */
export class LocalFunction {
  /** Every running sandbox, and those of them waiting for an invocation. */
  private readonly sandboxes = new Set<FunctionSandbox>();
  private readonly idle: FunctionSandbox[] = [];
  private starting = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    readonly spec: SandboxSpec,
    readonly concurrency: number,
  ) {}

  async invoke(event: unknown): Promise<unknown> {
    const sandbox = await this.acquire();
    try {
      return await sandbox.invoke(event);
    } finally {
      if (sandbox.alive) this.idle.push(sandbox);
      else this.sandboxes.delete(sandbox);
      this.waiting.shift()?.();
    }
  }

  private async acquire(): Promise<FunctionSandbox> {
    for (;;) {
      const warm = this.idle.pop();
      if (warm?.alive) return warm;
      if (warm) {
        this.sandboxes.delete(warm);
        continue;
      }
      if (this.sandboxes.size + this.starting < this.concurrency) {
        this.starting += 1;
        try {
          const sandbox = await FunctionSandbox.start(this.spec);
          this.sandboxes.add(sandbox);
          return sandbox;
        } catch (error) {
          // A sandbox that could not start leaves room for the next invocation to try.
          this.waiting.shift()?.();
          throw error;
        } finally {
          this.starting -= 1;
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** Ends every sandbox. */
  async close(): Promise<void> {
    await Promise.all([...this.sandboxes].map((sandbox) => sandbox.stop()));
    this.sandboxes.clear();
    this.idle.length = 0;
  }
}
