/**
 * The load test's report as one self-contained HTML page (`--html report.html`): the verdict, the
 * numbers of the JSON report, and charts drawn as inline SVG — rows written and queue depth over
 * time, and each file's time from upload to done. No scripts, fonts or styles from elsewhere: the
 * page opens from a mail attachment or an artifact store as it is. The JSON report itself is
 * embedded (`<script type="application/json" id="load-test-report">`), so the page carries its data.
 */
import type { LoadTestReport } from './report';
import type { TimelineSample, WatchedQueue } from './timeline';

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const shown = (value: number | null) => (value === null ? '–' : value.toLocaleString('en-US'));

const chart = { width: 760, height: 260, left: 64, right: 20, top: 16, bottom: 40 } as const;
const colors = { written: '#1f6feb', 'upload-events': '#8250df', rows: '#d97706', bar: '#2da44e', barFailed: '#cf222e', grid: '#d0d7de', text: '#57606a' };

/** A round upper bound for an axis and its step: 0–1,000 in steps of 200, not 0–937; counts in whole steps. */
function axis(max: number, whole = false): { top: number; step: number } {
  const rough = Math.max(max, 1) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const found = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough)!;
  const step = whole ? Math.max(1, Math.round(found)) : found;
  return { top: Math.ceil(Math.max(max, 1) / step) * step, step };
}

interface Series {
  name: string;
  color: string;
  points: [number, number][];
}

function frame(xMax: number, yMax: number, xLabel: string, yLabel: string): { svg: string[]; x: (v: number) => number; y: (v: number) => number } {
  const plotWidth = chart.width - chart.left - chart.right;
  const plotHeight = chart.height - chart.top - chart.bottom;
  const xAxis = axis(xMax);
  const yAxis = axis(yMax, true);
  const x = (v: number) => chart.left + (v / xAxis.top) * plotWidth;
  const y = (v: number) => chart.top + plotHeight - (v / yAxis.top) * plotHeight;
  const svg: string[] = [];
  for (let v = 0; v <= yAxis.top + yAxis.step / 2; v += yAxis.step) {
    svg.push(`<line x1="${chart.left}" x2="${chart.width - chart.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="${colors.grid}"/>`);
    svg.push(`<text x="${chart.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${escape(shown(Math.round(v * 100) / 100))}</text>`);
  }
  for (let v = 0; v <= xAxis.top + xAxis.step / 2; v += xAxis.step) {
    svg.push(`<text x="${x(v).toFixed(1)}" y="${chart.height - chart.bottom + 16}" text-anchor="middle">${escape(shown(Math.round(v * 100) / 100))}</text>`);
  }
  svg.push(`<text x="${chart.left + plotWidth / 2}" y="${chart.height - 6}" text-anchor="middle">${escape(xLabel)}</text>`);
  svg.push(`<text transform="translate(14 ${chart.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`);
  return { svg, x, y };
}

function svgOf(id: string, title: string, body: string[]): string {
  return (
    `<svg id="${id}" role="img" aria-label="${escape(title)}" viewBox="0 0 ${chart.width} ${chart.height}" width="${chart.width}" height="${chart.height}" ` +
    `font-family="system-ui, sans-serif" font-size="11" fill="${colors.text}">${body.join('')}</svg>`
  );
}

function lineChart(id: string, title: string, yLabel: string, series: Series[]): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1]));
  const { svg, x, y } = frame(Math.max(0, ...xs), Math.max(0, ...ys), 'seconds since the first upload', yLabel);
  for (const s of series) {
    const points = s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ');
    svg.push(`<polyline data-series="${escape(s.name)}" fill="none" stroke="${s.color}" stroke-width="2" points="${points}"/>`);
  }
  const legend = series.map((s) => `<span class="key" style="background:${s.color}"></span>${escape(s.name)}`).join(' &nbsp; ');
  return `<figure><figcaption>${escape(title)}</figcaption>${svgOf(id, title, svg)}<div class="legend">${legend}</div></figure>`;
}

