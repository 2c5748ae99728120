/**
 * A bundled function's output read as CloudWatch reads it: embedded-metric-format lines give the
 * counters (values summed, a metric added twice in an invocation being a list), log lines are shown
 * from the chosen level up, and anything else counts as a warning.
 */
import { embeddedMetrics, shownAtLevel } from '../../src/local/template/function-output';

/** What Powertools Metrics prints at the end of a writer invocation (one directive, two dimensions sets). */
const writerMetrics = JSON.stringify({
  _aws: {
    Timestamp: 1764636000000,
    CloudWatchMetrics: [
      { Namespace: 'InventoryPipeline', Dimensions: [['service']], Metrics: [{ Name: 'RowsApplied', Unit: 'Count' }, { Name: 'RowsSkipped', Unit: 'Count' }, { Name: 'RowsDeferred', Unit: 'Count' }] },
    ],
  },
  service: 'inventory-pipeline',
  RowsApplied: [7, 5],
  RowsSkipped: 1,
  RowsDeferred: 0,
});

test('an EMF line gives each metric it declares, a list of values summed', () => {
  expect(embeddedMetrics(writerMetrics)).toEqual(new Map([['RowsApplied', 12], ['RowsSkipped', 1], ['RowsDeferred', 0]]));
});

test('log lines and other output are not metrics', () => {
  expect(embeddedMetrics('{"level":"INFO","message":"batch applied","RowsApplied":3}')).toBeUndefined();
  expect(embeddedMetrics('(node:12) Warning: something')).toBeUndefined();
  expect(embeddedMetrics('{"_aws": "not a directive"}')).toBeUndefined();
  expect(embeddedMetrics('{ truncated')).toBeUndefined();
});

test('a log line is shown from the chosen level up; other lines count as warnings; SILENT shows nothing', () => {
  const info = '{"level":"INFO","message":"batch applied"}';
  const error = '{"level":"ERROR","message":"message failed"}';
  const notice = 'NODE_OPTIONS --max-semi-space-size=8 left out';
  expect([info, error, notice].map((line) => shownAtLevel(line, 'DEBUG'))).toEqual([true, true, true]);
  expect([info, error, notice].map((line) => shownAtLevel(line, 'info'))).toEqual([true, true, true]);
  expect([info, error, notice].map((line) => shownAtLevel(line, 'WARN'))).toEqual([false, true, true]);
  expect([info, error, notice].map((line) => shownAtLevel(line, 'ERROR'))).toEqual([false, true, false]);
  expect([info, error, notice].map((line) => shownAtLevel(line, 'SILENT'))).toEqual([false, false, false]);
});
