/** Idempotent address operations. */
import { AF_INET, AF_INET6, AF_UNSPEC, IFA_F_NODAD, NLM_F_CREATE, NLM_F_EXCL, RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR } from '../netlink/constants.js';
import { decodeAddress, encodeAddress, type AddressMessage } from '../netlink/address.js';
import { NetlinkError } from '../netlink/errors.js';
import { parseAddressWithPrefix, type AddressWithPrefix } from '../netlink/ip.js';
import type { LinkMessage } from '../netlink/link.js';
import type { ChangeRequest } from '../netlink/request.js';
import { LIST_DUMP_OPTIONS, makeChange, type Change, type EnsureOptions } from './change.js';
import { inNamespace, type NetnsHandle } from './handle.js';
import { getLink, linkNotFound } from './links.js';
import { settle, unwrap } from './settle.js';

/**
 * Lists addresses, of one link if `index` is given and of one family if `family` is.
 * Like `ip [-4|-6] addr show`.
 */
export async function listAddresses(ns: NetnsHandle, index?: number, family?: 4 | 6): Promise<AddressMessage[]> {
  // The kernel dumps only the family that the request names. It filters by link only on
  // sockets with strict checking (NETLINK_GET_STRICT_CHK), which ours do not turn on.
  let addressFamily = AF_UNSPEC;
  if (family === 4) addressFamily = AF_INET;
  if (family === 6) addressFamily = AF_INET6;
  const listed = family === undefined ? 'addresses' : `IPv${family} addresses`;
  const body = encodeAddress(addressBody(addressFamily, 0, 0, {}));
  const all = await ns.session.dumpAll(RTM_GETADDR, body, `list ${listed}${inNamespace(ns)}`, decodeAddress, LIST_DUMP_OPTIONS);
  return index === undefined ? all : all.filter((address) => address.index === index);
}

/** Returns the address text of an address message ("10.49.0.1"). */
export function addressText(address: AddressMessage): string | undefined {
  return address.attributes.local ?? address.attributes.address;
}

export interface AddressOptions extends EnsureOptions {
  /** Skip IPv6 duplicate address detection, so the address is usable at once (IFA_F_NODAD). */
  noDad?: boolean;
}

/** Ensures `cidr` ("10.49.0.1/16") is on link `ifname`. Like `ip addr add CIDR dev IFNAME`. */
export async function ensureAddress(ns: NetnsHandle, ifname: string, cidr: string, options: AddressOptions = {}): Promise<Change[]> {
  const wanted = parseAddressWithPrefix(cidr);
  const description = `add address ${cidr} to ${ifname}${inNamespace(ns)}`;
  const { link, present } = await readLinkAndAddress(ns, ifname, wanted);
  if (!link) {
    // In a dry run the link may be one that an earlier planned change creates.
    if (options.dryRun) return [description];
    throw linkNotFound(ns, ifname);
  }
  if (present.some((address) => address.prefixLength === wanted.prefixLength)) return [];

  // The same address with another prefix length is replaced, not kept beside the new one.
  const changes: Change[] = [];
  for (const stale of present) {
    changes.push(...(await removeAddress(ns, ifname, `${wanted.address}/${stale.prefixLength}`, options)));
  }
  const request = addAddressRequest(link.index, cidr, options);
  changes.push(...(await makeChange(options, description, () => ns.session.applyChange(request, description))));
  return changes;
}

/** Removes `cidr` from link `ifname` if it is there. Like `ip addr del CIDR dev IFNAME`. */
export async function removeAddress(ns: NetnsHandle, ifname: string, cidr: string, options: EnsureOptions = {}): Promise<Change[]> {
  const wanted = parseAddressWithPrefix(cidr);
  const { link, present } = await readLinkAndAddress(ns, ifname, wanted);
  if (!link || !present.some((address) => address.prefixLength === wanted.prefixLength)) return [];

  const description = `delete address ${cidr} from ${ifname}${inNamespace(ns)}`;
  return makeChange(options, description, () => ns.session.applyChange(deleteAddressRequest(link.index, cidr), description));
}

/**
 * Reads link `ifname` and the addresses on it equal to `wanted.address`, whatever their
 * prefix length (IPv4 allows several). The two reads go out together. Returns no link and
 * no addresses when the link is missing.
 */
