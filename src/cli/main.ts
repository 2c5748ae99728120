/** The `inventory` command. */
import { Command, InvalidArgumentError } from 'commander';
import { faultSpecArgument } from './arguments';
import { runLocal, type LocalCommandOptions } from './local';
import { runPlan } from './plan';
import { redrivableQueues, runRedrive } from './redrive';
import { parseDuration, runStatus } from './status';

function wholeNumber(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) throw new InvalidArgumentError('must be a whole number ≥ 0.');
  return parsed;
}

/**
 * Commander has already printed its message (or the help) when it gives up on the command line;
 * only the exit status is left to set. Thrown instead of Commander's own process.exit, which
 * would exit 1 — the status this command gives a failed run, not a usage error.
 */
class CommanderExit extends Error {
  constructor(readonly status: number) {
    super(`commander exited with ${status}`);
  }
}

function positiveNumber(value: string): number {
  const parsed = wholeNumber(value);
  if (parsed < 1) throw new InvalidArgumentError('must be a whole number ≥ 1.');
  return parsed;
}

function duration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError('must be a duration such as 30s, 90m, 24h or 7d.');
  return ms;
}

export function program(): Command {
  const cli = new Command('inventory')
    .description('Keep a retail inventory table current from store CSV uploads, and alert on low stock.')
    .showHelpAfterError()
    // Before the subcommands are added: they inherit it. Help and --version exit 0, every other
    // exit (unknown option or command, a missing or invalid value) is a usage error.
    .exitOverride((error) => {
      throw new CommanderExit(error.exitCode === 0 ? 0 : 2);
    });

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
      '--store-scoped',
      "store-scoped uploads: each FILE is uploaded as uploads/<its directory's name>/<its name> (stores/S0012/monday.csv → uploads/S0012/monday.csv), its rows may be for that store only and the store column may be left out (with --from-template: the template decides)",
    )
    .option(
      '--faults <spec>',
      'inject faults below the handlers, comma-separated name=value: throttle=P, throttle-burst=S, duplicate=P, crash=P, publish-fail=P, seed=N',
      faultSpecArgument,
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ inventory local samples/*.csv\n  $ npx cdk synth -o out && inventory local --from-template out samples/*.csv\n  $ inventory local --json --threshold 5 night1.csv night2.csv\n  $ inventory local --faults throttle=0.2,duplicate=0.3,crash=0.05,publish-fail=0.1,seed=7 samples/*.csv\n  $ inventory local --store-scoped stores/S0012/monday.csv stores/S0040/monday.csv\n  $ inventory local --endpoint http://127.0.0.1:5000      # after a redrive',
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

  cli
    .command('status')
    .description(
      'Did every upload finish, and what is stuck? Each recent upload with its receipt (processed or failed) or none yet ' +
        '(in progress), the queues, and the dead-letter queues — on a deployed stack or a local endpoint.',
    )
    .option('--stage <stage>', 'the stack stage: its stack outputs name the bucket and queues (default: dev; local with --endpoint)')
    .option('--endpoint <url>', "an AWS-compatible endpoint (e.g. the local runtime's moto server) instead of AWS; names from the stage")
    .option('--since <duration>', 'uploads from this long ago on: 30s, 90m, 24h, 7d (default 24h)', duration)
    .option('--json', 'print one JSON document instead of the table')
    .addHelpText(
      'after',
      '\nExamples:\n  $ inventory status --stage prod\n  $ inventory status --endpoint http://127.0.0.1:5000 --since 2h --json',
    )
    .action(async (options: { stage?: string; endpoint?: string; since?: number; json?: boolean }) => {
      process.exitCode = await runStatus({ ...options, sinceMs: options.since ?? parseDuration('24h')! });
    });

  cli
    .command('plan')
    .description(
      'How long one night of N rows takes on AWS and what it costs: the capacity and cost model of the deployed settings ' +
        '(memory, concurrency, batch sizes, table capacity) at us-east-1 list prices — the bottleneck, cost per service, ' +
        'and what to change to fit in 15 minutes.',
    )
    .requiredOption('--rows <n>', 'data rows in the night', positiveNumber)
    .option('--files <n>', 'files (uploads) they come in (default: one per store, 1,000)', positiveNumber)
    .option('--stores <n>', 'stores they cover: each is one DynamoDB partition key (default: one per file, 1,000)', positiveNumber)
    .option('--json', 'print one JSON document instead of the summary')
    .addHelpText('after', '\nExamples:\n  $ inventory plan --rows 100000000\n  $ inventory plan --rows 10000000 --files 200 --stores 200 --json')
    .action((options: { rows: number; files?: number; stores?: number; json?: boolean }) => {
      runPlan(options);
    });

  return cli;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderExit) {
      process.exitCode = error.status;
      return;
    }
    process.stderr.write(`inventory: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  }
}
