/**
 * The entry point of a function's own process: what Lambda's Node.js runtime does in a sandbox. It
 * loads the handler `_HANDLER` names from `LAMBDA_TASK_ROOT` (the function's bundled asset
 * directory) once, then runs the invocations the local runtime sends over the IPC channel, one at a
 * time, with a Lambda context. The environment is the function's own (set by the parent).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { endOfInvocation, errorPayload, type ChildMessage, type InvocationContext, type ParentMessage } from './invoke-protocol';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

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
