/** The shared settings stay within the AWS limits the code relies on. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { columnKey } from '../../src/shared/csv';
import { concurrencyBudget, defaultTableCapacity, nodeOptionsOf, resourceNames, settings, visibilityTimeoutSeconds } from '../../src/shared/settings';

const KiB = 1024;

test('a packed message fits a SendMessageBatch request and the queue', () => {
  const { packing, queues } = settings;
  expect(packing.maxBatchEntries).toBeLessThanOrEqual(10);
  expect(packing.maxBatchBytes).toBeLessThanOrEqual(256 * KiB);
  expect(packing.maxMessageBytes).toBeLessThanOrEqual(packing.maxBatchBytes);
  expect(packing.maxMessageBytes).toBeLessThanOrEqual(queues.maximumMessageSizeBytes);
});

test('PublishBatch takes at most 10 entries', () => {
  expect(settings.alerter.publishBatchSize).toBeLessThanOrEqual(10);
});

test('the CSV key limits are DynamoDB’s (partition key 2048 bytes, sort key 1024 bytes)', () => {
  expect(settings.csv.maxStoreBytes).toBe(2048);
  expect(settings.csv.maxProductBytes).toBe(1024);
});

test('queue visibility timeouts follow the six-times-the-consumer rule', () => {
  expect(visibilityTimeoutSeconds(settings.writer.timeoutSeconds)).toBe(settings.writer.timeoutSeconds * 6);
});

test('resource names carry the stage', () => {
  for (const name of Object.values(resourceNames('qa7'))) expect(name).toContain('-qa7-');
});

test('an SQS event source mapping’s maximum concurrency is between 2 and 1,000, whatever the table’s capacity', () => {
  for (const capacity of [defaultTableCapacity, { maxWriteRequestUnitsPerSecond: 1 }, { warmWriteUnitsPerSecond: 4_000_000, maxWriteRequestUnitsPerSecond: 4_000_000 }]) {
    for (const part of ['splitter', 'writer'] as const) {
      expect(concurrencyBudget(capacity)[part]).toBeGreaterThanOrEqual(2);
      expect(concurrencyBudget(capacity)[part]).toBeLessThanOrEqual(1000);
    }
  }
});

test('a stream mapping’s ParallelizationFactor is between 1 and 10', () => {
  expect(settings.alerter.parallelizationFactor).toBeGreaterThanOrEqual(1);
  expect(settings.alerter.parallelizationFactor).toBeLessThanOrEqual(10);
});

test('the default write cap leaves the writers at full concurrency room, so the pipeline is never throttled by its own cap', () => {
  const writersAtFullConcurrency = concurrencyBudget().writer * settings.table.partitionWriteUnitsPerSecond;
  expect(settings.table.capacity.maxWriteRequestUnitsPerSecond).toBeGreaterThan(writersAtFullConcurrency);
});

test('a function that sizes V8’s young generation sizes its old one too, at 85–90% of its memory', () => {
  const options = nodeOptionsOf('splitter').split(' ');
  expect(options).toContain(`--max-semi-space-size=${settings.splitter.maxSemiSpaceMb}`);
  const oldSpaceMb = Number(options.find((option) => option.startsWith('--max-old-space-size='))?.split('=')[1]);
  expect(oldSpaceMb / settings.splitter.memoryMb).toBeGreaterThanOrEqual(0.85 - 1 / settings.splitter.memoryMb);
  expect(oldSpaceMb / settings.splitter.memoryMb).toBeLessThanOrEqual(0.9);
  // Either flag makes Lambda's bootstrap leave the heap to NODE_OPTIONS; neither leaves it to Lambda.
  for (const part of ['writer', 'alerter'] as const) expect(nodeOptionsOf(part)).not.toMatch(/--max-(semi|old)-space-size/);
});

test('every accepted column name names one field only, written as header names are compared', () => {
  const fieldOf = new Map<string, string>();
  for (const [field, names] of Object.entries(settings.csv.columns)) {
    expect(names).toContain(field);
    for (const name of names) {
      expect(columnKey(name)).toBe(name);
      expect(fieldOf.get(name) ?? field).toBe(field);
      fieldOf.set(name, field);
    }
  }
  for (const required of settings.csv.requiredColumns) expect(Object.keys(settings.csv.columns)).toContain(required);
});

test('delimiters are single characters that are not quotes or line breaks', () => {
  for (const delimiter of settings.csv.delimiters) expect(delimiter).toMatch(/^[^"\r\n]$/);
});

test("the README's CSV contract lists exactly the accepted column names of the settings", () => {
  const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
  const contract = readme.slice(readme.indexOf('## CSV contract'), readme.indexOf('## Semantics'));
  for (const [field, names] of Object.entries(settings.csv.columns)) {
    const row = contract.split('\n').find((line) => line.trim().startsWith(`| ${field} |`));
    expect(row).toBeDefined();
    const listed = [...row!.split('|')[3]!.matchAll(/`([^`]+)`/g)].map((match) => match[1]);
    expect(listed).toEqual(names);
  }
});
