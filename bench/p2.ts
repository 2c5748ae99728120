/**
 * P2: peak RSS of the splitter's core at 1M and 10M rows, each in a fresh child process
 * (p2-child.ts) so the number is that run's alone. Flat means the stream never accumulates.
 *
 * The child is bundled with esbuild and run by plain node with the splitter's NODE_OPTIONS, as the
 * stack ships and configures the splitter (NodejsFunction bundles with esbuild): under tsx the
 * process would also carry tsx's loader thread and compiled sources, ~40 MB that no deployed
 * function has.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildSync } from 'esbuild';
import { nodeOptionsOf } from '../src/shared/settings';
import type { P2ChildResult } from './p2-child';

export interface P2Result {
  rss1mMB: number;
  rss10mMB: number;
  /** rss10m / rss1m: 1.0 is perfectly flat. */
  growth: number;
  runtime: string;
  runs: P2ChildResult[];
}

const run = promisify(execFile);

function bundleChild(): string {
  const dataDir = join(__dirname, '.data');
  mkdirSync(dataDir, { recursive: true });
  const outfile = join(dataDir, 'p2-child.js');
  buildSync({ entryPoints: [join(__dirname, 'p2-child.ts')], bundle: true, platform: 'node', target: 'node20', outfile, logLevel: 'warning' });
  return outfile;
}

/** The splitter's NODE_OPTIONS on Lambda (the stack sets them from the settings). */
const deployedNodeOptions = nodeOptionsOf('splitter');

async function child(script: string, rows: number): Promise<P2ChildResult> {
  const { stdout } = await run(process.execPath, [script, String(rows)], {
    cwd: join(__dirname, '..'),
    env: { ...process.env, NODE_OPTIONS: deployedNodeOptions },
    maxBuffer: 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as P2ChildResult;
}

export async function runP2(options: { sizes?: [number, number]; log?: (line: string) => void } = {}): Promise<P2Result> {
  const [small, large] = options.sizes ?? [1_000_000, 10_000_000];
  const log = options.log ?? (() => undefined);
  const script = bundleChild();
  const runs: P2ChildResult[] = [];
  for (const rows of [small, large]) {
    log(`P2: ${rows} rows in a fresh process`);
    const result = await child(script, rows);
    log(
      `P2: ${rows} rows: peak RSS ${result.maxRssMB} MB (${result.startMaxRssMB} MB before the split; V8 heap peak ${result.peakHeapTotalMB} MB reserved, ${result.peakHeapUsedMB} MB used), ${result.seconds} s`,
    );
    runs.push(result);
  }
  const rss1mMB = runs[0]!.maxRssMB;
  const rss10mMB = runs[1]!.maxRssMB;
  return {
    rss1mMB,
    rss10mMB,
    growth: Math.round((rss10mMB / rss1mMB) * 1000) / 1000,
    runtime: `node ${process.version}, p2-child.ts bundled with esbuild and run with the splitter's NODE_OPTIONS (${deployedNodeOptions}), as deployed`,
    runs,
  };
}
