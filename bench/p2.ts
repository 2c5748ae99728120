/**
 * P2: peak RSS of the splitter's core at 1M and 10M rows, each in a fresh child process
 * (p2-child.ts) so the number is that run's alone. Flat means the stream never accumulates.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { P2ChildResult } from './p2-child';

export interface P2Result {
  rss1mMB: number;
  rss10mMB: number;
  /** rss10m / rss1m: 1.0 is perfectly flat. */
  growth: number;
  runs: P2ChildResult[];
}

const run = promisify(execFile);

async function child(rows: number): Promise<P2ChildResult> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(__dirname, 'p2-child.ts'), String(rows)], {
    cwd: join(__dirname, '..'),
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as P2ChildResult;
}

export async function runP2(options: { sizes?: [number, number]; log?: (line: string) => void } = {}): Promise<P2Result> {
  const [small, large] = options.sizes ?? [1_000_000, 10_000_000];
  const log = options.log ?? (() => undefined);
  const runs: P2ChildResult[] = [];
  for (const rows of [small, large]) {
    log(`P2: ${rows} rows in a fresh process`);
    const result = await child(rows);
    log(
      `P2: ${rows} rows: peak RSS ${result.maxRssMB} MB (${result.startMaxRssMB} MB before the split; V8 heap peak ${result.peakHeapTotalMB} MB reserved, ${result.peakHeapUsedMB} MB used), ${result.seconds} s`,
    );
    runs.push(result);
  }
  const rss1mMB = runs[0]!.maxRssMB;
  const rss10mMB = runs[1]!.maxRssMB;
  return { rss1mMB, rss10mMB, growth: Math.round((rss10mMB / rss1mMB) * 1000) / 1000, runs };
}
