/**
 * What `up` and `down` do for the services themselves, beyond the namespaces and routing:
 * the extension points where WireGuard keys, resolver files and the firewall are applied.
 */
import type { Change } from '../ops/change.js';
import type { NetnsHandle } from '../ops/handle.js';
import type { TopologyConfig } from './config.js';

export interface ServiceContext {
  root: NetnsHandle;
  config: TopologyConfig;
  /** The uplink interface in the root namespace, or null if none was found. */
  uplink: string | null;
  record(changes: Change[]): void;
  notices: string[];
  /** Plan only: report the changes that would be made (through `record`) without making them. */
  dryRun: boolean;
}

/** Applies the per-service settings after the namespaces and routes exist. */
export async function applyServices(context: ServiceContext): Promise<void> {
  // Nothing beyond routing is applied yet: firewall, resolver files and WireGuard keys are
  // not part of this module so far.
  void context;
}

/** Removes what applyServices made, before the namespaces are deleted. */
export async function removeServices(context: ServiceContext): Promise<void> {
  void context;
}
