/**
 * A capacity and cost model of one night on AWS: how long until the table holds every row of the
 * night's files, what limits that, and what the night costs per service. Pure arithmetic over
 * `PlanInputs` (see inputs.ts for where each comes from); no AWS.
 *
 * The night is a flow: the splitter reads the files (one invocation per file, at a rate set by its
 * share of a vCPU), the writers apply the rows (each as fast as its in-flight UpdateItems and its
 * CPU allow, as many at once as the rows queue's mapping lets), the table takes what its capacity
 * allows (an on-demand table starts at its warm throughput and doubles at most every 30 minutes,
 * up to its quota and any maximum set), and each store's rows go to one partition (1,000 write
 * units a second). At every moment the slowest of these sets the pace; the night is simulated in
 * the table's 30-minute steps, and the bottleneck is the limit that set the pace longest.
 */
import { concurrencyBudget } from '../shared/settings';
import { awsLimits, awsPrices } from './aws';

export interface Night {
  /** Data rows in all files, rejected ones included. */
  rows: number;
  files: number;
  stores: number;
}

export interface PlanInputs {
  splitter: { memoryMb: number; timeoutSeconds: number; maxConcurrency: number };
  writer: { memoryMb: number; batchSize: number; maxConcurrency: number; writeConcurrency: number };
  alerter: { memoryMb: number; batchSize: number; publishBatchSize: number };
  /** Rows the splitter packs into one 64 KiB message (from the message codec, for a typical row). */
  rowsPerMessage: number;
  table: {
    /** What the table takes at once; an on-demand table's grows with use and never shrinks. */
    warmWriteUnitsPerSecond: number;
    /** The table's on-demand maximum (OnDemandThroughput.MaxWriteRequestUnits), if one is set. */
    maxWriteRequestUnits: number | null;
    /** The account's table-level write quota for on-demand tables. */
    quotaWriteUnitsPerSecond: number;
  };
  /** Concurrent Lambda executions the account allows (all functions together). */
  lambdaConcurrency: number;
  workload: {
    /** Share of rows the splitter rejects (never written). */
    rejectedShare: number;
    /** Share of written rows that cross a threshold (an alert each). */
    alertShare: number;
  };
  performance: {
    /** Rows a second the splitter's core handles on one full vCPU. */
    splitterRowsPerSecondPerVcpu: number;
    /** CPU a conditional UpdateItem costs the writer (SDK: marshalling, signing, HTTP) on one full vCPU. */
    writerCpuMsPerRowPerVcpu: number;
    /** Round trip of one UpdateItem from Lambda. */
    updateItemLatencyMs: number;
    /** Duration of one alerter invocation (a batch of stream records, maybe a PublishBatch). */
    alerterSecondsPerBatch: number;
    /** CloudWatch Logs bytes one invocation writes (platform lines, structured lines, EMF metrics). */
    logBytesPerInvocation: number;
  };
}

export type LimitName = 'splitter' | 'Lambda concurrency of the writer' | 'DynamoDB table write capacity' | 'DynamoDB partition of one store';

export interface Limit {
  name: LimitName;
  service: 'AWS Lambda' | 'Amazon DynamoDB';
  /** The pace this limit allows, in rows a second (the table's at the start of the night). */
  rowsPerSecond: number;
  /** How long the night would take were this the only limit. */
  minutes: number;
  /** How long it set the pace in this plan. */
  bindingMinutes: number;
  detail: string;
}

export interface ServiceCost {
  service: string;
  usd: number;
  usage: string;
}

export interface NightPlan {
  rows: number;
  files: number;
  stores: number;
  /** Until the table holds every accepted row of the night. */
  minutes: number;
  bottleneck: LimitName;
  limits: Limit[];
  costs: ServiceCost[];
  totalUsd: number;
  perMillionRowsUsd: number;
  warnings: string[];
}

