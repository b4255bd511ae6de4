/** Idempotent sysctl writes, inside the namespace of a handle. */
import { makeChange, type Change, type EnsureOptions } from './change.js';
import { inNamespace, type NetnsHandle } from './handle.js';

export interface SysctlResult {
  changes: Change[];
  /** The value before the change (the value now, if nothing changed). */
  previous: string;
}

/** Ensures a sysctl has `value` in the handle's namespace. Like `ip netns exec NS sysctl -w KEY=VALUE`. */
export async function ensureSysctl(ns: NetnsHandle, key: string, value: string, options: EnsureOptions = {}): Promise<SysctlResult> {
  let previous: string;
  try {
    previous = await ns.readSysctl(key);
  } catch (error) {
    // In a dry run the key may belong to a link that an earlier planned change creates.
    if (options.dryRun) return { changes: [`set ${key} to ${value}${inNamespace(ns)}`], previous: '' };
    throw error;
  }
  if (previous === value) return { changes: [], previous };

  // The earlier value stays out of the description, so a plan and the run print the same line.
  const description = `set ${key} to ${value}${inNamespace(ns)}`;
  const changes = await makeChange(options, description, () => ns.writeSysctl(key, value));
  return { changes, previous };
}
