/**
 * The messages between the local runtime and a function's process (over Node's IPC channel): the
 * process says it is ready once the handler is loaded, then answers one invocation at a time. Its
 * stdout carries the handler's output, each invocation's closed by Lambda's END line.
 */

/** What of Lambda's context crosses the process boundary; the process builds the context from it. */
export interface InvocationContext {
  awsRequestId: string;
  functionName: string;
  functionVersion: string;
  invokedFunctionArn: string;
  memoryLimitInMB: string;
  logGroupName: string;
  logStreamName: string;
  /** Epoch milliseconds when the invocation times out. */
  deadlineMs: number;
}

/** A handler's error as Lambda reports it. */
export interface FunctionErrorPayload {
  errorType: string;
  errorMessage: string;
  stackTrace: string[];
}

export type ParentMessage = { type: 'invoke'; id: number; event: unknown; context: InvocationContext };

export type ChildMessage =
  | { type: 'ready' }
  | { type: 'init-error'; error: FunctionErrorPayload }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; error: FunctionErrorPayload };

export function errorPayload(error: unknown): FunctionErrorPayload {
  if (error instanceof Error) {
    return { errorType: error.name, errorMessage: error.message, stackTrace: (error.stack ?? '').split('\n').slice(1).map((line) => line.trim()) };
  }
  return { errorType: 'Error', errorMessage: String(error), stackTrace: [] };
}

/** The line that ends an invocation's output on stdout, as Lambda writes it to the function's logs. */
export function endOfInvocation(awsRequestId: string): string {
  return `END RequestId: ${awsRequestId}`;
}
