/**
 * The capacity model against nights worked out by hand: round inputs, so each expected value below
 * is arithmetic anyone can redo (and the comments do).
 */
import { awsPrices } from '../../src/capacity/aws';
import { planInputsFromSettings, rowsPerMessage } from '../../src/capacity/inputs';
import { changesToFit, planNight, writerRowsPerSecond, type PlanInputs } from '../../src/capacity/model';
import { planNightDocument, renderPlan } from '../../src/cli/plan';
import { concurrencyBudget, settings } from '../../src/shared/settings';

/** 1,769 MB is one full vCPU; 1,769 / 1,024 GB of memory. */
const fullVcpuMb = 1769;
const fullVcpuGb = 1769 / 1024;

function inputs(overrides: { [K in keyof PlanInputs]?: Partial<PlanInputs[K]> } = {}): PlanInputs {
  const base: PlanInputs = {
    splitter: { memoryMb: fullVcpuMb, timeoutSeconds: 900, maxConcurrency: 10 },
    writer: { memoryMb: fullVcpuMb, batchSize: 10, maxConcurrency: 10, writeConcurrency: 5 },
    alerter: { memoryMb: 1024, batchSize: 100, publishBatchSize: 10 },
    rowsPerMessage: 1000,
    table: { warmWriteUnitsPerSecond: 4000, maxWriteRequestUnits: null, quotaWriteUnitsPerSecond: 40_000 },
    lambdaConcurrency: 1000,
    workload: { rejectedShare: 0, alertShare: 0.01 },
    performance: { splitterRowsPerSecondPerVcpu: 100_000, writerCpuMsPerRowPerVcpu: 0.5, updateItemLatencyMs: 5, alerterSecondsPerBatch: 0.1, logBytesPerInvocation: 1024 },
  };
  const merged = { ...base } as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    merged[key] = typeof value === 'object' && value !== null ? { ...(base as unknown as Record<string, object>)[key], ...value } : value;
  }
  return merged as unknown as PlanInputs;
}

const usd = (plan: ReturnType<typeof planNight>, service: string) => plan.costs.find((cost) => cost.service === service)!.usd;

test('a table-bound night: 1.2M rows from 12 stores take 5 minutes at a new table’s 4,000 write units/s, and cost what the prices say', () => {
  const plan = planNight(inputs(), { rows: 1_200_000, files: 12, stores: 12 });
  // Paces (rows/s): splitter 10 at once × 100,000 over 2 rounds of 1 s → 600,000; writers 10 × min(5 in flight / 5 ms = 1,000,
  // CPU 1 / 0.5 ms = 2,000) = 10,000; partitions 12 × 1,000 = 12,000; table 4,000 → 1,200,000 / 4,000 = 300 s.
  expect(plan.minutes).toBeCloseTo(5, 10);
  expect(plan.bottleneck).toBe('DynamoDB table write capacity');
  expect(plan.limits.map((l) => [l.name, l.rowsPerSecond])).toEqual([
    ['splitter', 600_000],
    ['Lambda concurrency of the writer', 10_000],
    ['DynamoDB table write capacity', 4000],
    ['DynamoDB partition of one store', 12_000],
  ]);
  expect(plan.limits.map((l) => l.bindingMinutes)).toEqual([0, 0, 5, 0]);

  expect(usd(plan, 'Amazon DynamoDB')).toBeCloseTo(1.2 * 0.625, 10);
  // GB-s: splitter 1.2M / 100,000 = 12 s; writers held by the table all 300 s, all 10 busy = 3,000 s; alerter
  // 12,000 batches × 0.1 s × 1 GB. Invocations: 12 files + 1,200 messages / 10 + 12,000 batches = 12,132.
  expect(usd(plan, 'AWS Lambda')).toBeCloseTo((12 * fullVcpuGb + 3000 * fullVcpuGb + 1200) * 0.0000133334 + (12_132 * 0.2) / 1e6, 10);
  // 3 per upload event + each of 1,200 messages sent and received + 120 DeleteMessageBatch.
  expect(usd(plan, 'Amazon SQS')).toBeCloseTo((2556 * 0.4) / 1e6, 12);
  expect(usd(plan, 'Amazon S3')).toBeCloseTo((36 * 0.005) / 1000 + (12 * 0.0004) / 1000, 12);
  // 1% of 1.2M = 12,000 alerts in batches of 10.
  expect(usd(plan, 'Amazon SNS')).toBeCloseTo((1200 * 0.5) / 1e6, 12);
  expect(usd(plan, 'Amazon CloudWatch')).toBeCloseTo(((12_132 * 1024) / 1024 ** 3) * 0.5, 12);
  // One trace a second for 300 s, then 5% of the other 11,832 invocations.
  expect(usd(plan, 'AWS X-Ray')).toBeCloseTo(((300 + 0.05 * 11_832) * 5) / 1e6, 12);
  const total = plan.costs.reduce((sum, cost) => sum + cost.usd, 0);
  expect(plan.totalUsd).toBeCloseTo(total, 12);
  expect(plan.perMillionRowsUsd).toBeCloseTo(total / 1.2, 12);
  expect(plan.warnings).toEqual([]);
});

