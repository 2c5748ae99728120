/** Plain-text tables for people: the CLI's, the load test's and the chaos run's. */

/** A cell that reads as a number (digits, separators, a currency sign) or as "none" (a dash). */
const numberLike = /^[\d.,$–−-]*$/;

/**
 * Columns padded to their widest cell, two spaces apart; a column whose cells below the header are
 * all number-like is right-aligned, any other left-aligned.
 */
export function textTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const numeric = rows[0]!.map((_, column) => rows.slice(1).every((row) => numberLike.test(row[column]!)));
  const pad = (cell: string, column: number) => (numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!));
  return rows.map((row) => row.map(pad).join('  ').trimEnd()).join('\n');
}
