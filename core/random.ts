/**
 * A small seeded random generator (mulberry32) for initialization and synthetic data, so a
 * run is reproducible from its seed and its state fits in a checkpoint (one u32).
 *
 * @module
 */

/** Seeded PRNG with uniform and normal draws. */
export class Rng {
  /** Current state; save and restore it to resume a stream. */
  state: number;

  constructor(seed = 0) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** `n` uniform floats in [lo, hi). */
  uniformArray(n: number, lo = -1, hi = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
}

/** `n` deterministic floats in [-1, 1) from `seed`. */
export function randomData(n: number, seed = 1): Float32Array {
  return new Rng(seed).uniformArray(n);
}