/** Each file as a bar from its upload to done, on the run's clock. */
function fileChart(report: LoadTestReport): string {
  const title = 'Each file: from its upload to done (seconds)';
  const rowHeight = 22;
  const height = chart.top + chart.bottom + rowHeight * report.files.length;
  const plotWidth = chart.width - chart.left - chart.right;
  const end = Math.max(0, ...report.files.map((file) => file.startSeconds + file.seconds));
  const { top, step } = axis(end);
  const x = (v: number) => chart.left + (v / top) * plotWidth;
  const body: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    body.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${chart.top}" y2="${height - chart.bottom}" stroke="${colors.grid}"/>`);
    body.push(`<text x="${x(v).toFixed(1)}" y="${height - chart.bottom + 16}" text-anchor="middle">${escape(shown(Math.round(v * 100) / 100))}</text>`);
  }
  report.files.forEach((file, index) => {
    const barY = chart.top + index * rowHeight + 3;
    const color = file.status === 'processed' ? colors.bar : colors.barFailed;
    body.push(
      `<rect data-file="${escape(file.file)}" data-seconds="${file.seconds}" x="${x(file.startSeconds).toFixed(1)}" y="${barY}" ` +
        `width="${Math.max(1, x(file.startSeconds + file.seconds) - x(file.startSeconds)).toFixed(1)}" height="${rowHeight - 6}" fill="${color}"/>`,
    );
    body.push(`<text x="${chart.left - 6}" y="${barY + 12}" text-anchor="end">${escape(`#${index + 1}`)}</text>`);
    body.push(`<text x="${(x(file.startSeconds + file.seconds) + 4).toFixed(1)}" y="${barY + 12}">${escape(`${file.seconds.toFixed(1)} s`)}</text>`);
  });
  body.push(`<text x="${chart.left + plotWidth / 2}" y="${height - 6}" text-anchor="middle">seconds since the first upload</text>`);
  const svg =
    `<svg id="file-durations" role="img" aria-label="${escape(title)}" viewBox="0 0 ${chart.width} ${height}" width="${chart.width}" height="${height}" ` +
    `font-family="system-ui, sans-serif" font-size="11" fill="${colors.text}">${body.join('')}</svg>`;
  return `<figure><figcaption>${escape(title)}</figcaption>${svg}</figure>`;
}

function timelineCharts(report: LoadTestReport): string {
  const samples: TimelineSample[] = report.timeline.samples;
  if (samples.length === 0) return '<p>No samples were taken (the run ended before the first).</p>';
  const written = samples.every((sample) => sample.rowsWritten !== null)
    ? lineChart('rows-written', 'Rows written to the table (applied, or skipped as stale)', 'rows', [
        { name: 'rows written', color: colors.written, points: samples.map((s) => [s.seconds, s.rowsWritten!]) },
      ])
    : '<p>Rows written are not observed on a deployed stack: see the dashboard’s Rows graph (RowsApplied, RowsSkipped).</p>';
  const queues: WatchedQueue[] = ['upload-events', 'rows'];
  const depth = lineChart(
    'queue-depth',
    'Queue depth: messages waiting or in flight',
    'messages',
    queues.map((queue) => ({ name: queue, color: colors[queue], points: samples.map((s) => [s.seconds, s.queues[queue]]) })),
  );
  return `${written}${depth}`;
}

function tiles(report: LoadTestReport): string {
  const { totals } = report;
  const tile = (label: string, value: string) => `<div class="tile"><div class="value">${escape(value)}</div><div class="label">${escape(label)}</div></div>`;
  return [
    tile('rows', shown(totals.rows)),
    tile('seconds', totals.seconds.toFixed(2)),
    tile('rows/s', shown(totals.rowsPerSecond)),
    tile('rejected', `${shown(totals.rejected)} of ${shown(totals.rejectedExpected)}`),
    tile('applied', shown(totals.applied)),
    tile('skipped', shown(totals.skipped)),
    tile('alerts observed', `${shown(totals.alertsObserved)} of ${shown(totals.alertsExpected)}`),
    tile('dead-lettered', shown(totals.deadLettered)),
  ].join('');
}

