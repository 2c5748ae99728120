/**
 * Back-pressure settings for apply-logic tests: no clock, no sleeping. `patient` never runs out of
 * time; `budgeted` allows a number of write attempts, then defers everything else — a stand-in
 * for an invocation whose time runs out.
 */
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { createAdaptiveLimiter } from '../../src/shared/concurrency';
import type { StampedRow } from '../../src/shared/messages';
import type { BackPressure, InventoryTable, ThresholdRow } from '../../src/writer/apply';
import { isBackPressureError } from '../../src/writer/back-pressure';
import type { Prng } from '../../src/shared/prng';

export function patient(maxInFlight: number): BackPressure {
  return {
    limiter: createAdaptiveLimiter({ max: maxInFlight, min: 1 }),
    isBackPressure: isBackPressureError,
    remainingMs: () => Number.POSITIVE_INFINITY,
    backoffMs: () => 0,
    sleep: () => Promise.resolve(),
  };
}

/** Time for `attempts` write attempts (each backoff costs one), then none. */
export function budgeted(maxInFlight: number, attempts: number): BackPressure {
  let left = attempts;
  return {
    ...patient(maxInFlight),
    remainingMs: () => left,
    backoffMs: () => 1,
    sleep: () => ((left -= 1), Promise.resolve()),
  };
}

/** A throttling error exactly as the SDK raises DynamoDB's answer. */
export function throttlingError(): ProvisionedThroughputExceededException {
  return new ProvisionedThroughputExceededException({ message: 'The level of configured provisioned throughput for the table was exceeded.', $metadata: { httpStatusCode: 400 } });
}

/** The table, answering each call with throttling (before writing anything) with probability `p`. */
export function throttlingTable(table: InventoryTable, prng: Prng, p: number): InventoryTable & { throttled: number } {
  const wrapped = {
    throttled: 0,
    applyRow: (row: StampedRow) => (prng.chance(p) ? ((wrapped.throttled += 1), Promise.reject(throttlingError())) : table.applyRow(row)),
    applyThreshold: (row: ThresholdRow) => (prng.chance(p) ? ((wrapped.throttled += 1), Promise.reject(throttlingError())) : table.applyThreshold(row)),
  };
  return wrapped;
}
