/** The `inventory` command. */
import { Command, InvalidArgumentError } from 'commander';
import { faultSpecArgument } from './arguments';
import { runLocal, type LocalCommandOptions } from './local';
import { redrivableQueues, runRedrive } from './redrive';

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
    .argument('[file...]', 'CSV files (store,product,count[,threshold]) in upload order; none: process what waits in the queues')
    .option(
      '--from-template <dir>',
      'run the stack of a cloud assembly (npx cdk synth -o DIR): its resources, bundled functions, event source settings and IAM roles, IAM enforced',
    )
    .option('--endpoint <url>', 'use this AWS-compatible endpoint instead of starting a moto server (with --from-template: a moto enforcing IAM, its administrator key in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)')
    .option('--threshold <n>', 'low-stock threshold for items no row gave one (default 10)', wholeNumber)
    .option('--json', 'print one JSON document instead of the human summary')
    .option('--log-level <level>', 'handler log level on stderr: DEBUG, INFO, WARN, ERROR, SILENT', 'SILENT')
    .option(
      '--faults <spec>',
      'inject faults below the handlers, comma-separated name=value: throttle=P, throttle-burst=S, duplicate=P, crash=P, publish-fail=P, seed=N',
      faultSpecArgument,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ inventory local samples/*.csv\n  $ npx cdk synth -o out && inventory local --from-template out samples/*.csv\n  $ inventory local --json --threshold 5 night1.csv night2.csv\n  $ inventory local --faults throttle=0.2,duplicate=0.3,crash=0.05,publish-fail=0.1,seed=7 samples/*.csv\n  $ inventory local --endpoint http://127.0.0.1:5000      # after a redrive',
    )
    .action(async (files: string[], options: LocalCommandOptions) => {
      process.exitCode = await runLocal(files, options);
    });

  cli
    .command('redrive')
    .description(
      'Move dead-lettered messages back to the queue they came from (once their cause is fixed). ' +
        'Stale rows are skipped by the writer, so a redrive can never roll the table back.',
    )
    .option('--queue <queue>', 'which dead-letter queue: rows, upload-events or alerts (parked alerts are published again)', 'rows')
    .option('--endpoint <url>', 'an AWS-compatible endpoint (default: AWS itself, with your credentials)')
    .option('--stage <stage>', 'the stack stage whose queues to use (default: dev on AWS, local with --endpoint)')
    .option('--max <n>', 'move at most this many messages', wholeNumber)
    .addHelpText(
      'after',
      '\nExamples:\n  $ inventory redrive --stage prod --queue rows\n  $ inventory redrive --stage prod --queue alerts\n  $ inventory redrive --endpoint http://127.0.0.1:5000 --queue upload-events --max 10',
    )
    .action(async (options: { queue: string; endpoint?: string; stage?: string; max?: number }) => {
      const queue = redrivableQueues.find((name) => name === options.queue);
      if (queue === undefined) throw new InvalidArgumentError(`--queue must be ${redrivableQueues.join(', ')}, not '${options.queue}'`);
      const result = await runRedrive({ ...options, queue });
      if (queue !== 'alerts') {
        process.stdout.write(`Moved ${result.moved} message(s) from ${result.from} back to ${result.to}.\n`);
        return;
      }
      process.stdout.write(`Published ${result.moved} parked alert(s) from ${result.from} to ${result.to} again (same alertIds).\n`);
      if (result.left > 0) {
        process.stdout.write(
          `Left ${result.left} message(s) that are not parked alerts: the stream mapping's failure records, which only point at ` +
            'stream records (kept 24 hours); see docs/deploy.md.\n',
        );
      }
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
