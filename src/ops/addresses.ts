/** Idempotent address operations. */
import { AF_INET, AF_INET6, IFA_F_NODAD, NLM_F_CREATE, NLM_F_EXCL, RTM_DELADDR, RTM_GETADDR, RTM_NEWADDR } from '../netlink/constants.js';
import { decodeAddress, encodeAddress, type AddressMessage } from '../netlink/address.js';
import { parseAddressWithPrefix } from '../netlink/ip.js';
import type { ChangeRequest } from '../netlink/request.js';
import { LIST_DUMP_OPTIONS, makeChange, type Change, type EnsureOptions } from './change.js';
import { inNamespace, type NetnsHandle } from './handle.js';
import { getLink, requireLink } from './links.js';

/** Lists addresses, of one link if `index` is given. Like `ip addr show`. */
export async function listAddresses(ns: NetnsHandle, index?: number): Promise<AddressMessage[]> {
  const all = await ns.session.dumpAll(RTM_GETADDR, encodeAddress(addressBody(0, 0, 0, {})), `list addresses${inNamespace(ns)}`, decodeAddress, LIST_DUMP_OPTIONS);
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
  // In a dry run the link may be one that an earlier planned change creates.
  const link = options.dryRun ? await getLink(ns, ifname) : await requireLink(ns, ifname);
  if (!link) return [description];

  const present = (await listAddresses(ns, link.index)).filter((address) => addressText(address) === wanted.address);
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
  const link = await getLink(ns, ifname);
  if (!link) return [];
  const present = (await listAddresses(ns, link.index)).some(
    (address) => addressText(address) === wanted.address && address.prefixLength === wanted.prefixLength,
  );
  if (!present) return [];

  const description = `delete address ${cidr} from ${ifname}${inNamespace(ns)}`;
  return makeChange(options, description, () => ns.session.applyChange(deleteAddressRequest(link.index, cidr), description));
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
