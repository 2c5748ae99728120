/** The `inventory` command. */
import { Command, InvalidArgumentError } from 'commander';
import { runLocal } from './local';

function wholeNumber(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) throw new InvalidArgumentError('must be a whole number ≥ 0.');
  return parsed;
}

export function program(): Command {
  const cli = new Command('inventory')
    .description('Keep a retail inventory table current from store CSV uploads, and alert on low stock.')
    .showHelpAfterError();

  cli
    .command('local')
    .description(
      'Run store CSV files through the whole pipeline on this machine (the real handlers against a local AWS), ' +
        'one after another, and report rows, rejects and alerts.',
    )
    .argument('<file...>', 'CSV files (store,product,count[,threshold]) in upload order')
    .option('--endpoint <url>', 'use this AWS-compatible endpoint instead of starting a moto server')
    .option('--threshold <n>', 'low-stock threshold for items no row gave one (default 10)', wholeNumber)
    .option('--json', 'print one JSON document instead of the human summary')
    .option('--log-level <level>', 'handler log level on stderr: DEBUG, INFO, WARN, ERROR, SILENT', 'SILENT')
    .addHelpText('after', '\nExample:\n  $ inventory local samples/*.csv\n  $ inventory local --json --threshold 5 night1.csv night2.csv')
    .action(async (files: string[], options: { endpoint?: string; threshold?: number; json?: boolean; logLevel?: string }) => {
      process.exitCode = await runLocal(files, options);
    });

  return cli;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    process.stderr.write(`inventory: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  }
}
