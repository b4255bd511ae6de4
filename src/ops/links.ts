/**
 * Idempotent link operations: read the link, change only what differs.
 */
import {
  IFF_UP,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
} from '../netlink/constants.js';
import { open } from 'node:fs/promises';
import { NetlinkError } from '../netlink/errors.js';
import { decodeLink, encodeLink, linkMessage, type LinkAttributes, type LinkMessage } from '../netlink/link.js';
import { ConflictError, makeChange, type Change, type EnsureOptions } from './change.js';
import { inNamespace, type NetnsHandle } from './handle.js';
import { openNamespace } from './netns.js';

/** Returns the link named `name`, or null if there is none. Like `ip link show dev NAME`. */
export async function getLink(ns: NetnsHandle, name: string): Promise<LinkMessage | null> {
  try {
    const replies = await ns.session.get(RTM_GETLINK, encodeLink(linkMessage({ attributes: { ifname: name } })), `read link ${name}${inNamespace(ns)}`);
    const reply = replies[0];
    return reply ? decodeLink(reply) : null;
  } catch (error) {
    if (error instanceof NetlinkError && error.code === 'ENODEV') return null;
    throw error;
  }
}

/** Lists every link. Like `ip link show`. */
export async function listLinks(ns: NetnsHandle): Promise<LinkMessage[]> {
  return ns.session.dumpAll(RTM_GETLINK, encodeLink(linkMessage({})), `list links${inNamespace(ns)}`, decodeLink);
}

/** Returns a link's kind ("veth", "wireguard", "tun"), or undefined for devices without one. */
export function linkKind(link: LinkMessage): string | undefined {
  return link.attributes.linkinfo?.kind;
}

/** Returns the link named `name`, or throws an error naming the namespace it was not found in. */
export async function requireLink(ns: NetnsHandle, name: string): Promise<LinkMessage> {
  const link = await getLink(ns, name);
  if (!link) throw new ConflictError(`link ${name} not found${inNamespace(ns)}`);
  return link;
}

export interface VethPair {
  /** Name of the end that stays in `ns`. */
  name: string;
  /** Name of the other end, created directly inside `peer`. */
  peerName: string;
  /** Interface alias set on the near end, to mark the pair as made by us. */
  alias?: string;
}

/**
 * Ensures a veth pair whose peer is created directly in another namespace. Like
 * `ip link add NAME type veth peer name PEER netns NS`.
 */
export async function ensureVethPair(ns: NetnsHandle, peer: NetnsHandle, pair: VethPair, options: EnsureOptions = {}): Promise<Change[]> {
  const near = await getLink(ns, pair.name);
  if (near) {
    if (linkKind(near) !== 'veth') {
      throw new ConflictError(`link ${pair.name}${inNamespace(ns)} exists but is a ${linkKind(near) ?? 'device without a kind'}, not a veth`);
    }
    const far = peer.name === null ? null : await getLink(peer, pair.peerName);
    if (!far || linkKind(far) !== 'veth') {
      throw new ConflictError(`veth ${pair.name}${inNamespace(ns)} exists but its peer ${pair.peerName} is not${inNamespace(peer)}; delete ${pair.name} and run again`);
    }
    if (pair.alias === undefined || near.attributes.ifalias === pair.alias) return [];

    // A pair whose creation was interrupted before its alias was set.
    const alias = pair.alias;
    return makeChange(options, `set alias of ${pair.name} to ${alias}${inNamespace(ns)}`, () => setLinkAlias(ns, pair.name, alias));
  }

  const description = `add veth pair ${pair.name}${inNamespace(ns)} and ${pair.peerName}${inNamespace(peer)}`;
  return makeChange(options, description, async () => {
    await withNamespaceReference(ns, peer, async (reference) => {
      const peerAttributes: LinkAttributes = { ifname: pair.peerName, ...reference };
      const attributes: LinkAttributes = { ifname: pair.name, linkinfo: { kind: 'veth', data: { peer: linkMessage({ attributes: peerAttributes }) } } };
      await ns.session.change(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, encodeLink(linkMessage({ attributes })), description);
    });
    if (pair.alias) await setLinkAlias(ns, pair.name, pair.alias);
  });
}

/**
 * Runs `use` with the attribute that names namespace `target` in a request sent by `sender`.
 *
 * The kernel resolves IFLA_NET_NS_FD in the process that sends the request, so a namespace fd
 * works only when this process's own socket sends it. A request relayed from another
 * namespace names the target by the pid of a process inside it instead (IFLA_NET_NS_PID).
 */
