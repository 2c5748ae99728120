/**
 * `npm run chaos -- [--rows N] [--files F] [--seed S]`: the load-test scenario under every fault
 * spec of the matrix (chaos.ts); prints the table and writes chaos/results.json.
 *
 * Exit status: 0 when every spec passed, 1 when any lost, double-applied or dead-lettered anything,
 * 2 for a usage or setup error.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { renderChaos, runChaos } from './chaos';

function wholeNumber(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a whole number ≥ 1.');
  return parsed;
}

async function main(argv: string[]): Promise<number> {
  const cli = new Command('chaos')
    .description('Run the load-test scenario under a matrix of injected faults and check that nothing is lost, applied twice or dead-lettered.')
    .option('--rows <n>', 'data rows over all files', wholeNumber, 3000)
    .option('--files <n>', 'files (nights), uploaded in order', wholeNumber, 3)
    .option('--seed <n>', 'seed of the generated data', wholeNumber, 1)
    .exitOverride();
  try {
    cli.parse(argv);
  } catch (error) {
    return error instanceof CommanderError && error.exitCode === 0 ? 0 : 2;
  }
  const options = cli.opts<{ rows: number; files: number; seed: number }>();
  const results = await runChaos({ ...options, progress: (message) => process.stderr.write(`chaos: ${message}\n`) });
  const path = join(__dirname, 'results.json');
  await writeFile(path, `${JSON.stringify({ when: new Date().toISOString(), ...options, results }, null, 2)}\n`);
  process.stdout.write(renderChaos(results));
  process.stderr.write(`chaos: results written to ${path}\n`);
  return results.every((result) => result.verdict === 'pass') ? 0 : 1;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`chaos: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
