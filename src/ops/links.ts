/**
 * Idempotent link operations: read the link, change only what differs.
 */
import {
  IFF_UP,
  LINK_QUERY_EXT_MASK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
} from '../netlink/constants.js';
import { open } from 'node:fs/promises';
import { NetlinkError } from '../netlink/errors.js';
import { decodeLink, encodeLink, linkMessage, type LinkAttributes, type LinkMessage } from '../netlink/link.js';
import type { ChangeRequest } from '../netlink/request.js';
import { ConflictError, LIST_DUMP_OPTIONS, makeChange, type Change, type EnsureOptions } from './change.js';
import { inNamespace, type NetnsHandle } from './handle.js';
import { openNamespace } from './netns.js';
import { settle, unwrap } from './settle.js';

/**
 * Returns the link named `name`, or null if there is none. Like `ip link show dev NAME`,
 * without statistics.
 */
export async function getLink(ns: NetnsHandle, name: string): Promise<LinkMessage | null> {
  try {
    const body = encodeLink(linkMessage({ attributes: { ifname: name, extMask: LINK_QUERY_EXT_MASK } }));
    const replies = await ns.session.get(RTM_GETLINK, body, `read link ${name}${inNamespace(ns)}`);
    const reply = replies[0];
    return reply ? decodeLink(reply) : null;
  } catch (error) {
    if (error instanceof NetlinkError && error.code === 'ENODEV') return null;
    throw error;
  }
}

/** Lists every link. Like `ip link show`, without statistics. */
export async function listLinks(ns: NetnsHandle): Promise<LinkMessage[]> {
  return ns.session.dumpAll(RTM_GETLINK, encodeLink(linkMessage({ attributes: { extMask: LINK_QUERY_EXT_MASK } })), `list links${inNamespace(ns)}`, decodeLink, LIST_DUMP_OPTIONS);
}

/** Returns a link's kind ("veth", "wireguard", "tun"), or undefined for devices without one. */
export function linkKind(link: LinkMessage): string | undefined {
  return link.attributes.linkinfo?.kind;
}

/** Returns the link named `name`, or throws an error naming the namespace it was not found in. */
export async function requireLink(ns: NetnsHandle, name: string): Promise<LinkMessage> {
  const link = await getLink(ns, name);
  if (!link) throw linkNotFound(ns, name);
  return link;
}

/** Returns the error requireLink throws for a link that is not there. */
export function linkNotFound(ns: NetnsHandle, name: string): ConflictError {
  return new ConflictError(`link ${name} not found${inNamespace(ns)}`);
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
  // Both ends are read at once. The far end matters only when the near one exists.
  const nearRead = settle(getLink(ns, pair.name));
  const farRead = peer.name === null ? null : settle(getLink(peer, pair.peerName));
  const near = unwrap(await nearRead);
  if (near) {
    if (linkKind(near) !== 'veth') {
      throw new ConflictError(`link ${pair.name}${inNamespace(ns)} exists but is a ${linkKind(near) ?? 'device without a kind'}, not a veth`);
    }
    const far = farRead === null ? null : unwrap(await farRead);
    if (!far || linkKind(far) !== 'veth') {
      throw new ConflictError(`veth ${pair.name}${inNamespace(ns)} exists but its peer ${pair.peerName} is not${inNamespace(peer)}; delete ${pair.name} and run again`);
    }
    if (pair.alias === undefined || near.attributes.ifalias === pair.alias) return [];

    // A pair whose creation was interrupted before its alias was set.
    const alias = pair.alias;
    const aliasDescription = `set alias of ${pair.name} to ${alias}${inNamespace(ns)}`;
    return makeChange(options, aliasDescription, () =>
      ns.session.applyChange(setLinkAliasRequest({ name: pair.name, index: near.index }, alias), aliasDescription),
    );
  }

  const description = `add veth pair ${pair.name}${inNamespace(ns)} and ${pair.peerName}${inNamespace(peer)}`;
  return makeChange(options, description, async () => {
    await withNamespaceReference(ns, peer, (reference) => ns.session.applyChange(addVethPairRequest(pair, reference), description));
    if (pair.alias) await setLinkAlias(ns, pair.name, pair.alias);
  });
}

/**
 * A link named in a request. With an index the request carries only ifi_index, as iproute2's
 * requests do after it looked the name up. Without one it carries IFLA_IFNAME, which the
 * kernel looks up itself.
 */
export interface LinkReference {
  name: string;
  /** Interface index, when a lookup found it. */
  index?: number;
}

/**
 * A namespace named in a request: an fd open on it (IFLA_NET_NS_FD), resolved in the process
 * that sends the request, or the pid of a process inside it (IFLA_NET_NS_PID).
 */
export type NamespaceReference = { netNsFd: number } | { netNsPid: number };

function linkTarget(link: LinkReference, attributes: LinkAttributes = {}, fields: Partial<LinkMessage> = {}): LinkMessage {
  if (link.index !== undefined && link.index > 0) return linkMessage({ ...fields, index: link.index, attributes });
  return linkMessage({ ...fields, attributes: { ifname: link.name, ...attributes } });
}

/**
 * Builds the request that creates a veth pair, its peer directly in `peerNamespace` when
 * given. Like `ip link add NAME type veth peer name PEER [netns NS]`.
 */
export function addVethPairRequest(pair: Pick<VethPair, 'name' | 'peerName'>, peerNamespace?: NamespaceReference): ChangeRequest {
  const peerAttributes: LinkAttributes = { ifname: pair.peerName, ...peerNamespace };
  const attributes: LinkAttributes = { ifname: pair.name, linkinfo: { kind: 'veth', data: { peer: linkMessage({ attributes: peerAttributes }) } } };
  return { type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL, body: encodeLink(linkMessage({ attributes })) };
}

