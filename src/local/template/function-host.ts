/**
 * The entry point of a function's own process: what Lambda's Node.js runtime does in a sandbox. It
 * loads the handler `_HANDLER` names from `LAMBDA_TASK_ROOT` (the function's bundled asset
 * directory) once, finding modules only where Lambda would, then runs the invocations the local runtime sends over the IPC channel, one at a
 * time, with a Lambda context. The environment is the function's own (set by the parent).
 */
import { existsSync, realpathSync } from 'node:fs';
import Module from 'node:module';
import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { endOfInvocation, errorPayload, type ChildMessage, type InvocationContext, type ParentMessage } from './invoke-protocol';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

type ResolveFilename = (this: unknown, request: string, parent: unknown, ...rest: unknown[]) => string;

/**
 * What a bundle may load, as on Lambda: Node's own modules, the files of its task root, and the AWS
 * SDK for JavaScript v3 that Lambda's Node.js runtime ships (here: this project's). Node would also
 * look in every node_modules above the task root — this project's, when the assembly was written
 * inside it — so a bundle that leaves out a dependency Lambda lacks would run here and fail there.
 * (CommonJS bundles, what the CDK's NodejsFunction writes by default.)
 */
function confineModuleResolution(taskRoot: string): void {
  const internals = Module as unknown as { _resolveFilename: ResolveFilename };
  const resolveFilename = internals._resolveFilename;
  // Node knows modules by their real paths.
  const root = `${realpathSync(taskRoot)}${sep}`;
  internals._resolveFilename = function (request, parent, ...rest) {
    // Only the bundle's own requests are confined, not the local runtime's (tsx loads parts lazily).
    const requiredBy = (parent as { filename?: string } | undefined)?.filename;
    if (!requiredBy?.startsWith(root)) return resolveFilename.call(this, request, parent, ...rest);
    if (request.startsWith('@aws-sdk/')) {
      try {
        return resolveFilename.call(this, request, parent, ...rest);
      } catch {
        return require.resolve(request);
      }
    }
    const resolved = resolveFilename.call(this, request, parent, ...rest);
    if (Module.isBuiltin(resolved) || resolved.startsWith(root)) return resolved;
    throw Object.assign(new Error(`Cannot find module '${request}': it is not in the task root ${taskRoot}, nor shipped with Lambda's runtime`), {
      code: 'MODULE_NOT_FOUND',
    });
  };
}

/** `dir/file.export` → the exported function of `dir/file.js` (or `.mjs`, `.cjs`) in the task root. */
async function loadHandler(taskRoot: string, handlerName: string): Promise<Handler> {
  const at = handlerName.lastIndexOf('.');
  if (at <= 0) throw new Error(`Handler '${handlerName}' is not of the form file.export`);
  const modulePath = handlerName.slice(0, at);
  const exportName = handlerName.slice(at + 1);
  const file = ['.js', '.mjs', '.cjs'].map((extension) => join(taskRoot, modulePath + extension)).find((candidate) => existsSync(candidate));
  if (!file) throw new Error(`Cannot find module '${modulePath}' in ${taskRoot} (handler '${handlerName}')`);
  const loaded = (await import(pathToFileURL(file).href)) as Record<string, unknown> & { default?: Record<string, unknown> };
  const handler = loaded[exportName] ?? loaded.default?.[exportName];
  if (typeof handler !== 'function') throw new Error(`${file} does not export a function '${exportName}' (handler '${handlerName}')`);
  return handler as Handler;
}

function lambdaContext(context: InvocationContext): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    getRemainingTimeInMillis: () => Math.max(0, context.deadlineMs - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

function send(message: ChildMessage): void {
  process.send!(message);
}

async function main(): Promise<void> {
  let handler: Handler;
  try {
    confineModuleResolution(process.env.LAMBDA_TASK_ROOT ?? '');
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT ?? '', process.env._HANDLER ?? '');
  } catch (error) {
    send({ type: 'init-error', error: errorPayload(error) });
    process.disconnect();
    return;
  }
  process.on('message', (message: ParentMessage) => {
    void (async () => {
      let answer: ChildMessage;
      try {
        answer = { type: 'result', id: message.id, result: await handler(message.event, lambdaContext(message.context)) };
      } catch (error) {
        answer = { type: 'error', id: message.id, error: errorPayload(error) };
      }
      // Lambda's END line closes the invocation's output, after everything the handler wrote (its
      // metrics among it): the parent settles the invocation once it has read both.
      process.stdout.write(`${endOfInvocation(message.context.awsRequestId)}\n`, () => send(answer));
    })();
  });
  // The parent going away ends the sandbox.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

void main();