const vcpuShare = (memoryMb: number) => Math.min(1, memoryMb / awsLimits.lambda.memoryMbPerVcpu);
const gb = (memoryMb: number) => memoryMb / 1024;
const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** Rows a second one splitter invocation reads. */
export function splitterRowsPerSecond(inputs: PlanInputs): number {
  return inputs.performance.splitterRowsPerSecondPerVcpu * vcpuShare(inputs.splitter.memoryMb);
}

/** Rows a second one writer invocation applies: its in-flight UpdateItems or its CPU, whichever is less. */
export function writerRowsPerSecond(inputs: PlanInputs): { rowsPerSecond: number; boundBy: 'latency' | 'cpu' } {
  const byLatency = (inputs.writer.writeConcurrency * 1000) / inputs.performance.updateItemLatencyMs;
  const byCpu = (1000 * vcpuShare(inputs.writer.memoryMb)) / inputs.performance.writerCpuMsPerRowPerVcpu;
  return byLatency <= byCpu ? { rowsPerSecond: byLatency, boundBy: 'latency' } : { rowsPerSecond: byCpu, boundBy: 'cpu' };
}

/** The table's write capacity `seconds` into a night of saturated traffic. */
export function tableWriteUnitsPerSecond(inputs: PlanInputs, seconds: number): number {
  const { warmWriteUnitsPerSecond, maxWriteRequestUnits, quotaWriteUnitsPerSecond } = inputs.table;
  const grown = warmWriteUnitsPerSecond * 2 ** Math.floor(seconds / awsLimits.dynamodb.doublingSeconds);
  return Math.min(grown, quotaWriteUnitsPerSecond, maxWriteRequestUnits ?? Number.POSITIVE_INFINITY);
}

/** The splitter over the night: files in parallel (up to its concurrency), each at one invocation's pace. */
export function splitterPace(inputs: PlanInputs, night: Night): { fileSeconds: number; splitters: number; seconds: number; acceptedRowsPerSecond: number } {
  const fileSeconds = night.rows / night.files / splitterRowsPerSecond(inputs);
  const splitters = Math.min(night.files, inputs.splitter.maxConcurrency);
  const seconds = Math.ceil(night.files / splitters) * fileSeconds;
  return { fileSeconds, splitters, seconds, acceptedRowsPerSecond: (night.rows * (1 - inputs.workload.rejectedShare)) / seconds };
}

interface Pace {
  seconds: number;
  binding: Map<LimitName, number>;
  /** Seconds the writers were held back by the table or a partition (throttled and retrying: billed), and the rows written meanwhile. */
  heldSeconds: number;
  heldRows: number;
}

/** Time to write `rows` at the pace the slowest limit allows, stepping through the table's doublings. */
function paceOf(rows: number, steady: Partial<Record<LimitName, number>>, inputs: PlanInputs, withTable: boolean): Pace {
  const binding = new Map<LimitName, number>();
  let seconds = 0;
  let written = 0;
  let heldSeconds = 0;
  let heldRows = 0;
  while (written < rows) {
    const rates: [LimitName, number][] = Object.entries(steady) as [LimitName, number][];
    if (withTable) rates.push(['DynamoDB table write capacity', tableWriteUnitsPerSecond(inputs, seconds) / awsLimits.dynamodb.writeUnitsPerRow]);
    const [name, rate] = rates.reduce((slowest, candidate) => (candidate[1] < slowest[1] ? candidate : slowest));
    const untilDoubling = awsLimits.dynamodb.doublingSeconds - (seconds % awsLimits.dynamodb.doublingSeconds);
    const step = Math.min((rows - written) / rate, withTable ? untilDoubling : Number.POSITIVE_INFINITY);
    binding.set(name, (binding.get(name) ?? 0) + step);
    if (name === 'DynamoDB table write capacity' || name === 'DynamoDB partition of one store') {
      heldSeconds += step;
      heldRows += rate * step;
    }
    written += rate * step;
    seconds += step;
  }
  return { seconds, binding, heldSeconds, heldRows };
}