async function withNamespaceReference(
  sender: NetnsHandle,
  target: NetnsHandle,
  use: (reference: { netNsFd: number } | { netNsPid: number }) => Promise<void>,
): Promise<void> {
  if (sender.name !== null) {
    await use({ netNsPid: target.pid });
    return;
  }

  // The current namespace has no name under /run/netns; this process's own fd stands for it.
  const handle = target.name === null ? await open('/proc/self/ns/net', 'r') : await openNamespace(target.name);
  try {
    await use({ netNsFd: handle.fd });
  } finally {
    await handle.close();
  }
}

/**
 * Sets the interface alias. Like `ip link set dev NAME alias ALIAS`. The kernel ignores
 * IFLA_IFALIAS in a request that creates a link, so it takes a request of its own.
 */
export async function setLinkAlias(ns: NetnsHandle, name: string, alias: string): Promise<void> {
  const description = `set alias of ${name} to ${alias}${inNamespace(ns)}`;
  await ns.session.change(RTM_NEWLINK, 0, encodeLink(linkMessage({ attributes: { ifname: name, ifalias: alias } })), description);
}

/**
 * Creates a link of a kind that takes no settings (wireguard, for one). Like
 * `ip link add NAME type KIND`. Throws NetlinkError (EOPNOTSUPP) where the kernel lacks the kind.
 */
export async function createLink(ns: NetnsHandle, name: string, kind: string, alias?: string): Promise<void> {
  const attributes: LinkAttributes = { ifname: name, linkinfo: { kind } };
  await ns.session.change(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, encodeLink(linkMessage({ attributes })), `add ${kind} link ${name}${inNamespace(ns)}`);
  if (alias) await setLinkAlias(ns, name, alias);
}

/** Ensures the link is administratively up. Like `ip link set dev NAME up`. */
export async function ensureLinkUp(ns: NetnsHandle, name: string, options: EnsureOptions = {}): Promise<Change[]> {
  const link = await getLink(ns, name);
  if (link && link.flags & IFF_UP) return [];

  const description = `set link ${name} up${inNamespace(ns)}`;
  return makeChange(options, description, () =>
    ns.session.change(RTM_NEWLINK, 0, encodeLink(linkMessage({ flags: IFF_UP, change: IFF_UP, attributes: { ifname: name } })), description),
  );
}

/** Ensures the link's MTU. Like `ip link set dev NAME mtu MTU`. */
export async function ensureLinkMtu(ns: NetnsHandle, name: string, mtu: number, options: EnsureOptions = {}): Promise<Change[]> {
  const link = await getLink(ns, name);
  if (link && link.attributes.mtu === mtu) return [];

  const description = `set MTU of ${name} to ${mtu}${inNamespace(ns)}`;
  return makeChange(options, description, () =>
    ns.session.change(RTM_NEWLINK, 0, encodeLink(linkMessage({ attributes: { ifname: name, mtu } })), description),
  );
}

/**
 * Ensures the link named `name` is in namespace `target`, moving it there from `ns` if it is
 * not. Like `ip link set dev NAME netns TARGET`. Addresses do not survive the move.
 */
export async function ensureLinkInNamespace(ns: NetnsHandle, target: NetnsHandle, name: string, options: EnsureOptions = {}): Promise<Change[]> {
  if (await getLink(target, name)) return [];
  if (!options.dryRun) await requireLink(ns, name);

  const description = `move link ${name} from the ${ns.label} to ${target.label}`;
  return makeChange(options, description, () => moveLink(ns, name, target, description));
}

/** Moves a link to another namespace. Like `ip link set dev NAME netns TARGET`. */
export async function moveLink(ns: NetnsHandle, name: string, target: NetnsHandle, description: string): Promise<void> {
  await withNamespaceReference(ns, target, (reference) =>
    ns.session.change(RTM_NEWLINK, 0, encodeLink(linkMessage({ attributes: { ifname: name, ...reference } })), description),
  );
}

/** Deletes the link if it exists; deleting one end of a veth pair deletes both. Like `ip link del dev NAME`. */
export async function removeLink(ns: NetnsHandle, name: string, options: EnsureOptions = {}): Promise<Change[]> {
  if (!(await getLink(ns, name))) return [];

  const description = `delete link ${name}${inNamespace(ns)}`;
  return makeChange(options, description, async () => {
    try {
      await ns.session.change(RTM_DELLINK, 0, encodeLink(linkMessage({ attributes: { ifname: name } })), description);
    } catch (error) {
      // Gone between the read and the delete (its veth peer was deleted, say): the goal is met.
      if (!(error instanceof NetlinkError && error.code === 'ENODEV')) throw error;
    }
  });
}
