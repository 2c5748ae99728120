/**
 * moto server lifecycle: a fresh server on a free 127.0.0.1 port, health-checked before use and
 * stopped on exit. The Python side watches its stdin: when this process goes away for any reason
 * (exit, Ctrl-C, a crash, SIGKILL) the pipe closes and the server exits, so no orphan is left behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Credentials } from './moto-iam';
import { ensurePythonTools, venvBin } from './venv';

export interface MotoServer {
  endpoint: string;
  /** With `enforceIam`: the key of the IAM user that may do anything ("AWS itself"). */
  administrator?: Credentials;
  stop(): Promise<void>;
}

export interface MotoOptions {
  /**
   * Check every request against the caller's IAM policies (see moto-iam.ts). Off by default: the
   * plain local runtime signs with placeholder keys and pays nothing for checks.
   */
  enforceIam?: boolean;
  /**
   * Serve one request at a time, on the server's side: for clients the local runtime cannot wrap
   * with serialize.ts, such as the bundled functions in their own processes (see serialize.ts for
   * the races moto has otherwise). A long-polling ReceiveMessage would hold every other request
   * for its wait; the local runtime never long-polls.
   */
  oneRequestAtATime?: boolean;
}

const oneRequestAtATime = `
import threading
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
_in_turn = threading.Lock()
_dispatch = DomainDispatcherApplication.__call__
def _one_at_a_time(self, environ, start_response):
    with _in_turn:
        return _dispatch(self, environ, start_response)
DomainDispatcherApplication.__call__ = _one_at_a_time
`;

const patches = `
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
import moto.backends
# moto lists its own package directory (~200 stat calls) on every request to find the service;
# the list cannot change while the server runs, so list it once.
_modules = tuple(moto.backends.list_of_moto_modules())
moto.backends.list_of_moto_modules = lambda: iter(_modules)
# moto answers GetRecords through its generic, shape-walking response serializer, ~1 ms of CPU per
# stream record under the GIL the writes need too. Stream records are plain JSON already: dump
# them directly, with the timestamp as epoch seconds to the millisecond as moto's serializer does.
import calendar, datetime, json
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler
def _epoch_seconds(value):
    if isinstance(value, datetime.datetime):
        return round(calendar.timegm(value.utctimetuple()) + value.microsecond / 1e6, 3)
    raise TypeError(f"cannot serialize {type(value).__name__}")
def _get_records(self):
    limit = self._get_param("Limit")
    result = self.backend.get_records(self._get_param("ShardIterator"), 1000 if limit is None else limit)
    return json.dumps(result, default=_epoch_seconds), {"Content-Type": "application/x-amz-json-1.0"}
DynamoDBStreamsHandler.get_records = _get_records
`;

const serve = `
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print("MOTO_PORT", server.get_host_and_port()[1], flush=True)
sys.stdin.read()
`;

const startTimeoutMs = 60_000;
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

async function healthy(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

export async function startMoto(options: MotoOptions = {}): Promise<MotoServer> {
  ensurePythonTools();
  installExitHook();
  // Loaded only when asked for: the plain runtime's start-up does not pay for the IAM client.
  const iam = options.enforceIam ? (require('./moto-iam') as typeof import('./moto-iam')) : undefined;
  const bootstrap = [patches, ...(iam ? [iam.iamEnforcementPatch] : []), ...(options.oneRequestAtATime ? [oneRequestAtATime] : []), serve];
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  if (iam) env.INITIAL_NO_AUTH_ACTION_COUNT = String(iam.unauthenticatedBootstrapRequests);
  else delete env.INITIAL_NO_AUTH_ACTION_COUNT;
  const child = spawn(venvBin('python'), ['-c', bootstrap.join('\n')], { stdio: ['pipe', 'pipe', 'pipe'], env });
  running.add(child);
  let output = '';
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`moto server did not start within ${startTimeoutMs / 1000}s:\n${output}`)), startTimeoutMs);
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /MOTO_PORT (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolvePort(Number(match[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`moto server exited with code ${code} before it was ready:\n${output}`));
    });
  }).catch((error: unknown) => {
    running.delete(child);
    child.kill('SIGKILL');
    throw error;
  });
  // Keep draining the pipes so a chatty server can never block on a full pipe; keep the tail for errors.
  child.stdout!.removeAllListeners('data').on('data', () => undefined);
  child.stderr!.removeAllListeners('data').on('data', (data: Buffer) => {
    output = (output + data.toString()).slice(-4000);
  });
  child.removeAllListeners('exit');
  // The server must not keep this process alive on its own.
  child.unref();
  (child.stdout as unknown as { unref?: () => void }).unref?.();
  (child.stderr as unknown as { unref?: () => void }).unref?.();
  (child.stdin as unknown as { unref?: () => void }).unref?.();

  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  while (!(await healthy(endpoint))) {
    if (Date.now() > deadline) throw new Error(`moto server on ${endpoint} never answered its health check:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  let stopped: Promise<void> | undefined;
  const server: MotoServer = {
    endpoint,
    stop() {
      stopped ??= new Promise<void>((resolveStop) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          running.delete(child);
          resolveStop();
          return;
        }
        const kill = setTimeout(() => child.kill('SIGKILL'), 3000);
        child.once('exit', () => {
          clearTimeout(kill);
          running.delete(child);
          resolveStop();
        });
        child.stdin!.end();
        child.kill('SIGTERM');
      });
      return stopped;
    },
  };
  if (iam) {
    try {
      server.administrator = await iam.bootstrapAdministrator(endpoint);
    } catch (error) {
      await server.stop();
      throw error;
    }
  }
  return server;
}
