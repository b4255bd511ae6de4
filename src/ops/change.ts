/** The shape shared by every idempotent operation: describe a change, then make it or not. */

export interface EnsureOptions {
  /** Report the changes that would be made without making them. */
  dryRun?: boolean;
}

/** One change to the host, in words: "add address 10.47.255.1/30 to ve-wg in the root namespace". */
export type Change = string;

/** Makes the change described unless this is a dry run, and returns its description. */
export async function makeChange(options: EnsureOptions, description: Change, apply: () => Promise<void>): Promise<Change[]> {
  if (!options.dryRun) await apply();
  return [description];
}

/** Error for an existing object that is in the way of what was asked. */
export class ConflictError extends Error {
  override name = 'ConflictError';

  constructor(message: string) {
    super(message);
  }
}

/**
 * Dump options of the list functions. A dump that a concurrent change interrupts (new IPv6
 * addresses finishing duplicate address detection, say) runs again, up to three times.
 */
export const LIST_DUMP_OPTIONS = { retries: 3 } as const;
