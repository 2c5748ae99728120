/**
 * A function run in a process of its own, as Lambda's Node.js runtime runs it: its handler loaded
 * from its task root, its environment and NODE_OPTIONS, its response or error sent back, a timeout
 * that ends the sandbox, and warm sandboxes reused up to the function's concurrency. The handlers
 * here are small files written for the test; no AWS is called.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FunctionError, FunctionSandbox, LocalFunction, localNodeOptions, type SandboxSpec } from '../../src/local/template/function-process';

/** Holds the task root, and a node_modules beside it that Node would search and Lambda would not. */
let outer: string;
let taskRoot: string;

beforeAll(() => {
  outer = mkdtempSync(join(tmpdir(), 'inventory-function-'));
  taskRoot = join(outer, 'task');
  mkdirSync(join(outer, 'node_modules', 'outside'), { recursive: true });
  mkdirSync(taskRoot);
  writeFileSync(join(outer, 'node_modules', 'outside', 'index.js'), `exports.value = 'found outside';`);
  writeFileSync(
    join(taskRoot, 'imports.js'),
    `exports.handler = async (event) => (event.sdk ? typeof require('@aws-sdk/client-sqs').SQSClient : require(event.module).value);`,
  );
  writeFileSync(join(taskRoot, 'inside.js'), `exports.value = 'found inside';`);
  writeFileSync(
    join(taskRoot, 'index.js'),
    `let invocations = 0;
exports.handler = async (event, context) => {
  invocations += 1;
  if (event.fail) throw new RangeError('count out of range');
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  for (let line = 0; line < (event.printLines || 0); line += 1) console.log(JSON.stringify({ line, padding: 'x'.repeat(200) }));
  console.log(JSON.stringify({ message: 'handled', id: event.id }));
  return {
    id: event.id, pid: process.pid, invocations,
    functionName: context.functionName, remainingMs: context.getRemainingTimeInMillis(),
    env: { NODE_OPTIONS: process.env.NODE_OPTIONS, AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL, TABLE_NAME: process.env.TABLE_NAME, HOME: process.env.HOME },
  };
};`,
  );
  writeFileSync(join(taskRoot, 'broken.js'), `exports.notTheHandler = async () => 'no';`);
});

afterAll(() => rmSync(outer, { recursive: true, force: true }));

function spec(overrides: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    name: 'writer',
    functionName: 'Shop-dev-Writer',
    functionArn: 'arn:aws:lambda:us-east-1:123456789012:function:Shop-dev-Writer',
    runtime: 'nodejs22.x',
    codeDirectory: taskRoot,
    handler: 'index.handler',
    timeoutSeconds: 30,
    memoryMb: 512,
    variables: { TABLE_NAME: 'inventory', NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=8 --no-such-option' },
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:9',
    credentials: { accessKeyId: 'ASIAROLE', secretAccessKey: 'secret', sessionToken: 'token' },
    onOutput: () => undefined,
    ...overrides,
  };
}

test("NODE_OPTIONS keeps what the local Node accepts and names what it would refuse", () => {
  expect(localNodeOptions('--enable-source-maps --max-semi-space-size=8 --no-such-option')).toEqual({
    accepted: ['--enable-source-maps', '--max-semi-space-size=8'],
    refused: ['--no-such-option'],
  });
});

test("the handler runs in its own process with the function's environment, credentials and context, and its output is passed on line by line", async () => {
  const lines: string[] = [];
  const sandbox = await FunctionSandbox.start(spec({ onOutput: (line, stream) => lines.push(`${stream}: ${line}`) }));
  try {
    const response = (await sandbox.invoke({ id: 'first' })) as { pid: number; env: Record<string, string | undefined>; functionName: string; remainingMs: number };
    expect(response.pid).not.toBe(process.pid);
    expect(response.env).toEqual({
      NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=8',
      AWS_ACCESS_KEY_ID: 'ASIAROLE',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
      TABLE_NAME: 'inventory',
      // Nothing of the parent's environment but PATH leaks in.
      HOME: undefined,
    });
    expect(response.functionName).toBe('Shop-dev-Writer');
    expect(response.remainingMs).toBeGreaterThan(0);
    expect(response.remainingMs).toBeLessThanOrEqual(30_000);
    expect(lines).toContain('stdout: {"message":"handled","id":"first"}');
    expect(lines).toContain(`stderr: NODE_OPTIONS --no-such-option left out: Node ${process.version} does not accept it in NODE_OPTIONS`);
  } finally {
    await sandbox.stop();
  }
});