test('an on-demand table doubles every 30 minutes: 20M rows take 1,800 s at 4,000 and 1,600 s at 8,000', () => {
  const plan = planNight(inputs({ writer: { maxConcurrency: 100 } }), { rows: 20_000_000, files: 100, stores: 100 });
  // 7.2M in the first half hour, the other 12.8M at 8,000/s.
  expect(plan.minutes).toBeCloseTo(3400 / 60, 10);
  expect(plan.bottleneck).toBe('DynamoDB table write capacity');
  // Capped at the table's own maximum of 5,000, it doubles only that far: 7.2M at 4,000, then 12.8M at 5,000 (2,560 s).
  const capped = planNight(inputs({ writer: { maxConcurrency: 100 }, table: { maxWriteRequestUnits: 5000 } }), { rows: 20_000_000, files: 100, stores: 100 });
  expect(capped.minutes).toBeCloseTo(4360 / 60, 10);
});

test('writers that keep up part of the night: the table binds for 30 minutes, then the writers set the pace', () => {
  // Writers: 5 × 1,000 = 5,000/s. First 1,800 s at the table's 4,000 (7.2M), then 8,000 > 5,000: 2.8M more at 5,000 = 560 s.
  const plan = planNight(inputs({ writer: { maxConcurrency: 5 } }), { rows: 10_000_000, files: 10, stores: 10 });
  expect(plan.minutes).toBeCloseTo(2360 / 60, 10);
  expect(plan.limits.find((l) => l.name === 'DynamoDB table write capacity')!.bindingMinutes).toBeCloseTo(30, 10);
  expect(plan.limits.find((l) => l.name === 'Lambda concurrency of the writer')!.bindingMinutes).toBeCloseTo(560 / 60, 10);
  expect(plan.bottleneck).toBe('DynamoDB table write capacity');
  // Writer GB-s: 1,800 s held × 5 writers, then 2.8M rows at 1,000/s each (2,800 s of invocations).
  const splitter = 10_000_000 / 100_000;
  const invocations = 10 + (10 * 1000) / 10 + 100_000;
  expect(usd(plan, 'AWS Lambda')).toBeCloseTo(((splitter + 1800 * 5 + 2800) * fullVcpuGb + 100_000 * 0.1) * 0.0000133334 + (invocations * 0.2) / 1e6, 10);
});

test("one store's rows go to one partition: 600,000 rows of one store take 10 minutes at 1,000 write units/s", () => {
  const plan = planNight(inputs({ table: { warmWriteUnitsPerSecond: 40_000 } }), { rows: 600_000, files: 1, stores: 1 });
  expect(plan.minutes).toBeCloseTo(10, 10);
  expect(plan.bottleneck).toBe('DynamoDB partition of one store');
});

