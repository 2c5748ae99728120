/**
 * A small seeded PRNG (mulberry32): every run of a seed draws the same values, so a property test's
 * failure, a load-test scenario or a run with injected faults is reproducible from its seed.
 * Product code (load test, bench, the local runtime's fault injection) and tests share this one.
 */
// Bound once: under jest every global lookup (Math) goes through the test context's slow global proxy.
const { imul, floor } = Math;

export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = imul(t ^ (t >>> 15), t | 1);
    t ^= t + imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('cannot pick from an empty list');
    return items[this.int(0, items.length - 1)]!;
  }

  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i -= 1) {
      const j = this.int(0, i);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy;
  }

  /** A string of `min`..`max` pieces drawn from `pieces` (a piece may be several characters). */
  text(pieces: readonly string[], min: number, max: number): string {
    let text = '';
    for (let n = this.int(min, max); n > 0; n -= 1) text += this.pick(pieces);
    return text;
  }
}

/** Seeds for a property test: fixed so CI is deterministic, many so the space is covered. */
export function seeds(count: number, base = 20_240_601): number[] {
  return Array.from({ length: count }, (_, index) => base + index * 7919);
}
