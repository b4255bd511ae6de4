/**
 * A seeded pseudo-random generator for property and mutation tests, so that a failure can be
 * replayed: every such test prints its seed in its title.
 */

const DEFAULT_SEED = 0x5eed_2024;

/**
 * Returns the seed from NETLINK_TEST_SEED: a number replays a run, "random" picks a new seed.
 * Without the variable the seed is fixed, so that runs are reproducible by default.
 */
export function seedFromEnvironment(environment: NodeJS.ProcessEnv = process.env): number {
  const value = environment.NETLINK_TEST_SEED;
  if (value === undefined || value === '') return DEFAULT_SEED;
  if (value === 'random') return Math.floor(Math.random() * 0x1_0000_0000);
  const seed = Number(value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw new Error(`NETLINK_TEST_SEED must be an integer from 0 to 4294967295 or "random", got "${value}"`);
  }
  return seed;
}

/** Mulberry32: a small 32-bit generator returning floats in [0, 1). Not for cryptography. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** Returns a random integer in [0, limit). */
export function randomInteger(random: () => number, limit: number): number {
  return Math.floor(random() * limit);
}
