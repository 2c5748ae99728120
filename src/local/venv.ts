/**
 * The project's own Python tools (moto server, cfn-lint), installed into `.venv` at the project root
 * from the pinned `requirements.txt` the first time they are needed. A stamp holding the hash of
 * requirements.txt makes the check cheap and reinstalls when the pins change; a lock directory keeps
 * parallel callers (test workers, two CLI runs) from installing at the same time.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const projectRoot = resolve(__dirname, '..', '..');
const venvDir = join(projectRoot, '.venv');
const requirementsFile = join(projectRoot, 'requirements.txt');
const stampFile = join(venvDir, '.requirements.sha256');
const lockDir = join(projectRoot, '.venv.lock');
const staleLockMs = 15 * 60 * 1000;

export class PythonToolsError extends Error {
  override name = 'PythonToolsError';
}

export function venvBin(tool: string): string {
  return join(venvDir, process.platform === 'win32' ? 'Scripts' : 'bin', tool);
}

function requirementsHash(): string {
  return createHash('sha256').update(readFileSync(requirementsFile)).digest('hex');
}

function isInstalled(hash: string): boolean {
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === hash && existsSync(venvBin('python'));
}

function run(cmd: string, args: string[], what: string): void {
  const result = spawnSync(cmd, args, { cwd: projectRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (result.error) {
    throw new PythonToolsError(`${what} failed: ${result.error.message}`);
  }
  if (result.status !== 0) {
    const output = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new PythonToolsError(`${what} failed (exit ${result.status}):\n${output}`);
  }
}

function findPython(): string {
  const candidates = [process.env.INVENTORY_PYTHON, 'python3', 'python'].filter((c): c is string => Boolean(c));
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import sys; print(sys.version_info >= (3, 9))'], { encoding: 'utf8' });
    if (!probe.error && probe.status === 0 && probe.stdout.trim() === 'True') return candidate;
  }
  throw new PythonToolsError(
    'python3 (3.9 or newer) is required to run the local AWS (moto server) but was not found on PATH; ' +
      'install Python 3 (e.g. `apt install python3 python3-venv` or `brew install python`) or set INVENTORY_PYTHON.',
  );
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function acquireLock(): void {
  for (;;) {
    try {
      mkdirSync(lockDir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = Date.now() - statSync(lockDir, { throwIfNoEntry: false })!.mtimeMs;
      if (age > staleLockMs) rmSync(lockDir, { recursive: true, force: true });
      else sleep(500);
    }
  }
}

/**
 * Makes sure `.venv` holds exactly the pinned tools, installing them if needed. Synchronous on
 * purpose: it runs once before anything else and everything after it depends on it.
 */
export function ensurePythonTools(log: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): void {
  const hash = requirementsHash();
  if (isInstalled(hash)) return;
  acquireLock();
  try {
    if (isInstalled(hash)) return; // another process finished the install while we waited
    const python = findPython();
    log('Installing the local AWS (moto server) and cfn-lint into .venv from requirements.txt — first run only, about a minute…');
    if (!existsSync(venvBin('python'))) {
      run(python, ['-m', 'venv', venvDir], 'Creating the Python virtualenv .venv (on Debian/Ubuntu this needs the python3-venv package)');
    }
    run(venvBin('python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '-r', requirementsFile], 'Installing requirements.txt into .venv');
    writeFileSync(stampFile, `${hash}\n`);
    log('Local AWS installed.');
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