/** Builds the request that creates a link of a kind without settings. Like `ip link add NAME type KIND`. */
export function addLinkRequest(name: string, kind: string): ChangeRequest {
  return { type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL, body: encodeLink(linkMessage({ attributes: { ifname: name, linkinfo: { kind } } })) };
}

/** Builds the request that sets a link's alias. Like `ip link set dev NAME alias ALIAS`. */
export function setLinkAliasRequest(link: LinkReference, alias: string): ChangeRequest {
  return { type: RTM_NEWLINK, flags: 0, body: encodeLink(linkTarget(link, { ifalias: alias })) };
}

/** Builds the request that sets a link administratively up. Like `ip link set dev NAME up`. */
export function setLinkUpRequest(link: LinkReference): ChangeRequest {
  return { type: RTM_NEWLINK, flags: 0, body: encodeLink(linkTarget(link, {}, { flags: IFF_UP, change: IFF_UP })) };
}

/** Builds the request that sets a link's MTU. Like `ip link set dev NAME mtu MTU`. */
export function setLinkMtuRequest(link: LinkReference, mtu: number): ChangeRequest {
  return { type: RTM_NEWLINK, flags: 0, body: encodeLink(linkTarget(link, { mtu })) };
}

/** Builds the request that moves a link to another namespace. Like `ip link set dev NAME netns NS`. */
export function moveLinkRequest(link: LinkReference, target: NamespaceReference): ChangeRequest {
  return { type: RTM_NEWLINK, flags: 0, body: encodeLink(linkTarget(link, { ...target })) };
}

/** Builds the request that deletes a link. Like `ip link del dev NAME`. */
export function deleteLinkRequest(link: LinkReference): ChangeRequest {
  return { type: RTM_DELLINK, flags: 0, body: encodeLink(linkTarget(link)) };
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
  use: (reference: NamespaceReference) => Promise<void>,
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
  await ns.session.applyChange(setLinkAliasRequest({ name }, alias), description);
}

/**
 * Creates a link of a kind that takes no settings (wireguard, for one). Like
 * `ip link add NAME type KIND`. Throws NetlinkError (EOPNOTSUPP) where the kernel lacks the kind.
 */
export async function createLink(ns: NetnsHandle, name: string, kind: string, alias?: string): Promise<void> {
  await ns.session.applyChange(addLinkRequest(name, kind), `add ${kind} link ${name}${inNamespace(ns)}`);
  if (alias) await setLinkAlias(ns, name, alias);
}

/** Ensures the link is administratively up. Like `ip link set dev NAME up`. */
export async function ensureLinkUp(ns: NetnsHandle, name: string, options: EnsureOptions = {}): Promise<Change[]> {
  const link = await getLink(ns, name);
  if (link && link.flags & IFF_UP) return [];

  const description = `set link ${name} up${inNamespace(ns)}`;
  return makeChange(options, description, () => ns.session.applyChange(setLinkUpRequest({ name, index: link?.index }), description));
}

/** Ensures the link's MTU. Like `ip link set dev NAME mtu MTU`. */
export async function ensureLinkMtu(ns: NetnsHandle, name: string, mtu: number, options: EnsureOptions = {}): Promise<Change[]> {
  const link = await getLink(ns, name);
  if (link && link.attributes.mtu === mtu) return [];

  const description = `set MTU of ${name} to ${mtu}${inNamespace(ns)}`;
  return makeChange(options, description, () => ns.session.applyChange(setLinkMtuRequest({ name, index: link?.index }, mtu), description));
}

/**
 * Ensures the link named `name` is in namespace `target`, moving it there from `ns` if it is
 * not. Like `ip link set dev NAME netns TARGET`. Addresses do not survive the move.
 */
export async function ensureLinkInNamespace(ns: NetnsHandle, target: NetnsHandle, name: string, options: EnsureOptions = {}): Promise<Change[]> {
  // Both lookups go out at once. The source's matters only when the target lacks the link.
  const inTarget = settle(getLink(target, name));
  const inSource = options.dryRun ? null : settle(getLink(ns, name));
  if (unwrap(await inTarget)) return [];

  let index: number | undefined;
  if (inSource) {
    const link = unwrap(await inSource);
    if (!link) throw linkNotFound(ns, name);
    index = link.index;
  }

  const description = `move link ${name} from the ${ns.label} to ${target.label}`;
  return makeChange(options, description, () => moveLinkByReference(ns, { name, index }, target, description));
}

/** Moves a link to another namespace. Like `ip link set dev NAME netns TARGET`. */
export async function moveLink(ns: NetnsHandle, name: string, target: NetnsHandle, description: string): Promise<void> {
  await moveLinkByReference(ns, { name }, target, description);
}

async function moveLinkByReference(ns: NetnsHandle, link: LinkReference, target: NetnsHandle, description: string): Promise<void> {
  await withNamespaceReference(ns, target, (reference) => ns.session.applyChange(moveLinkRequest(link, reference), description));
}

/** Deletes the link if it exists; deleting one end of a veth pair deletes both. Like `ip link del dev NAME`. */
export async function removeLink(ns: NetnsHandle, name: string, options: EnsureOptions = {}): Promise<Change[]> {
  const link = await getLink(ns, name);
  if (!link) return [];

  const description = `delete link ${name}${inNamespace(ns)}`;
  return makeChange(options, description, async () => {
    try {
      await ns.session.applyChange(deleteLinkRequest({ name, index: link.index }), description);
    } catch (error) {
      // Gone between the read and the delete (its veth peer was deleted, say): the goal is met.
      if (!(error instanceof NetlinkError && error.code === 'ENODEV')) throw error;
    }
  });
}
