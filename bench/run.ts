/**
 * `npm run bench [-- p1 p2 p3]`: the splitter's throughput against csv-parse (P1), its memory at
 * 1M and 10M rows (P2) and the local pipeline against the write floor on moto (P3). Prints a table
 * and writes bench/results.json (a subset run replaces only its own sections).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { runP1, type P1Result } from './p1';
import { runP2, type P2Result } from './p2';
import { runP3, type P3Result } from './p3';

const sections = ['p1', 'p2', 'p3'] as const;
type Section = (typeof sections)[number];

interface Results {
  p1?: P1Result & { measuredAt: string; seconds: number };
  p2?: P2Result & { measuredAt: string; seconds: number };
  p3?: P3Result & { measuredAt: string; seconds: number };
  context?: Record<string, unknown>;
}

const resultsFile = join(__dirname, 'results.json');
const log = (line: string) => process.stderr.write(`${line}\n`);

interface Choice {
  ran: Section[];
  /** P3's file size; moto's UpdateItem is slow (tens of ms of CPU each), so this sets P3's run time. */
  p3Rows: number;
}

const usage = `usage: npm run bench [-- [p1] [p2] [p3] [--p3-rows N]]`;

function choose(argv: string[]): Choice {
  const names: string[] = [];
  let p3Rows = 20_000;
  for (let at = 0; at < argv.length; at += 1) {
    const arg = argv[at]!;
    const rowsOption = /^--p3-rows(?:=(.*))?$/.exec(arg);
    if (rowsOption) {
      const value = rowsOption[1] ?? argv[(at += 1)];
      p3Rows = Number(value);
      if (!Number.isSafeInteger(p3Rows) || p3Rows < 100) throw new Error(`--p3-rows takes a whole number of at least 100, got '${value ?? ''}'\n${usage}`);
    } else if ((sections as readonly string[]).includes(arg.toLowerCase())) {
      names.push(arg.toLowerCase());
    } else {
      throw new Error(`unknown benchmark '${arg}': choose from ${sections.join(', ')}\n${usage}`);
    }
  }
  const ran = names.length === 0 ? [...sections] : sections.filter((section) => names.includes(section));
  return { ran, p3Rows };
}

const rate = (value: number) => `${Math.round(value).toLocaleString('en-US')} rows/s`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

function table(results: Results, ran: Section[]): string {
  const lines: [string, string, string, string][] = [['', 'measured', 'target', '']];
  const { p1, p2, p3 } = results;
  if (p1 && ran.includes('p1')) {
    const runs = `best of ${p1.rounds} interleaved, after a warm-up`;
    lines.push(
      [`P1 csv-parse, bare stream (${p1.rows.toLocaleString('en-US')} rows)`, rate(p1.csvParseRowsPerSec), runs, ''],
      ['P1 splitUpload, counting ports', rate(p1.splitterRowsPerSec), runs, ''],
      ['P1 ratio splitter / csv-parse (best)', p1.ratio.toFixed(2), '>= 0.8 (stretch >= 1.0)', verdict(p1.ratio >= 0.8)],
      ['P1 ratio of the medians', p1.medianRatio.toFixed(2), '', ''],
    );
  }
  if (p2 && ran.includes('p2')) {
    lines.push(
      ['P2 peak RSS, 1M rows (fresh process)', `${p2.rss1mMB} MB`, `${p2.runs[0]!.startMaxRssMB} MB before the split`, ''],
      ['P2 peak RSS, 10M rows (fresh process)', `${p2.rss10mMB} MB`, '<= 150 MB', verdict(p2.rss10mMB <= 150)],
      ['P2 growth 10M / 1M', p2.growth.toFixed(2), '<= 1.1 (flat)', verdict(p2.growth <= 1.1)],
    );
  }
  if (p3 && ran.includes('p3')) {
    const concurrency = `${p3.concurrency.updateItemsInFlight} in flight`;
    lines.push(
      [`P3 pipeline, processFile (${p3.rows.toLocaleString('en-US')} rows)`, `${p3.pipelineSeconds} s`, rate(p3.pipelineRowsPerSec), ''],
      [
        `P3 floor, ${p3.updateItems.toLocaleString('en-US')} UpdateItems (mean of before/after)`,
        `${p3.floorSeconds} s`,
        `${rate(p3.floorRowsPerSec)}, ${concurrency}`,
        '',
      ],
      ['P3 ratio pipeline / floor', p3.ratio.toFixed(2), '<= 1.25', verdict(p3.ratio <= 1.25)],
      ['P3 rows re-applied (redelivered messages)', String(p3.pipeline.rowsSkipped), '0', ''],
    );
  }
  const widths = [0, 1, 2, 3].map((column) => Math.max(...lines.map((line) => line[column]!.length)));
  return lines.map((line) => line.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  const { ran, p3Rows } = choose(process.argv.slice(2));
  const previous: Results = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Results) : {};
  const results: Results = { ...previous };
  const started = performance.now();
  const measure = async <T>(run: () => Promise<T>) => {
    const sectionStarted = performance.now();
    const value = await run();
    return { ...value, measuredAt: new Date().toISOString(), seconds: Math.round((performance.now() - sectionStarted) / 1000) };
  };
  if (ran.includes('p1')) results.p1 = await measure(() => runP1({ log }));
  if (ran.includes('p2')) results.p2 = await measure(() => runP2({ log }));
  if (ran.includes('p3')) results.p3 = await measure(() => runP3({ rows: p3Rows, log }));
  results.context = {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpus: cpus().length,
    date: new Date().toISOString(),
    ran,
    seconds: Math.round((performance.now() - started) / 1000),
    notes: {
      p1: 'rates are the best of the interleaved rounds; medians are listed too',
      p3: 'floor = mean of one floor run before and one after the pipeline run (moto slows as it grows)',
    },
  };
  writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`${table(results, ran)}\n\nbench took ${results.context.seconds as number} s; results in bench/results.json\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