test('a slow splitter sets the pace, and a file it cannot read within its timeout is a warning', () => {
  // 0.1 vCPU × 50,000 = 5,000 rows/s: one file of 1.2M rows takes 240 s.
  const slow = { splitter: { memoryMb: fullVcpuMb / 10 }, performance: { splitterRowsPerSecondPerVcpu: 50_000 }, table: { warmWriteUnitsPerSecond: 40_000 } };
  const plan = planNight(inputs(slow), { rows: 1_200_000, files: 1, stores: 12 });
  expect(plan.minutes).toBeCloseTo(4, 10);
  expect(plan.bottleneck).toBe('splitter');
  expect(plan.warnings).toEqual([]);
  // 10M rows in one file: 2,000 s, over the 900-s timeout; 80% of 900 s at 5,000 rows/s is 3.6M rows.
  expect(planNight(inputs(slow), { rows: 10_000_000, files: 1, stores: 12 }).warnings).toEqual([
    "a file of 10,000,000 rows takes 2000 s to split, longer than the splitter's 900-s timeout: upload files of at most 3,600,000 rows",
  ]);
});

test('a writer is bound by its in-flight UpdateItems or by its share of a vCPU, whichever is slower', () => {
  // A quarter vCPU at 0.5 ms per row: 500 rows/s, below the 1,000 its 5 in flight at 5 ms allow.
  expect(writerRowsPerSecond(inputs({ writer: { memoryMb: fullVcpuMb / 4 } }))).toEqual({ rowsPerSecond: 500, boundBy: 'cpu' });
  // More than one vCPU does not help a single-threaded writer: 1 / 0.5 ms = 2,000.
  expect(writerRowsPerSecond(inputs({ writer: { memoryMb: 4 * fullVcpuMb, writeConcurrency: 100 } }))).toEqual({ rowsPerSecond: 2000, boundBy: 'cpu' });
  expect(writerRowsPerSecond(inputs())).toEqual({ rowsPerSecond: 1000, boundBy: 'latency' });
});

test('rejected rows are read and billed by the splitter but never written', () => {
  const plan = planNight(inputs({ workload: { rejectedShare: 0.25 } }), { rows: 1_200_000, files: 12, stores: 12 });
  // 900,000 rows written at 4,000/s.
  expect(plan.minutes).toBeCloseTo(225 / 60, 10);
  expect(usd(plan, 'Amazon DynamoDB')).toBeCloseTo(0.9 * 0.625, 10);
});

test('to fit in 15 minutes: the table pre-warmed to the pace (with 10% headroom); nothing when the night already fits', () => {
  const night = { rows: 20_000_000, files: 100, stores: 100 };
  const fit = changesToFit(inputs({ writer: { maxConcurrency: 100 } }), night, 15);
  // 20M / (900 s × 0.9) = 24,692 rows/s → 25,000 write units; 100 writers × 1,000 already suffice (the
  // table's 25 would too: writers are never lowered).
  expect(fit.changes).toEqual([{ setting: '-c tableWarmWriteUnits', from: 4000, to: 25_000, why: expect.stringMatching(/pre-warm/) }]);
  expect(fit.obstacles).toEqual([]);
  expect(fit.plan.minutes).toBeCloseTo(800 / 60, 10);
  expect(changesToFit(inputs(), { rows: 1_200_000, files: 12, stores: 12 }, 15).changes).toEqual([]);
});

