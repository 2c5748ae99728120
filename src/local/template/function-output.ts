/**
 * What a bundled function writes, read as CloudWatch would: its metrics as embedded metric format
 * (EMF: the JSON lines Powertools Metrics prints at the end of each invocation) and its structured
 * logs (Powertools Logger's JSON lines, each with a `level`).
 */

interface EmbeddedMetricDocument {
  _aws?: { CloudWatchMetrics?: { Metrics?: { Name?: unknown }[] }[] };
  [key: string]: unknown;
}

function parseJsonObject(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The metrics of one EMF line, each summed (a metric added more than once in an invocation is a
 * list of values); undefined when the line is not EMF.
 */
export function embeddedMetrics(line: string): Map<string, number> | undefined {
  const document = parseJsonObject(line) as EmbeddedMetricDocument | undefined;
  const directives = document?._aws?.CloudWatchMetrics;
  if (!Array.isArray(directives)) return undefined;
  const values = new Map<string, number>();
  for (const directive of directives) {
    for (const metric of directive.Metrics ?? []) {
      if (typeof metric.Name !== 'string' || values.has(metric.Name)) continue;
      const value = document![metric.Name];
      const numbers = (Array.isArray(value) ? value : [value]).filter((v): v is number => typeof v === 'number');
      values.set(metric.Name, numbers.reduce((sum, v) => sum + v, 0));
    }
  }
  return values;
}

/** Powertools' log levels, least to most severe; SILENT shows nothing. */
const levels = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'CRITICAL', 'SILENT'];

/**
 * Whether a line of a function's output is shown at the chosen level. A structured log line has
 * its own `level`; any other line (a runtime notice, an uncaught error's trace) counts as WARN.
 */
export function shownAtLevel(line: string, chosenLevel: string): boolean {
  const chosen = levels.indexOf(chosenLevel.toUpperCase());
  if (chosen === -1 || levels[chosen] === 'SILENT') return false;
  const own = parseJsonObject(line)?.level;
  const level = typeof own === 'string' && levels.includes(own.toUpperCase()) ? own.toUpperCase() : 'WARN';
  return levels.indexOf(level) >= chosen;
}
