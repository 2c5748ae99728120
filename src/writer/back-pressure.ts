/**
 * The writer's back-pressure on Lambda: which errors mean "not now", how long to wait, and how much
 * of the invocation's time may still go to writes (see settings.writer.backPressure for the why).
 */
import { isThrottlingError, isTransientError } from '@smithy/core/retry';
import type { Context } from 'aws-lambda';
import { createAdaptiveLimiter, type AdaptiveLimiter } from '../shared/concurrency';
import { settings } from '../shared/settings';
import type { BackPressure } from './apply';

type ClassifiableError = Parameters<typeof isThrottlingError>[0];

/**
 * Throttling, transient faults (timeouts, dropped connections) and 5xx answers: the request may
 * succeed later, so the row waits instead of failing its message. The SDK's own classification.
 */
export function isBackPressureError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const classifiable = error as ClassifiableError;
  const status = classifiable.$metadata?.httpStatusCode ?? 0;
  return isThrottlingError(classifiable) || isTransientError(classifiable) || status >= 500;
}

/** Full jitter: uniform in [0, min(max, base × 2^n)) — spreads retries of many writers apart. */
function fullJitterMs(pushedBack: number, random: () => number = Math.random): number {
  const { retryBaseMs, retryMaxMs } = settings.writer.backPressure;
  return random() * Math.min(retryMaxMs, retryBaseMs * 2 ** pushedBack);
}

/** How long deferred rows wait before the writer sees them again: doubling, half of it jittered. */
export function deferralDelaySeconds(deferrals: number, random: () => number = Math.random): number {
  const { deferBaseSeconds, deferMaxSeconds } = settings.writer.backPressure;
  const delay = Math.min(deferMaxSeconds, deferBaseSeconds * 2 ** deferrals);
  return Math.round(delay / 2 + random() * (delay / 2));
}

/** The in-flight limit of one writer container, shared by its invocations and their messages. */
export function writerLimiter(max: number = settings.writer.writeConcurrency): AdaptiveLimiter {
  return createAdaptiveLimiter({ max, min: settings.writer.backPressure.minWriteConcurrency });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Back-pressure for one invocation: writes may start until only the reserve of its time is left. */
export function invocationBackPressure(limiter: AdaptiveLimiter, context: Pick<Context, 'getRemainingTimeInMillis'>): BackPressure {
  return {
    limiter,
    isBackPressure: isBackPressureError,
    remainingMs: () => context.getRemainingTimeInMillis() - settings.writer.backPressure.reserveMs,
    backoffMs: (pushedBack) => fullJitterMs(pushedBack),
    sleep,
  };
}