function filesTable(report: LoadTestReport): string {
  const header = ['#', 'file', 'status', 'rows', 'rejected', 'applied', 'skipped', 'alerts expected', 'alerts observed', 'uploaded at (s)', 'seconds'];
  const rows = report.files.map((f, index) =>
    [String(index + 1), f.file, f.reason ? `${f.status}: ${f.reason}` : f.status, shown(f.rows), shown(f.rejected), shown(f.applied), shown(f.skipped), shown(f.alertsExpected), shown(f.alertsObserved), f.startSeconds.toFixed(1), f.seconds.toFixed(2)]
      .map((cell) => `<td>${escape(cell)}</td>`)
      .join(''),
  );
  return `<table><thead><tr>${header.map((h) => `<th>${escape(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r}</tr>`).join('')}</tbody></table>`;
}

function verification(report: LoadTestReport): string {
  const { table, rejects, alerts } = report.verification;
  const items = [
    `Table: ${shown(table.itemsExpected)} item(s) expected, ${shown(table.itemsFound)} found, ${shown(table.mismatched)} mismatched`,
    `Rejects: ${shown(rejects.expected)} expected, ${shown(rejects.observed)} reported, ${shown(rejects.mismatched)} mismatched`,
    alerts.verified
      ? `Alerts: ${shown(alerts.expected)} expected, ${shown(alerts.observed)} observed (one per alertId), ${shown(alerts.mismatched)} mismatched`
      : `Alerts: ${shown(alerts.expected)} expected, not verified`,
    ...report.notes.map((note) => `Note: ${note}`),
  ];
  return `<ul>${items.map((item) => `<li>${escape(item)}</li>`).join('')}</ul>`;
}

function mismatches(report: LoadTestReport): string {
  if (report.mismatches.total === 0) return '';
  const shownCount = report.mismatches.first.length;
  return (
    `<h2>Mismatches (${report.mismatches.total}${report.mismatches.total > shownCount ? `, first ${shownCount}` : ''})</h2>` +
    `<ul>${report.mismatches.first.map((m) => `<li><b>${escape(m.check)}</b> ${escape(m.detail)}</li>`).join('')}</ul>`
  );
}

const style = `
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:800px;color:#1f2328;line-height:1.4}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:600;color:#fff;margin:12px 0}
.pass{background:#1a7f37}.fail{background:#cf222e}
.tiles{display:flex;flex-wrap:wrap;gap:8px}.tile{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;min-width:80px}
.tile .value{font-size:18px;font-weight:600}.tile .label{font-size:12px;color:#57606a}
table{border-collapse:collapse;font-size:12px;width:100%}th,td{border-bottom:1px solid #d0d7de;padding:4px 6px;text-align:right}
th:nth-child(2),td:nth-child(2),th:nth-child(3),td:nth-child(3){text-align:left}
figure{margin:16px 0}figcaption{font-weight:600;margin-bottom:4px}.legend{font-size:12px;color:#57606a}
.key{display:inline-block;width:10px;height:10px;margin-right:4px}
`;

export function renderHtml(report: LoadTestReport): string {
  const { target, scenario } = report;
  const where = target.mode === 'local' ? `the local runtime at ${target.endpoint}` : `stack ${target.stack} (${target.region})`;
  const verdict =
    report.verdict === 'pass'
      ? `PASS — ${report.verification.alerts.verified ? 'the final table, the rejected lines and the alerts match' : 'the final table and the rejected lines match'} the expectation`
      : `FAIL — ${report.mismatches.total} mismatch(es), see below`;
  // `<` escaped inside the JSON, so no text in it can close the script element.
  const data = JSON.stringify(report).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Load test ${escape(report.runId)}: ${report.verdict.toUpperCase()}</title>
<style>${style}</style>
</head>
<body>
<h1>Load test ${escape(report.runId)}</h1>
<div>On ${escape(where)}: stores ${escape(report.storePrefix)}*, seed ${scenario.seed}, ${scenario.files} file(s) over ${scenario.stores} store(s) × ${scenario.productsPerStore} products, default threshold ${scenario.defaultThreshold}.</div>
<div class="verdict ${report.verdict}" id="verdict">${escape(verdict)}</div>
<div class="tiles">${tiles(report)}</div>
<p>Generated in ${report.totals.generateSeconds.toFixed(2)} s, processed in ${report.totals.seconds.toFixed(2)} s, verified in ${report.totals.verifySeconds.toFixed(2)} s.</p>
<h2>Verification</h2>
${verification(report)}
${mismatches(report)}
<h2>Over time</h2>
${timelineCharts(report)}
<h2>Files</h2>
${fileChart(report)}
${filesTable(report)}
<script type="application/json" id="load-test-report">${data}</script>
</body>
</html>
`;
}
