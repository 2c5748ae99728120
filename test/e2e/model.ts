/**
 * An independent model of what the pipeline must do, for end-to-end expectations: files are
 * applied in upload order and lines in file order; a row's threshold replaces the item's, else the
 * item keeps its own, else the default applies; an alert is due for each item whose low state
 * differs before and after a file. It shares no code with src/.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';

export interface Row {
  store: string;
  product: string;
  count: number;
  threshold?: number;
  /** Written verbatim instead of the generated CSV (for spellings such as a quoted count). */
  raw?: string;
}

/** A line that must be rejected: its raw CSV text and what the reason must say. */
export interface BadLine {
  raw: string;
  reason: RegExp;
}

export type Line = Row | BadLine;

export interface ExpectedItem {
  store: string;
  product: string;
  count: number;
  threshold: number;
}

export interface ExpectedAlert {
  type: 'LOW_STOCK' | 'RESTOCKED';
  store: string;
  product: string;
  count: number;
  previousCount: number | null;
  threshold: number;
}

const isBad = (line: Line): line is BadLine => 'reason' in line;

function quote(field: string): string {
  return /[",\r\n]/.test(field) || field !== field.trim() ? `"${field.replace(/"/g, '""')}"` : field;
}

/** CSV text for `lines` under the header store,product,count,threshold. */
export function csvText(lines: readonly Line[], header = 'store,product,count,threshold'): string {
  const body = lines.map((line) =>
    isBad(line) || line.raw !== undefined ? line.raw : [quote(line.store), quote(line.product), String(line.count), line.threshold === undefined ? '' : String(line.threshold)].join(','),
  );
  return `${[header, ...body].join('\n')}\n`;
}

/** The physical line numbers (header = 1) and reasons of the bad lines, one record per line. */
export function expectedRejects(lines: readonly Line[]): { line: number; reason: RegExp }[] {
  return lines.flatMap((line, index) => (isBad(line) ? [{ line: index + 2, reason: line.reason }] : []));
}

export function writeCsv(directory: string, name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

export function tempDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'inventory-e2e-'));
}

const keyOf = (store: string, product: string) => `${store}\u0000${product}`;

export class InventoryModel {
  private readonly items = new Map<string, ExpectedItem>();

  constructor(private readonly defaultThreshold: number) {}

  /** Applies one file's valid rows in order; returns the alerts that file must raise. */
  applyFile(lines: readonly Line[]): ExpectedAlert[] {
    const before = new Map<string, ExpectedItem | undefined>();
    for (const line of lines) {
      if (isBad(line)) continue;
      const key = keyOf(line.store, line.product);
      const current = this.items.get(key);
      if (!before.has(key)) before.set(key, current && { ...current });
      this.items.set(key, {
        store: line.store,
        product: line.product,
        count: line.count,
        threshold: line.threshold ?? current?.threshold ?? this.defaultThreshold,
      });
    }
    const alerts: ExpectedAlert[] = [];
    for (const [key, previous] of before) {
      const now = this.items.get(key)!;
      const wasLow = previous !== undefined && previous.count < previous.threshold;
      const isLow = now.count < now.threshold;
      if (wasLow !== isLow) {
        alerts.push({
          type: isLow ? 'LOW_STOCK' : 'RESTOCKED',
          store: now.store,
          product: now.product,
          count: now.count,
          previousCount: previous?.count ?? null,
          threshold: now.threshold,
        });
      }
    }
    return sortItems(alerts);
  }

  table(stores?: (store: string) => boolean): ExpectedItem[] {
    return sortItems([...this.items.values()].filter((item) => !stores || stores(item.store)));
  }
}

export function sortItems<T extends { store: string; product: string; type?: string }>(items: T[]): T[] {
  const text = (item: T) => `${item.store}\u0000${item.product}\u0000${item.type ?? ''}`;
  return [...items].sort((a, b) => (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0));
}

/** A key for the endpoint: placeholders, unless it enforces IAM. */
export type EndpointKey = { accessKeyId: string; secretAccessKey: string };

/** The table as an independent client sees it: a plain DynamoDB Scan, decoded here. */
export async function scanTable(endpoint: string, table: string, credentials: EndpointKey = { accessKeyId: 'e2e', secretAccessKey: 'e2e' }): Promise<Record<string, string | number>[]> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials });
  const decode = (value: AttributeValue): string | number => (value.N !== undefined ? Number(value.N) : (value.S ?? JSON.stringify(value)));
  const items: Record<string, string | number>[] = [];
  try {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
      for (const item of page.Items ?? []) items.push(Object.fromEntries(Object.entries(item).map(([k, v]) => [k, decode(v)])));
      start = page.LastEvaluatedKey;
    } while (start);
  } finally {
    client.destroy();
  }
  return items;
}

/** The scanned items of some stores, reduced to what the model predicts. */
export async function actualTable(endpoint: string, table: string, stores: (store: string) => boolean, credentials?: EndpointKey): Promise<ExpectedItem[]> {
  const items = await scanTable(endpoint, table, credentials);
  return sortItems(
    items
      .filter((item) => stores(String(item.store)))
      .map((item) => ({ store: String(item.store), product: String(item.product), count: Number(item.count), threshold: Number(item.threshold) })),
  );
}
