/** The shared settings stay within the AWS limits the code relies on. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { columnKey } from '../../src/shared/csv';
import { resourceNames, settings, visibilityTimeoutSeconds } from '../../src/shared/settings';

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
