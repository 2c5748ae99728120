/**
 * The load test's HTML page: self-contained, carrying the JSON report it was made from, showing its
 * verdict and numbers, and drawing its time series and files from that data.
 */
import { renderHtml } from '../../loadtest/html';
import type { LoadTestReport } from '../../loadtest/report';
import type { TimelineSample } from '../../loadtest/timeline';

function report(overrides: Partial<LoadTestReport> = {}): LoadTestReport {
  const samples: TimelineSample[] = [0, 2, 4, 6, 8.5].map((seconds, index) => ({
    seconds,
    rowsWritten: [0, 180, 420, 760, 985][index]!,
    queues: { 'upload-events': index === 0 ? 1 : 0, rows: [0, 7, 5, 2, 0][index]! },
  }));
  return {
    runId: 'HTML1',
    storePrefix: 'LTHTML1-',
    verdict: 'pass',
    target: { mode: 'local', endpoint: 'http://127.0.0.1:5000', bucket: 'b', table: 't' },
    scenario: { seed: 1, rows: 1000, files: 2, stores: 4, productsPerStore: 50, defaultThreshold: 10 },
    files: [
      { file: 'night-1.csv', status: 'processed', rows: 500, rowsRead: 500, rejectedExpected: 3, rejected: 3, applied: 497, skipped: 0, alertsExpected: 40, alertsObserved: 40, seconds: 4.2, startSeconds: 0 },
      { file: 'night-2.csv', status: 'processed', rows: 500, rowsRead: 500, rejectedExpected: 2, rejected: 2, applied: 488, skipped: 10, alertsExpected: 51, alertsObserved: 51, seconds: 4.3, startSeconds: 4.2 },
    ],
    totals: {
      rows: 1000,
      rejectedExpected: 5,
      rejected: 5,
      applied: 985,
      skipped: 10,
      alertsExpected: 91,
      alertsObserved: 91,
      deadLettered: 0,
      seconds: 8.5,
      rowsPerSecond: 118,
      generateSeconds: 0.02,
      verifySeconds: 0.3,
      appliedTwice: 0,
      duplicateAlerts: 0,
      faults: { throttled: 0, duplicated: 0, crashed: 0, publishFailed: 0 },
    },
    verification: {
      table: { itemsExpected: 190, itemsFound: 190, mismatched: 0 },
      rejects: { expected: 5, observed: 5, mismatched: 0 },
      alerts: { verified: true, expected: 91, observed: 91, mismatched: 0, missing: 0 },
    },
    mismatches: { total: 0, byCheck: { table: 0, rejects: 0, alerts: 0, files: 0 }, first: [] },
    notes: [],
    keptFiles: [],
    timeline: { intervalSeconds: 2, samples },
    ...overrides,
  };
}

const embedded = (html: string) => JSON.parse(/<script type="application\/json" id="load-test-report">(.*?)<\/script>/s.exec(html)![1]!) as LoadTestReport;
const polyline = (html: string, series: string) => {
  const points = new RegExp(`<polyline data-series="${series}"[^>]* points="([^"]*)"`).exec(html)![1]!;
  return points.split(' ').map((pair) => pair.split(',').map(Number) as [number, number]);
};

test('the page embeds the JSON report it was made from, and shows its verdict and numbers', () => {
  const data = report();
  const html = renderHtml(data);
  expect(embedded(html)).toEqual(data);
  expect(html).toMatch(/<div class="verdict pass" id="verdict">PASS — the final table, the rejected lines and the alerts match the expectation<\/div>/);
  for (const [label, value] of [['rows', '1,000'], ['seconds', '8.50'], ['rows/s', '118'], ['applied', '985'], ['dead-lettered', '0']]) {
    expect(html).toContain(`<div class="value">${value}</div><div class="label">${label}</div>`);
  }
  expect(html).toContain('<li>Table: 190 item(s) expected, 190 found, 0 mismatched</li>');
  expect(html).toMatch(/<td>2<\/td><td>night-2\.csv<\/td><td>processed<\/td><td>500<\/td><td>2<\/td><td>488<\/td><td>10<\/td>/);
});

test('the page is self-contained: no script but its data, nothing loaded from anywhere', () => {
  const html = renderHtml(report());
  expect(html.match(/<script/g)).toHaveLength(1);
  expect(html).not.toMatch(/\s(src|href)=|<link|@import|url\(|<iframe|<object|<img/i);
});

test('the charts draw the timeline and the files from the report: one point per sample, in time order, higher for more', () => {
  const data = report();
  const html = renderHtml(data);
  const written = polyline(html, 'rows written');
  expect(written).toHaveLength(data.timeline.samples.length);
  const xs = written.map(([x]) => x);
  expect(xs).toEqual([...xs].sort((a, b) => a - b));
  // SVG y grows downwards: more rows, smaller y.
  const ys = written.map(([, y]) => y);
  expect(ys).toEqual([...ys].sort((a, b) => b - a));
  const rows = polyline(html, 'rows');
  expect(rows.map(([, y]) => y).indexOf(Math.min(...rows.map(([, y]) => y)))).toBe(1); // the peak of 7 messages
  expect(polyline(html, 'upload-events')).toHaveLength(data.timeline.samples.length);
  const bars = [...html.matchAll(/<rect data-file="([^"]*)" data-seconds="([^"]*)" x="([^"]*)"[^>]* width="([^"]*)"/g)];
  expect(bars.map((bar) => [bar[1], Number(bar[2])])).toEqual(data.files.map((file) => [file.file, file.seconds]));
  expect(Number(bars[1]![3])).toBeGreaterThan(Number(bars[0]![3])); // the second file started later
});

test('a failed run shows its mismatches, escaped; a stack run says rows written are not observed; no text can close the data', () => {
  const html = renderHtml(
    report({
      verdict: 'fail',
      target: { mode: 'stack', stack: 'InventoryPipeline-dev', region: 'eu-west-1', bucket: 'b', table: 't' },
      mismatches: { total: 1, byCheck: { table: 1, rejects: 0, alerts: 0, files: 0 }, first: [{ check: 'table', detail: 'S1 / "<b>Lamp</b></script>": count 3 in the table, 4 expected' }] },
      timeline: { intervalSeconds: 5, samples: [{ seconds: 0, rowsWritten: null, queues: { 'upload-events': 0, rows: 3 } }] },
    }),
  );
  expect(html).toMatch(/<div class="verdict fail" id="verdict">FAIL — 1 mismatch\(es\), see below<\/div>/);
  expect(html).toContain('<li><b>table</b> S1 / &#34;&#60;b&#62;Lamp&#60;/b&#62;&#60;/script&#62;&#34;: count 3 in the table, 4 expected</li>');
  expect(html).toContain('Rows written are not observed on a deployed stack');
  expect(html).not.toMatch(/data-series="rows written"/);
  expect(embedded(html).mismatches.first[0]!.detail).toBe('S1 / "<b>Lamp</b></script>": count 3 in the table, 4 expected');
});
