/**
 * `inventory plan`: the capacity and cost model of one night on AWS (src/capacity), from the
 * settings the stack deploys — as a page for people or one JSON document (`--json`).
 */
import { planInputsFromSettings } from '../capacity/inputs';
import { changesToFit, planNight, type FitPlan, type Night, type NightPlan, type PlanInputs } from '../capacity/model';
import { textTable } from './text-table';

/** The question: what makes a night fit in a quarter of an hour? */
export const targetMinutes = 15;

/** One file per store, a thousand of them (or one per row of a smaller night), unless the options say otherwise. */
const defaultStores = 1000;

export function nightOf(options: { rows: number; files?: number; stores?: number }): Night {
  const fallback = Math.min(defaultStores, options.rows);
  const files = options.files ?? Math.min(options.stores ?? fallback, options.rows);
  const stores = options.stores ?? options.files ?? fallback;
  return { rows: options.rows, files, stores };
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

function planDocument(plan: NightPlan) {
  return {
    rows: plan.rows,
    files: plan.files,
    stores: plan.stores,
    minutes: round(plan.minutes, 1),
    bottleneck: plan.bottleneck,
    limits: plan.limits.map((limit) => ({
      ...limit,
      rowsPerSecond: Math.round(limit.rowsPerSecond),
      minutes: round(limit.minutes, 1),
      bindingMinutes: round(limit.bindingMinutes, 1),
    })),
    costs: plan.costs.map((cost) => ({ ...cost, usd: round(cost.usd, 4) })),
    totalUsd: round(plan.totalUsd, 2),
    perMillionRowsUsd: round(plan.perMillionRowsUsd, 4),
    warnings: plan.warnings,
  };
}

export interface PlanDocument extends ReturnType<typeof planDocument> {
  /** The changes that make the night fit in 15 minutes; null when it already does. */
  toFitIn15Minutes: null | {
    changes: FitPlan['changes'];
    obstacles: string[];
    minutes: number;
    bottleneck: string;
    totalUsd: number;
    perMillionRowsUsd: number;
    extraUsd: number;
  };
  inputs: PlanInputs;
}

export function planNightDocument(night: Night, inputs: PlanInputs = planInputsFromSettings()): PlanDocument {
  const plan = planNight(inputs, night);
  const fit = plan.minutes > targetMinutes ? changesToFit(inputs, night, targetMinutes) : undefined;
  return {
    ...planDocument(plan),
    toFitIn15Minutes: fit
      ? {
          changes: fit.changes,
          obstacles: fit.obstacles,
          minutes: round(fit.plan.minutes, 1),
          bottleneck: fit.plan.bottleneck,
          totalUsd: round(fit.plan.totalUsd, 2),
          perMillionRowsUsd: round(fit.plan.perMillionRowsUsd, 4),
          extraUsd: round(fit.extraUsd, 2),
        }
      : null,
    inputs,
  };
}

const count = (n: number) => Math.round(n).toLocaleString('en-US');
const usd = (n: number) => (n < 0 ? `−$${Math.abs(n).toFixed(2)}` : `$${n.toFixed(2)}`);

function duration(minutes: number): string {
  if (minutes < 60) return `${minutes.toFixed(1)} min`;
  return `${minutes.toFixed(1)} min (${Math.floor(minutes / 60)} h ${Math.round(minutes % 60)} min)`;
}

export function renderPlan(document: PlanDocument): string {
  const bottleneck = document.limits.find((limit) => limit.name === document.bottleneck)!;
  const lines = [
    `One night of ${count(document.rows)} rows in ${count(document.files)} file(s) from ${count(document.stores)} store(s), at us-east-1 list prices:`,
    '',
    `Until the table is current: ${duration(document.minutes)}`,
    `Bottleneck: ${bottleneck.name} (${bottleneck.service}): ${bottleneck.detail}`,
    '',
    textTable([
      ['limit', 'service', 'rows/s', 'alone (min)', 'set the pace (min)'],
      ...document.limits.map((limit) => [limit.name, limit.service, count(limit.rowsPerSecond), limit.minutes.toFixed(1), limit.bindingMinutes.toFixed(1)]),
    ]),
    '',
    textTable([
      ['service', 'USD', 'usage'],
      ...document.costs.map((cost) => [cost.service, cost.usd.toFixed(4), cost.usage]),
      ['total', document.totalUsd.toFixed(2), `$${document.perMillionRowsUsd.toFixed(4)} per million rows`],
    ]),
  ];
  for (const warning of document.warnings) lines.push('', `Warning: ${warning}`);
  const fit = document.toFitIn15Minutes;
  if (fit) {
    lines.push('', `To fit in ${targetMinutes} minutes:`);
    for (const change of fit.changes) lines.push(`  ${change.setting}: ${change.from} → ${change.to}  (${change.why})`);
    for (const obstacle of fit.obstacles) lines.push(`  cannot: ${obstacle}`);
    lines.push(
      `  then: ${duration(fit.minutes)}, bottleneck ${fit.bottleneck}, ${usd(fit.totalUsd)} a night (${usd(fit.extraUsd)} against today's settings` +
        `${fit.changes.some((c) => c.setting === 'table.warmWriteUnitsPerSecond') ? ', plus the one-off pre-warming charge' : ''})`,
    );
  }
  lines.push(
    '',
    'Speeds are measured on a development VM or assumed (see `--json` inputs and the README); prices from the AWS pricing pages (src/capacity/aws.ts).',
  );
  return `${lines.join('\n')}\n`;
}

export function runPlan(options: { rows: number; files?: number; stores?: number; json?: boolean }): void {
  const night = nightOf(options);
  if (night.files > night.rows) throw new Error(`--files (${night.files}) can't exceed --rows (${night.rows}): every file holds at least one row`);
  const document = planNightDocument(night);
  process.stdout.write(options.json ? `${JSON.stringify(document, null, 2)}\n` : renderPlan(document));
}
