/**
 * Flushing the root namespace's conntrack entries for IKE and ESP when the DNAT to strongSwan's
 * namespace appears or goes away. NAT is decided on the first packet of a flow, and NAT-T
 * keepalives (every 20 seconds by strongSwan's default) keep a UDP 4500 entry alive for as long
 * as the client runs. Without the flush, a client that talked to the host before `up` keeps
 * reaching the old destination.
 * Like `conntrack -D -f ipv4 -p udp --orig-port-dst 500`.
 */
import type { Change } from '../../ops/change.js';
import type { NetnsHandle } from '../../ops/handle.js';
import { HelperError, runHelper } from '../../ops/spawn.js';
import { SysctlError } from '../../ops/sysctl.js';
import { findProgram } from './programs.js';

/** ESP's IP protocol number (RFC 4303); conntrack tracks it as a generic protocol, by number. */
const ESP_PROTOCOL = '50';

const FLUSHES: { description: string; args: string[] }[] = (['ipv4', 'ipv6'] as const).flatMap((family) => {
  const name = family === 'ipv4' ? 'IPv4' : 'IPv6';
  return [
    { description: `${name} UDP port 500`, args: ['-f', family, '-p', 'udp', '--orig-port-dst', '500'] },
    { description: `${name} UDP port 4500`, args: ['-f', family, '-p', 'udp', '--orig-port-dst', '4500'] },
    { description: `${name} ESP`, args: ['-f', family, '-p', ESP_PROTOCOL] },
  ];
});

const FLUSH_CHANGE = 'flush conntrack entries of UDP 500, UDP 4500 and ESP in the root namespace';

export interface FlushContext {
  /** The root namespace, whose entry count shows whether there is anything to flush. */
  root: NetnsHandle;
  record(changes: Change[]): void;
  notices: string[];
  dryRun: boolean;
}

/**
 * Deletes the root namespace's conntrack entries for UDP 500, UDP 4500 and ESP, both address
 * families. Without the conntrack program, or where the kernel refuses, it adds a notice
 * instead, because the topology works without the flush for every client that starts afresh.
 */
export async function flushIkeConntrack(context: FlushContext): Promise<void> {
  const conntrack = await findProgram('conntrack');
  if (conntrack === null) {
    context.notices.push(
      'conntrack was not found, so existing IKE and ESP flows were not flushed; clients connected before this change may need to reconnect (apt-get install conntrack)',
    );
    return;
  }

  // One change whatever the counts, so that a plan lists exactly what `up` then does.
  if (context.dryRun) {
    context.record([FLUSH_CHANGE]);
    return;
  }

  if ((await trackedFlows(context.root)) === 0) {
    context.record([FLUSH_CHANGE]);
    return;
  }

  // Six short helpers that touch different entries, so they run at the same time.
  const results = await Promise.all(FLUSHES.map((flush) => deleteEntries(conntrack, flush.args)));
  for (const [index, flush] of FLUSHES.entries()) {
    const deleted = results[index] ?? 0;
    if (typeof deleted === 'string') {
      context.notices.push(`flushing conntrack entries of ${flush.description} failed: ${deleted}`);
    } else if (deleted > 0) {
      context.notices.push(`deleted ${deleted} conntrack ${deleted === 1 ? 'entry' : 'entries'} of ${flush.description} in the root namespace`);
    }
  }
  context.record([FLUSH_CHANGE]);
}

/**
 * Returns the number of flows the namespace tracks, 0 when conntrack is not loaded there (the
 * sysctl exists only then), or null when the count cannot be read.
 */
async function trackedFlows(root: NetnsHandle): Promise<number | null> {
  try {
    return Number(await root.readSysctl('net.netfilter.nf_conntrack_count'));
  } catch (error) {
    if (error instanceof SysctlError && error.code === 'ENOENT') return 0;
    return null;
  }
}

/** Returns the number of entries deleted, or the error text when conntrack failed. */
async function deleteEntries(conntrack: string, args: string[]): Promise<number | string> {
  let stderr: string;
  try {
    ({ stderr } = await runHelper([conntrack, '-D', ...args]));
  } catch (error) {
    if (!(error instanceof HelperError)) throw error;
    // conntrack -D exits with 1 when nothing matched, after its usual summary line.
    const count = deletedCount(error.stderr);
    if (error.exitCode === 1 && count === 0) return 0;
    return error.message;
  }
  return deletedCount(stderr) ?? 0;
}

/** Reads N from conntrack's summary "N flow entries have been deleted." */
export function deletedCount(stderr: string): number | null {
  const match = /(\d+) flow entr(?:y has|ies have) been deleted/.exec(stderr);
  return match ? Number(match[1]) : null;
}
