/**
 * The service settings that `up` applies and `down` removes, beyond the namespaces and routing:
 * WireGuard's keys, peers, addresses and MTU, a resolv.conf for each service namespace, the
 * nftables table (DNAT, egress NAT, stateful isolation), and the conntrack flush that a change
 * of the DNAT needs.
 */
import type { Change } from '../ops/change.js';
import type { NetnsHandle } from '../ops/handle.js';
import type { TopologyConfig } from './config.js';
import { flushIkeConntrack } from './services/conntrack.js';
import { firewallRuleset, TABLE_FAMILY, TABLE_NAME } from './services/firewall.js';
import { applyRuleset, deleteTable, isOurTable, readTable, requireNft } from './services/nft.js';
import { findProgram } from './services/programs.js';
import { applyResolvConf, removeResolvConf } from './services/resolv.js';
import { applyWireGuardSettings } from './services/wireguard-keys.js';
import { SetupError } from './setup-error.js';

export interface ServiceContext {
  root: NetnsHandle;
  config: TopologyConfig;
  /** The uplink interface in the root namespace, or null if none was found. */
  uplink: string | null;
  record(changes: Change[]): void;
  notices: string[];
  /** Plan only: report the changes that would be made (through `record`) without making them. */
  dryRun: boolean;
  /** Handles that `up` keeps open on the service namespaces, for the steps that need one. `down` has none. */
  namespaces?: { get(name: string): NetnsHandle | undefined };
}

/** Applies the per-service settings after the namespaces and routes exist. */
export async function applyServices(context: ServiceContext): Promise<void> {
  await applyWireGuardSettings(context);
  await applyResolvConf(context);

  // A table left by an earlier run goes when the firewall is turned off, as down would remove it.
  const firewallChanged = context.config.firewall.enabled ? await applyFirewall(context) : await removeFirewall(context);
  if (firewallChanged) await flushIkeConntrack(context);
}

/** Removes what applyServices made, before the namespaces are deleted. */
export async function removeServices(context: ServiceContext): Promise<void> {
  if (await removeFirewall(context)) await flushIkeConntrack(context);
  await removeResolvConf(context);
}

/** Replaces our table unless the live one already has this ruleset's digest; returns whether it changed. */
async function applyFirewall(context: ServiceContext): Promise<boolean> {
  const nft = await requireNft();
  const ruleset = firewallRuleset(context.config, context.uplink);
  context.notices.push(...ruleset.notices);

  const live = await readTable(nft);
  if (live !== null && !isOurTable(live)) {
    throw new SetupError(
      `nftables table ${TABLE_FAMILY} ${TABLE_NAME} exists and was not written by algo-netns; delete it (nft delete table ${TABLE_FAMILY} ${TABLE_NAME}) or set firewall.enabled: false`,
    );
  }
  // NOTE: only the digest in the table comment is compared, so a rule that someone changed by
  // hand inside our table stays until the configuration changes or down deletes the table.
  if (live !== null && live.comment?.endsWith(ruleset.digest)) return false;

  if (!context.dryRun) await applyRuleset(nft, ruleset.text);
  context.record([`${live === null ? 'create' : 'replace'} nftables table ${TABLE_FAMILY} ${TABLE_NAME} in the root namespace (DNAT, egress NAT, isolation)`]);
  return true;
}

/** Deletes our table if it is there; returns whether it was. A table of the same name that is not ours stays. */
async function removeFirewall(context: ServiceContext): Promise<boolean> {
  // down runs on hosts where up never ran; without nft there is no table of ours to delete.
  const nft = await findProgram('nft');
  if (nft === null) return false;

  const live = await readTable(nft);
  if (live === null || !isOurTable(live)) return false;

  if (!context.dryRun) await deleteTable(nft);
  context.record([`delete nftables table ${TABLE_FAMILY} ${TABLE_NAME} from the root namespace`]);
  return true;
}