test("a handler's error comes back as the function's error, and the sandbox stays warm", async () => {
  const sandbox = await FunctionSandbox.start(spec());
  try {
    const error = await sandbox.invoke({ fail: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FunctionError);
    expect((error as FunctionError).payload).toMatchObject({ errorType: 'RangeError', errorMessage: 'count out of range' });
    expect(sandbox.alive).toBe(true);
    expect(await sandbox.invoke({ id: 'after' })).toMatchObject({ id: 'after', invocations: 2 });
  } finally {
    await sandbox.stop();
  }
});

test('an invocation that outlives the timeout fails as Lambda reports it and ends its sandbox', async () => {
  const sandbox = await FunctionSandbox.start(spec({ timeoutSeconds: 0.3 }));
  const error = await sandbox.invoke({ sleepMs: 5_000 }).catch((e: unknown) => e);
  expect((error as FunctionError).payload).toMatchObject({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 0.30 seconds' });
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect(sandbox.alive).toBe(false);
});

test('the context counts down from the Timeout, while the sandbox is ended only at endAfterSeconds', async () => {
  const sandbox = await FunctionSandbox.start(spec({ timeoutSeconds: 0.2, endAfterSeconds: 30 }));
  try {
    const response = (await sandbox.invoke({ id: 'late', sleepMs: 400 })) as { id: string; remainingMs: number };
    expect(response).toMatchObject({ id: 'late', remainingMs: 0 });
    expect(sandbox.alive).toBe(true);
  } finally {
    await sandbox.stop();
  }
});

test("everything the handler wrote has been passed on when its invocation settles (Lambda's END line closes it, and is not passed on)", async () => {
  const lines: string[] = [];
  const sandbox = await FunctionSandbox.start(spec({ onOutput: (line) => lines.push(line) }));
  try {
    // The answer arrives over IPC, the output over a pipe: however the two are read, the
    // invocation settles only once its last line is in.
    for (let id = 0; id < 30; id += 1) {
      await sandbox.invoke({ id, printLines: 100 });
      expect(lines.at(-1)).toBe(`{"message":"handled","id":${id}}`);
    }
    expect(lines.filter((line) => line.startsWith('{"line":'))).toHaveLength(30 * 100);
    expect(lines.some((line) => line.startsWith('END RequestId:'))).toBe(false);
  } finally {
    await sandbox.stop();
  }
});

test("a bundle finds modules where Lambda would: in its task root and the runtime's AWS SDK, not in a node_modules above it", async () => {
  const sandbox = await FunctionSandbox.start(spec({ handler: 'imports.handler' }));
  try {
    expect(await sandbox.invoke({ module: './inside' })).toBe('found inside');
    expect(await sandbox.invoke({ sdk: true })).toBe('function');
    const error = (await sandbox.invoke({ module: 'outside' }).catch((e: unknown) => e)) as FunctionError;
    expect(error.payload.errorMessage).toMatch(/Cannot find module 'outside': it is not in the task root/);
  } finally {
    await sandbox.stop();
  }
});

test('a handler that cannot be loaded fails the start with the reason', async () => {
  const error = await FunctionSandbox.start(spec({ handler: 'broken.handler' })).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(FunctionError);
  expect((error as FunctionError).payload.errorType).toMatch(/^Runtime\.ImportModuleError/);
  expect((error as FunctionError).payload.errorMessage).toMatch(/does not export a function 'handler'/);
});

test('a function keeps up to its concurrency of warm sandboxes and reuses them', async () => {
  const fn = new LocalFunction(spec(), 2);
  try {
    const first = (await Promise.all([1, 2, 3, 4].map((id) => fn.invoke({ id, sleepMs: 100 })))) as { pid: number }[];
    const second = (await Promise.all([5, 6].map((id) => fn.invoke({ id })))) as { pid: number }[];
    const pids = new Set(first.map((r) => r.pid));
    expect(pids.size).toBe(2);
    for (const response of second) expect(pids.has(response.pid)).toBe(true);
  } finally {
    await fn.close();
  }
});