export function planNight(inputs: PlanInputs, night: Night): NightPlan {
  const { rows, files, stores } = night;
  if (![rows, files, stores].every((n) => Number.isSafeInteger(n) && n >= 1)) throw new Error('rows, files and stores must be whole numbers ≥ 1');
  const accepted = rows * (1 - inputs.workload.rejectedShare);
  const writes = accepted * awsLimits.dynamodb.writeUnitsPerRow;
  const warnings: string[] = [];

  const splitRate = splitterRowsPerSecond(inputs);
  const { fileSeconds: fileSplitSeconds, splitters, acceptedRowsPerSecond: splitPace } = splitterPace(inputs, night);
  if (fileSplitSeconds > inputs.splitter.timeoutSeconds) {
    warnings.push(
      `a file of ${count(rows / files)} rows takes ${Math.round(fileSplitSeconds)} s to split, longer than the splitter's ${inputs.splitter.timeoutSeconds}-s timeout: ` +
        `upload files of at most ${count(splitRate * inputs.splitter.timeoutSeconds * 0.8)} rows`,
    );
  }

  const writer = writerRowsPerSecond(inputs);
  const steady: Record<Exclude<LimitName, 'DynamoDB table write capacity'>, number> = {
    splitter: splitPace,
    'Lambda concurrency of the writer': inputs.writer.maxConcurrency * writer.rowsPerSecond,
    'DynamoDB partition of one store': (stores * awsLimits.dynamodb.partitionWriteUnitsPerSecond) / awsLimits.dynamodb.writeUnitsPerRow,
  };
  const pace = paceOf(accepted, steady, inputs, true);
  const alone = (name: LimitName) =>
    name === 'DynamoDB table write capacity' ? paceOf(accepted, {}, inputs, true).seconds : accepted / steady[name];
  const minutes = pace.seconds / 60;

  const describe: Record<LimitName, { service: Limit['service']; rowsPerSecond: number; detail: string }> = {
    splitter: {
      service: 'AWS Lambda',
      rowsPerSecond: steady.splitter,
      detail:
        `${count(splitters)} file(s) at once, each read at ${count(splitRate)} rows/s ` +
        `(${inputs.splitter.memoryMb} MB: ${vcpuShare(inputs.splitter.memoryMb).toFixed(2)} vCPU); ${Math.round(fileSplitSeconds)} s per file of ${count(rows / files)} rows`,
    },
    'Lambda concurrency of the writer': {
      service: 'AWS Lambda',
      rowsPerSecond: steady['Lambda concurrency of the writer'],
      detail:
        `${inputs.writer.maxConcurrency} writer(s) at once × ${count(writer.rowsPerSecond)} rows/s each, bound by ` +
        (writer.boundBy === 'cpu'
          ? `its CPU (${inputs.writer.memoryMb} MB: ${vcpuShare(inputs.writer.memoryMb).toFixed(2)} vCPU, ${inputs.performance.writerCpuMsPerRowPerVcpu} ms of a vCPU per UpdateItem)`
          : `its ${inputs.writer.writeConcurrency} UpdateItems in flight at ${inputs.performance.updateItemLatencyMs} ms each`),
    },
    'DynamoDB table write capacity': {
      service: 'Amazon DynamoDB',
      rowsPerSecond: tableWriteUnitsPerSecond(inputs, 0) / awsLimits.dynamodb.writeUnitsPerRow,
      detail:
        `${count(tableWriteUnitsPerSecond(inputs, 0))} write units/s warm, doubling at most every 30 min up to ` +
        `${count(tableWriteUnitsPerSecond(inputs, Number.MAX_SAFE_INTEGER))} (${
          inputs.table.maxWriteRequestUnits !== null && inputs.table.maxWriteRequestUnits < inputs.table.quotaWriteUnitsPerSecond ? "the table's maximum" : 'the table quota'
        }); 1 write unit per row`,
    },
    'DynamoDB partition of one store': {
      service: 'Amazon DynamoDB',
      rowsPerSecond: steady['DynamoDB partition of one store'],
      detail: `${count(stores)} store(s), each one partition key: ${count(accepted / stores)} rows per store at ${count(awsLimits.dynamodb.partitionWriteUnitsPerSecond)} write units/s`,
    },
  };
  const limitNames: LimitName[] = ['splitter', 'Lambda concurrency of the writer', 'DynamoDB table write capacity', 'DynamoDB partition of one store'];
  const limits: Limit[] = limitNames.map((name) => ({
    name,
    ...describe[name],
    minutes: alone(name) / 60,
    bindingMinutes: (pace.binding.get(name) ?? 0) / 60,
  }));
  const bottleneck = limits.reduce((longest, limit) => (limit.bindingMinutes > longest.bindingMinutes ? limit : longest)).name;

  // What the night uses, service by service.
  const rowsPerFile = accepted / files;
  const messages = files * Math.ceil(rowsPerFile / inputs.rowsPerMessage);
  const writerInvocations = Math.ceil(messages / inputs.writer.batchSize);
  const streamRecords = accepted;
  const alerterInvocations = Math.ceil(streamRecords / inputs.alerter.batchSize);
  const invocations = files + writerInvocations + alerterInvocations;
  // Writers work at their own pace while they set it or keep up; held back by the table or a
  // partition, every one of them stays busy (throttled, retrying) — and billed.
  const writerSeconds = (accepted - pace.heldRows) / writer.rowsPerSecond + pace.heldSeconds * inputs.writer.maxConcurrency;
  const gbSeconds = {
    splitter: (rows / splitRate) * gb(inputs.splitter.memoryMb),
    writer: writerSeconds * gb(inputs.writer.memoryMb),
    alerter: alerterInvocations * inputs.performance.alerterSecondsPerBatch * gb(inputs.alerter.memoryMb),
  };
  const totalGbSeconds = gbSeconds.splitter + gbSeconds.writer + gbSeconds.alerter;
  const sqsRequests = 3 * files + 2 * messages + writerInvocations;
  const alerts = accepted * inputs.workload.alertShare;
  const publishRequests = Math.ceil(alerts / inputs.alerter.publishBatchSize);
  const s3Puts = 3 * files;
  const logGb = (invocations * inputs.performance.logBytesPerInvocation) / 1024 ** 3;
  const traces = Math.min(invocations, pace.seconds * awsLimits.lambda.tracedPerSecond + awsLimits.lambda.tracedShare * Math.max(0, invocations - pace.seconds));

  const costs: ServiceCost[] = [
    {
      service: 'Amazon DynamoDB',
      usd: (writes / 1e6) * awsPrices.dynamodb.usdPerMillionWriteRequestUnits,
      usage: `${count(writes)} write request units (one conditional UpdateItem per accepted row); stream reads by the alerter's trigger are free`,
    },
    {
      service: 'AWS Lambda',
      usd: totalGbSeconds * awsPrices.lambda.usdPerGbSecondArm + (invocations / 1e6) * awsPrices.lambda.usdPerMillionRequests,
      usage:
        `${count(totalGbSeconds)} GB-s on arm64 (splitter ${count(gbSeconds.splitter)}, writer ${count(gbSeconds.writer)}, alerter ${count(gbSeconds.alerter)}); ` +
        `${count(invocations)} invocations (${count(files)} + ${count(writerInvocations)} + ${count(alerterInvocations)})`,
    },
    {
      service: 'Amazon SQS',
      usd: (sqsRequests / 1e6) * awsPrices.sqs.usdPerMillionRequests,
      usage: `${count(sqsRequests)} requests: ${count(messages)} row messages of ≤ 64 KiB (~${count(inputs.rowsPerMessage)} rows) sent and received, deleted in batches; 3 per upload event`,
    },
    {
      service: 'Amazon S3',
      usd: (s3Puts / 1000) * awsPrices.s3.usdPerThousandPuts + (files / 1000) * awsPrices.s3.usdPerThousandGets,
      usage: `${count(s3Puts)} PUTs (each upload, its receipt, its rejects) and ${count(files)} GETs`,
    },
    {
      service: 'Amazon SNS',
      usd: (publishRequests / 1e6) * awsPrices.sns.usdPerMillionRequests,
      usage: `${count(alerts)} alerts in ${count(publishRequests)} PublishBatch requests (deliveries to email subscribers are extra)`,
    },
    {
      service: 'Amazon CloudWatch',
      usd: logGb * awsPrices.cloudWatch.usdPerGbLogsIngested,
      usage: `${logGb.toFixed(2)} GB of logs ingested (${count(inputs.performance.logBytesPerInvocation)} bytes per invocation)`,
    },
    {
      service: 'AWS X-Ray',
      usd: (traces / 1e6) * awsPrices.xRay.usdPerMillionTraces,
      usage: `${count(traces)} traces (the first invocation each second, then 5%)`,
    },
  ];
  const totalUsd = costs.reduce((sum, cost) => sum + cost.usd, 0);

  const shards = Math.ceil(tableWriteUnitsPerSecond(inputs, pace.seconds) / awsLimits.dynamodb.partitionWriteUnitsPerSecond);
  const concurrent = inputs.writer.maxConcurrency + splitters + shards;
  if (concurrent > inputs.lambdaConcurrency) {
    warnings.push(
      `${inputs.writer.maxConcurrency} writers, up to ${splitters} splitters (the files arriving together) and an alerter per stream shard (~${shards}) ` +
        `may run at once: ${concurrent} concurrent executions, more than the account's ${inputs.lambdaConcurrency}; cap the splitter's concurrency or raise the quota`,
    );
  }
  return { rows, files, stores, minutes, bottleneck, limits, costs, totalUsd, perMillionRowsUsd: totalUsd / (rows / 1e6), warnings };
}

