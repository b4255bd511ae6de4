/**
 * Reads sent together but judged in order. An operation that needs two independent reads
 * (a link and an address table, say) starts both at once, so it waits for one round trip
 * instead of two. It then inspects the results in the order a sequential version would
 * have read them. So it raises the same error, and returns early at the same point,
 * whichever read finished first.
 */

/** The outcome of a promise, held without raising. */
export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Returns a promise of the outcome of `promise` that never rejects. A read whose result is
 * never looked at (because an earlier one decided the matter) leaves no unhandled rejection.
 */
export function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}

/** Returns the value of a settled promise, or throws its error. */
export function unwrap<T>(settled: Settled<T>): T {
  if (!settled.ok) throw settled.error;
  return settled.value;
}
