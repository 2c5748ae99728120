/**
 * The `inventory` command as a user (or an acceptance suite) runs it: a separate process, its exit
 * code, stdout and stderr, whatever the code.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = join(__dirname, '..', '..', 'bin', 'inventory.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function inventory(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout: string; stderr: string };
    return { code: failed.code ?? -1, stdout: failed.stdout, stderr: failed.stderr };
  }
}