export interface SettingChange {
  setting: string;
  from: number | string;
  to: number | string;
  why: string;
}

export interface FitPlan {
  targetMinutes: number;
  changes: SettingChange[];
  /** What cannot be reached by changing settings. */
  obstacles: string[];
  plan: NightPlan;
  extraUsd: number;
}

/** Fitting aims this far below the target: a pace set to the minute leaves nothing for a slow start. */
const fitHeadroom = 0.9;

/**
 * The changes that bring a night within `targetMinutes` (aiming at 90% of it), each limit raised
 * to the pace that needs — or, where a store's partition or a file's split can't go that fast
 * (the obstacles), to the pace they allow — and the plan with them. An on-demand table pre-warmed
 * to a rate (a one-off charge, then kept warm by use) or with a raised quota is a change of the
 * table, not of the code's settings.
 */
export function changesToFit(inputs: PlanInputs, night: Night, targetMinutes: number): FitPlan {
  const before = planNight(inputs, night);
  const accepted = night.rows * (1 - inputs.workload.rejectedShare);
  const wanted = accepted / (targetMinutes * 60 * fitHeadroom);
  const next: PlanInputs = structuredClone(inputs);
  const changes: SettingChange[] = [];
  const obstacles: string[] = [];
  const change = (setting: string, from: number, to: number, why: string) => {
    if (to !== from) changes.push({ setting, from, to, why });
  };

  // The splitter: a full vCPU, then nothing but smaller files helps.
  if (splitterPace(next, night).acceptedRowsPerSecond < wanted) {
    const memoryMb = Math.max(next.splitter.memoryMb, awsLimits.lambda.memoryMbPerVcpu);
    change('splitter.memoryMb', next.splitter.memoryMb, memoryMb, 'one full vCPU reads a file fastest (Node runs the split on one thread)');
    next.splitter.memoryMb = memoryMb;
    const { fileSeconds } = splitterPace(next, night);
    if (fileSeconds > targetMinutes * 60) obstacles.push(`a file of ${count(night.rows / night.files)} rows takes ${Math.round(fileSeconds)} s to split: upload more, smaller files`);
  }

  // A store is one partition key: nothing here makes it faster.
  const partitionPace = (night.stores * awsLimits.dynamodb.partitionWriteUnitsPerSecond) / awsLimits.dynamodb.writeUnitsPerRow;
  const perStore = accepted / partitionPace;
  if (perStore > targetMinutes * 60) {
    obstacles.push(
      `a store's ${count(accepted / night.stores)} rows take ${Math.round(perStore / 60)} min at one partition's 1,000 write units/s; ` +
        'no setting changes that (DynamoDB may split a hot partition by sort key in time, but not on demand)',
    );
  }
  // Writers and table are sized to the pace the rest allows: more would only wait, billed.
  const needed = Math.min(wanted, partitionPace, splitterPace(next, night).acceptedRowsPerSecond);

  // The table: warm (pre-warmed once, or by an earlier night) at the pace, within its quota and maximum.
  const writeUnits = Math.ceil((needed * awsLimits.dynamodb.writeUnitsPerRow) / 1000) * 1000;
  if (next.table.quotaWriteUnitsPerSecond < writeUnits) {
    change('table quota (Service Quotas: table-level write throughput for on-demand tables)', next.table.quotaWriteUnitsPerSecond, writeUnits, 'the table must be allowed the pace');
    next.table.quotaWriteUnitsPerSecond = writeUnits;
  }
  if (next.table.maxWriteRequestUnits !== null && next.table.maxWriteRequestUnits < writeUnits) {
    change('-c tableMaxWriteUnits', next.table.maxWriteRequestUnits, writeUnits, "the table's own on-demand maximum must allow the pace");
    next.table.maxWriteRequestUnits = writeUnits;
  }
  if (next.table.warmWriteUnitsPerSecond < writeUnits) {
    change('-c tableWarmWriteUnits', next.table.warmWriteUnitsPerSecond, writeUnits, 'pre-warm the table (a one-off charge; a night at that pace keeps it warm) rather than wait for it to double every 30 minutes');
    next.table.warmWriteUnitsPerSecond = writeUnits;
  }

  // The writers follow the table: one per 1,000 writes/s it takes at once (concurrencyBudget). Should
  // that many still fall short — CPU-bound writers — each gets the vCPU share the pace needs, for the
  // same GB-s per row (the same CPU time at a higher rate).
  const writers = concurrencyBudget({
    warmWriteUnitsPerSecond: next.table.warmWriteUnitsPerSecond,
    maxWriteRequestUnitsPerSecond: next.table.maxWriteRequestUnits ?? next.table.quotaWriteUnitsPerSecond,
  }).writer;
  if (writers > next.writer.maxConcurrency) {
    change('writers at once (the rows mapping, one per 1,000 writes/s of the table)', next.writer.maxConcurrency, writers, 'they follow the table capacity above');
    next.writer.maxConcurrency = writers;
  }
  if (next.writer.maxConcurrency * writerRowsPerSecond(next).rowsPerSecond < needed && writerRowsPerSecond(next).boundBy === 'cpu') {
    const vcpus = (needed / next.writer.maxConcurrency) * (next.performance.writerCpuMsPerRowPerVcpu / 1000);
    const memoryMb = Math.min(awsLimits.lambda.maxMemoryMb, Math.ceil((vcpus * awsLimits.lambda.memoryMbPerVcpu) / 64) * 64);
    change('writer.memoryMb', next.writer.memoryMb, memoryMb, `a CPU-bound writer applies rows in proportion to its vCPU share: ${count(needed / next.writer.maxConcurrency)} rows/s each`);
    next.writer.memoryMb = memoryMb;
  }

  const shards = Math.ceil(next.table.warmWriteUnitsPerSecond / awsLimits.dynamodb.partitionWriteUnitsPerSecond);
  if (next.splitter.maxConcurrency + next.writer.maxConcurrency + shards > next.lambdaConcurrency) {
    const budget = Math.ceil((next.splitter.maxConcurrency + next.writer.maxConcurrency + shards) / 100) * 100 + 100;
    change('Lambda concurrent executions (Service Quotas)', next.lambdaConcurrency, budget, 'the splitters, the writers and the alerter (one per stream shard) run at once');
    next.lambdaConcurrency = budget;
  }
  const plan = planNight(next, night);
  return { targetMinutes, changes, obstacles, plan, extraUsd: plan.totalUsd - before.totalUsd };
}