async function readLinkAndAddress(ns: NetnsHandle, ifname: string, wanted: AddressWithPrefix): Promise<{ link: LinkMessage | null; present: AddressMessage[] }> {
  const linkRead = settle(getLink(ns, ifname));
  const addressRead = settle(findAddress(ns, wanted));

  const link = unwrap(await linkRead);
  if (!link) return { link: null, present: [] };
  const found = unwrap(await addressRead);
  const present = found.filter((address) => address.index === link.index);

  // An IPv6 get without a link returns one link that has the address, which may be another.
  if (wanted.family === 6 && present.length === 0 && found.length > 0) {
    return { link, present: await findAddress(ns, wanted, link.index) };
  }
  return { link, present };
}

/**
 * Finds the addresses equal to `wanted.address`, on link `index` or on any link.
 *
 * IPv6 has a get for one address: RTM_GETADDR without NLM_F_DUMP. Its reply is one message,
 * however many addresses the namespace has. The kernel rejects a second copy of an IPv6
 * address on one link, whatever its prefix length ("ipv6: address already assigned"), so the
 * get misses nothing. The kernel has no such get for IPv4, so an IPv4 address takes
 * a dump of the IPv4 addresses.
 */
async function findAddress(ns: NetnsHandle, wanted: AddressWithPrefix, index = 0): Promise<AddressMessage[]> {
  if (wanted.family === 6) {
    const found = await getIPv6Address(ns, wanted.address, index);
    if (found !== undefined) return found === null ? [] : [found];
  }
  const all = await listAddresses(ns, index === 0 ? undefined : index, wanted.family);
  return all.filter((address) => addressText(address) === wanted.address);
}

/**
 * Returns the IPv6 address `address` (on link `index`, or on the first link found with 0),
 * null when there is none, or undefined when the kernel has no IPv6 get (IPv6 disabled).
 */
async function getIPv6Address(ns: NetnsHandle, address: string, index: number): Promise<AddressMessage | null | undefined> {
  const body = encodeAddress(addressBody(AF_INET6, 0, index, { address }));
  try {
    const replies = await ns.session.get(RTM_GETADDR, body, `read address ${address}${inNamespace(ns)}`);
    const reply = replies[0];
    return reply ? decodeAddress(reply) : null;
  } catch (error) {
    if (!(error instanceof NetlinkError)) throw error;
    // EADDRNOTAVAIL: no such address. ENODEV: what a namespace that does not exist yet
    // returns in a dry run (see absent.ts).
    if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENODEV') return null;
    if (error.code === 'EOPNOTSUPP') return undefined;
    throw error;
  }
}

/**
 * Builds the request that adds `cidr` to the link with index `index`. Like
 * `ip addr add CIDR dev NAME [nodad]`: IFA_LOCAL and IFA_ADDRESS both carry the address,
 * and IFA_F_NODAD goes in ifa_flags (IPv6 only).
 */
export function addAddressRequest(index: number, cidr: string, options: Pick<AddressOptions, 'noDad'> = {}): ChangeRequest {
  const wanted = parseAddressWithPrefix(cidr);
  const flags = options.noDad && wanted.family === 6 ? IFA_F_NODAD : 0;
  const attributes = { local: wanted.address, address: wanted.address };
  const body = encodeAddress(addressBody(wanted.family === 4 ? AF_INET : AF_INET6, wanted.prefixLength, index, attributes, flags));
  return { type: RTM_NEWADDR, flags: NLM_F_CREATE | NLM_F_EXCL, body };
}

/** Builds the request that removes `cidr` from the link with index `index`. Like `ip addr del CIDR dev NAME`. */
export function deleteAddressRequest(index: number, cidr: string): ChangeRequest {
  const wanted = parseAddressWithPrefix(cidr);
  const attributes = { local: wanted.address, address: wanted.address };
  const body = encodeAddress(addressBody(wanted.family === 4 ? AF_INET : AF_INET6, wanted.prefixLength, index, attributes));
  return { type: RTM_DELADDR, flags: 0, body };
}

function addressBody(family: number, prefixLength: number, index: number, attributes: AddressMessage['attributes'], flags = 0): AddressMessage {
  return { family, prefixLength, flags, scope: 0, index, attributes };
}
