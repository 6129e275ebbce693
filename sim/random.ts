/**
 * Seeded randomness, so a simulation (and a generated trace) is the same run
 * after run: mulberry32, a small, well-known 32-bit generator. Good enough for
 * workload shapes; not for cryptography.
 */
export type Random = () => number;

export function seededRandom(seed: number): Random {
  let state = seed >>> 0 || 0x9e3779b9;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform in [low, high). */
export function uniform(random: Random, low: number, high: number): number {
  return low + (high - low) * random();
}

/** Standard normal (Box-Muller). */
export function normal(random: Random): number {
  const u = Math.max(random(), Number.MIN_VALUE);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** Log-normal with the given median and shape (sigma of the underlying normal): heavy right tail. */
export function logNormal(random: Random, median: number, sigma: number): number {
  return median * Math.exp(sigma * normal(random));
}

/** Exponential with the given mean (time between Poisson arrivals). */
export function exponential(random: Random, mean: number): number {
  return -mean * Math.log(1 - random());
}

/** A stable 32-bit seed derived from a string (policy names, trace names). */
export function seedFrom(text: string, base = 0): number {
  let hash = 2166136261 ^ base;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619);
  return hash >>> 0;
}
