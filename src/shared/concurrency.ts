/** Runs at most `limit` tasks at once; the rest wait in arrival order. */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function createLimiter(limit: number): Limiter {
  if (!Number.isInteger(limit) || limit < 1) throw new Error(`concurrency limit must be a positive integer, got ${limit}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active < limit) active += 1;
    // A finishing task hands its slot straight to the next waiter, so `active` never overshoots.
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active -= 1;
    }
  };
}

/**
 * A limiter whose limit follows the service's answer (additive increase, multiplicative decrease,
 * as TCP does): `throttled()` halves it, down to `min`; every `limit` successes raise it by one, up
 * to `max`. Halving happens at most once per round of in-flight tasks, so a burst of throttled
 * answers to writes that were all sent at the old limit counts as one signal, not as many.
 */
export interface AdaptiveLimiter extends Limiter {
  readonly limit: number;
  throttled(): void;
  succeeded(): void;
}

export function createAdaptiveLimiter(options: { max: number; min: number }): AdaptiveLimiter {
  const { max, min } = options;
  if (!Number.isInteger(min) || min < 1 || !Number.isInteger(max) || max < min) {
    throw new Error(`adaptive limits must be whole numbers with 1 ≤ min ≤ max, got min ${min}, max ${max}`);
  }
  let limit = max;
  let active = 0;
  let successes = 0;
  /** Tasks started since the last decrease: a throttle among the earlier ones is old news. */
  let startedSinceDecrease = Number.POSITIVE_INFINITY;
  const waiting: (() => void)[] = [];
  const admit = () => {
    while (active < limit && waiting.length > 0) {
      active += 1;
      startedSinceDecrease += 1;
      waiting.shift()!();
    }
  };
  const run = (async <T>(task: () => Promise<T>): Promise<T> => {
    if (active < limit && waiting.length === 0) {
      active += 1;
      startedSinceDecrease += 1;
    } else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      active -= 1;
      admit();
    }
  }) as AdaptiveLimiter;
  Object.defineProperty(run, 'limit', { get: () => limit });
  run.throttled = () => {
    if (startedSinceDecrease < limit) return;
    limit = Math.max(min, Math.floor(limit / 2));
    successes = 0;
    startedSinceDecrease = 0;
  };
  run.succeeded = () => {
    successes += 1;
    if (successes >= limit && limit < max) {
      limit += 1;
      successes = 0;
      admit();
    }
  };
  return run;
}
