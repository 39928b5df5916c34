/**
 * Seeded randomness, so that a simulation run with the same seed and config repeats itself value
 * for value. Every consumer (a device's model, each of its faults, its wire corruption) takes its
 * own stream, forked by name from the seed rather than drawn from a shared one: adding a fault or
 * a device then leaves every other stream, and so every other value, as it was.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** Standard normal (mean 0, standard deviation 1). */
  normal(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number;
  /** An independent stream named `label`, the same for the same seed and label. */
  fork(label: string): Random;
}

/** FNV-1a over the text, then a murmur3 finaliser: distinct labels give unrelated seeds. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** mulberry32: small, fast, and good enough for noise (not for secrets). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function seeded(seed: number | string): Random {
  const key = String(seed);
  const uniform = mulberry32(hash(key));
  const r: Random = {
    next: uniform,
    normal() {
      // Box-Muller; 1 - u keeps the logarithm finite.
      const u = 1 - uniform();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
    },
    int: (n) => Math.floor(uniform() * n),
    exponential: (mean) => -mean * Math.log(1 - uniform()),
    fork: (label) => seeded(`${key}/${label}`),
  };
  return r;
}
