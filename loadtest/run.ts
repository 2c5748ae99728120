/**
 * `npm run loadtest -- [options]`: generated CSVs through the local runtime or a deployed stack,
 * then the final state verified against the scenario's expectation.
 *
 * Exit status: 0 when everything matches, 1 on any mismatch, 2 for a usage or setup error.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type { FaultSpec } from '../src/local/faults';
import { faultSpecArgument } from '../src/cli/arguments';
import { settings } from '../src/shared/settings';
import { runLoadTest } from './load-test';
import { renderHtml } from './html';
import { renderReport } from './report';

function wholeNumber(minimum: number) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed < minimum) {
      throw new InvalidArgumentError(`must be a whole number ≥ ${minimum}.`);
    }
    return parsed;
  };
}

interface CliOptions {
  rows: number;
  files: number;
  stores?: number;
  seed: number;
  threshold: number;
  endpoint?: string;
  stack?: string;
  region?: string;
  timeout: number;
  json?: boolean;
  html?: string;
  keep?: boolean;
  faults?: FaultSpec;
}

function program(): Command {
  return new Command('loadtest')
    .description('Generate store CSVs, run them through the pipeline (locally or on a deployed stack) and verify the final table.')
    .option('--rows <n>', 'data rows over all files', wholeNumber(1), 20_000)
    .option('--files <n>', 'files (nights), uploaded in order', wholeNumber(1), 3)
    .option('--stores <n>', 'stores (default: grows with the rows)', wholeNumber(1))
    .option('--seed <n>', 'seed of the generated data', wholeNumber(0), 1)
    .option('--threshold <n>', 'low-stock threshold of items no row gave one (local only)', wholeNumber(0), settings.inventory.defaultThreshold)
    .option('--endpoint <url>', 'an AWS-compatible endpoint (e.g. a moto server) instead of starting one')
    .option('--stack <name>', 'a deployed stack, e.g. InventoryPipeline-dev (uses your AWS credentials)')
    .option('--region <region>', "the stack's region (default: your AWS configuration's)")
    .option('--timeout <seconds>', 'with --stack: how long to wait for the pipeline', wholeNumber(1), 1800)
    .option('--faults <spec>', 'local only: inject faults below the handlers, as `inventory local --faults` (e.g. throttle=0.2,crash=0.05,seed=7)', faultSpecArgument)
    .option('--json', 'print the JSON report instead of the table')
    .option('--html <file>', 'also write the report as one self-contained HTML page with charts')
    .option('--keep', 'keep the generated CSVs (loadtest/.data/<runId>/)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ npm run loadtest -- --rows 5000 --files 3\n  $ npm run loadtest -- --endpoint http://127.0.0.1:5000\n' +
        '  $ npm run loadtest -- --stack InventoryPipeline-dev --region eu-west-1 --rows 200000\n' +
        '  $ npm run loadtest -- --rows 5000 --html report.html',
    )
    .exitOverride();
}

async function main(argv: string[]): Promise<number> {
  const cli = program();
  try {
    cli.parse(argv);
  } catch (error) {
    // Commander has printed the help or the error already.
    return error instanceof CommanderError && error.exitCode === 0 ? 0 : 2;
  }
  const options = cli.opts<CliOptions>();
  if (options.stack !== undefined && options.endpoint !== undefined) throw new InvalidArgumentError('--stack and --endpoint exclude each other.');
  if (options.region !== undefined && options.stack === undefined) throw new InvalidArgumentError('--region applies to --stack only.');
  if (options.stack !== undefined && options.threshold !== settings.inventory.defaultThreshold) {
    // The stack's functions are deployed with this default; the expectation must use the same.
    throw new InvalidArgumentError(`--threshold can't change a deployed stack's default threshold (${settings.inventory.defaultThreshold}).`);
  }
  if (options.files > options.rows) throw new InvalidArgumentError('--rows must be at least --files (one row per file).');
  if (options.faults !== undefined && options.stack !== undefined) throw new InvalidArgumentError('--faults applies to the local runtime only, not to --stack.');
  if (options.html !== undefined && !existsSync(dirname(resolve(options.html)))) {
    throw new InvalidArgumentError(`--html ${options.html}: its directory does not exist.`);
  }
  const { report, reportPath } = await runLoadTest({
    rows: options.rows,
    files: options.files,
    seed: options.seed,
    defaultThreshold: options.threshold,
    timeoutSeconds: options.timeout,
    keep: options.keep ?? false,
    ...(options.stores === undefined ? {} : { stores: options.stores }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.stack === undefined ? {} : { stack: options.stack }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.faults === undefined ? {} : { faults: options.faults }),
    progress: (message) => process.stderr.write(`loadtest: ${message}\n`),
  });
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  process.stderr.write(`loadtest: report written to ${reportPath}\n`);
  if (options.html !== undefined) {
    await writeFile(options.html, renderHtml(report));
    process.stderr.write(`loadtest: HTML report written to ${options.html}\n`);
  }
  return report.verdict === 'pass' ? 0 : 1;
}

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`loadtest: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
  },
);