test('to fit in 15 minutes: the table its quota and warmth, the writers follow it, CPU-bound ones get the vCPU share they need; a store too big for one partition cannot fit', () => {
  const night = { rows: 100_000_000, files: 1000, stores: 1000 };
  const fit = changesToFit(inputs({ writer: { memoryMb: fullVcpuMb / 4, writeConcurrency: 10 } }), night, 15);
  // 100M / 810 s = 123,457 rows/s → 124,000 write units, above the 40,000 quota; one writer per 1,000 → 124 writers.
  // A quarter vCPU: min(10 / 5 ms = 2,000, 0.25 / 0.5 ms = 500) = 500 each, 62,000 in all: too few. 123,457 / 124 =
  // 996 rows/s each needs 996 × 0.5 ms = 0.498 vCPU = 881 MB → 896 MB (64 MB steps).
  expect(fit.changes.map((c) => [c.setting, c.from, c.to])).toEqual([
    ['table quota (Service Quotas: table-level write throughput for on-demand tables)', 40_000, 124_000],
    ['-c tableWarmWriteUnits', 4000, 124_000],
    ['writers at once (the rows mapping, one per 1,000 writes/s of the table)', 10, 124],
    ['writer.memoryMb', fullVcpuMb / 4, 896],
  ]);
  expect(fit.plan.minutes).toBeLessThanOrEqual(15);
  const oneStore = changesToFit(inputs(), { rows: 10_000_000, files: 1, stores: 1 }, 15);
  expect(oneStore.obstacles).toEqual([expect.stringMatching(/^a store's 10,000,000 rows take 167 min at one partition's 1,000 write units\/s/)]);
  // Writers (10,000 rows/s) and table (4,000) already outpace the one partition: nothing to buy that would not wait.
  expect(oneStore.changes).toEqual([]);
});

test('the inputs come from the settings the stack deploys, and rows per message from the message codec', () => {
  const fromSettings = planInputsFromSettings();
  expect(fromSettings.splitter).toMatchObject({ memoryMb: settings.splitter.memoryMb, timeoutSeconds: settings.splitter.timeoutSeconds });
  expect(fromSettings.writer).toEqual({
    memoryMb: settings.writer.memoryMb,
    batchSize: settings.writer.batchSize,
    maxConcurrency: concurrencyBudget().writer,
    writeConcurrency: settings.writer.writeConcurrency,
  });
  expect(fromSettings.alerter).toEqual({ memoryMb: settings.alerter.memoryMb, batchSize: settings.alerter.batchSize, publishBatchSize: settings.alerter.publishBatchSize });
  // A 52-byte tuple (`["S0000","24 bytes",42,null,100000],`) in a body filled to 90% of 64 KiB, less the envelope.
  const perMessage = rowsPerMessage(5, 24);
  expect(perMessage).toBeLessThanOrEqual(Math.floor((0.9 * settings.packing.maxMessageBytes) / 52));
  expect(perMessage).toBeGreaterThan(Math.floor((0.85 * settings.packing.maxMessageBytes) / 52));
  expect(fromSettings.rowsPerMessage).toBe(perMessage);
  expect(awsPrices.dynamodb.usdPerMillionWriteRequestUnits).toBe(0.625);
});

test('the plan document and page: JSON fields, the bottleneck named with its service, and the changes to fit', () => {
  const document = planNightDocument({ rows: 20_000_000, files: 100, stores: 100 }, inputs({ writer: { maxConcurrency: 100 } }));
  expect(document).toMatchObject({ rows: 20_000_000, files: 100, stores: 100, minutes: 56.7, bottleneck: 'DynamoDB table write capacity' });
  expect(document.totalUsd).toBeCloseTo(document.costs.reduce((sum, cost) => sum + cost.usd, 0), 2);
  expect(document.perMillionRowsUsd).toBeCloseTo(document.totalUsd / 20, 3);
  expect(document.toFitIn15Minutes).toMatchObject({ minutes: 13.3, bottleneck: 'DynamoDB table write capacity' });
  const page = renderPlan(document);
  expect(page).toMatch(/^Until the table is current: 56\.7 min$/m);
  expect(page).toMatch(/^Bottleneck: DynamoDB table write capacity \(Amazon DynamoDB\): 4,000 write units\/s warm/m);
  expect(page).toMatch(/^ {2}-c tableWarmWriteUnits: 4000 → 25000 /m);
  expect(planNightDocument({ rows: 1_200_000, files: 12, stores: 12 }, inputs()).toFitIn15Minutes).toBeNull();
});
