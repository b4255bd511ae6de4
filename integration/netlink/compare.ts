/**
 * Compares our `ip -j`-shaped views with iproute2's own output, field by field, over the
 * fields both sides print.
 */

/** The outcome of one comparison: how many fields matched and what differed. */
export interface Comparison {
  fields: number;
  objects: number;
  differences: string[];
}

export function newComparison(): Comparison {
  return { fields: 0, objects: 0, differences: [] };
}

// Lifetimes count down between our dump and iproute2's; a few seconds apart is the same value.
const COUNTDOWN_FIELDS = new Set(['valid_life_time', 'preferred_life_time', 'expires']);
const COUNTDOWN_SLACK_SECONDS = 5;
const FOREVER = 0xffffffff;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Compares every field that both `ours` and `theirs` have, recursing into objects. */
export function compareCommonFields(ours: unknown, theirs: unknown, path: string, comparison: Comparison): void {
  if (isPlainObject(ours) && isPlainObject(theirs)) {
    for (const key of Object.keys(theirs)) {
      if (key in ours) compareCommonFields(ours[key], theirs[key], `${path}.${key}`, comparison);
    }
    return;
  }

  comparison.fields++;
  const key = path.slice(path.lastIndexOf('.') + 1);
  if (COUNTDOWN_FIELDS.has(key) && typeof ours === 'number' && typeof theirs === 'number' && ours !== FOREVER && theirs !== FOREVER) {
    if (Math.abs(ours - theirs) > COUNTDOWN_SLACK_SECONDS) comparison.differences.push(`${path}: ${ours} (ours) vs ${theirs} (ip)`);
    return;
  }
  if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
    comparison.differences.push(`${path}: ${JSON.stringify(ours)} (ours) vs ${JSON.stringify(theirs)} (ip)`);
  }
}

/**
 * Pairs two lists by `key`, compares each pair, and records objects that only one side has.
 * Equal keys pair up in order.
 */
export function compareLists<T>(
  ours: readonly T[],
  theirs: readonly T[],
  key: (item: T) => string,
  what: string,
  comparison: Comparison,
  compare: (a: T, b: T, path: string) => void = (a, b, path) => compareCommonFields(a, b, path, comparison),
): void {
  const unmatched = new Map<string, T[]>();
  for (const item of ours) unmatched.set(key(item), [...(unmatched.get(key(item)) ?? []), item]);

  for (const item of theirs) {
    const id = key(item);
    const candidates = unmatched.get(id);
    const match = candidates?.shift();
    if (match === undefined) {
      comparison.differences.push(`${what} ${id}: only ip shows it: ${JSON.stringify(item)}`);
      continue;
    }
    comparison.objects++;
    compare(match, item, `${what} ${id}`);
  }
  for (const [id, rest] of unmatched) {
    for (const item of rest) comparison.differences.push(`${what} ${id}: only we show it: ${JSON.stringify(item)}`);
  }
}
