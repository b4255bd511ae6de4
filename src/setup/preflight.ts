/**
 * Checks before `up` changes anything: addresses in the root namespace that would collide
 * with the topology's prefixes, and interface names that would take the uplink.
 */
import { addressText, listAddresses } from '../ops/addresses.js';
import type { NetnsHandle } from '../ops/handle.js';
import { listLinks } from '../ops/links.js';
import { containsAddress, parseAddress, parsePrefix, type IpAddress, type IpPrefix } from './cidr.js';
import type { TopologyConfig } from './config.js';
import { SetupError } from './setup-error.js';
import { serviceLayouts } from './topology.js';

/** Throws a SetupError naming the first collision between the host and the topology. */
export async function preflight(root: NetnsHandle, config: TopologyConfig, uplink: string | null): Promise<void> {
  const layouts = serviceLayouts(config);
  const ours = new Set<string>();
  for (const layout of layouts) {
    if (uplink !== null && layout.hostInterface === uplink) {
      throw new SetupError(`${layout.service}.hostInterface is ${uplink}, the uplink; choose another name, or the uplink would be replaced by a veth`);
    }
    ours.add(layout.hostInterface);
    if (layout.wireguard) {
      const name = layout.wireguard.adopt ?? layout.wireguard.interface;
      if (uplink !== null && name === uplink) {
        throw new SetupError(`wireguard.${layout.wireguard.adopt ? 'adoptInterface' : 'interface'} is ${uplink}, the uplink; moving it would cut the host off`);
      }
      ours.add(name);
    }
  }

  // Prefixes the topology routes or holds: an address inside one on another link would
  // shadow a route (a /32 on lo takes the local table) or duplicate a connected route.
  const claimed: { field: string; prefix: string }[] = [];
  for (const layout of layouts) {
    const section = config[layout.service];
    claimed.push({ field: `${layout.service}.transitIPv4`, prefix: section.transitIPv4 }, { field: `${layout.service}.transitIPv6`, prefix: section.transitIPv6 });
  }
  if (config.dns.enabled) for (const address of config.dns.serviceAddresses) claimed.push({ field: 'dns.serviceAddresses', prefix: address });
  if (config.wireguard.enabled) for (const pool of config.wireguard.clientPools) claimed.push({ field: 'wireguard.clientPools', prefix: pool });
  if (config.strongswan.enabled) for (const pool of config.strongswan.clientPools) claimed.push({ field: 'strongswan.clientPools', prefix: pool });

  const names = new Map((await listLinks(root)).map((link) => [link.index, link.attributes.ifname ?? `#${link.index}`]));
  for (const address of await listAddresses(root)) {
    const link = names.get(address.index) ?? `#${address.index}`;
    const text = addressText(address);
    if (ours.has(link) || text === undefined || text.startsWith('fe80:')) continue;

    const hostAddress = parseAddress(text);
    for (const { field, prefix } of claimed) {
      if (containsAddress(parsePrefix(prefix), hostAddress)) {
        throw new SetupError(collisionMessage(`${text}/${address.prefixLength}`, link, field, prefix));
      }
    }
  }
}

const LOOPBACK_NETWORKS = [parsePrefix('127.0.0.0/8'), parsePrefix('::1/128')];

function loopbackNetworkOf(address: IpAddress): IpPrefix | undefined {
  return LOOPBACK_NETWORKS.find((network) => network.family === address.family && containsAddress(network, address));
}

/**
 * Describes a host address that collides with a prefix of the configuration. Only a DNS
 * service address is worth removing from the host: Algo puts it on lo, where it would shadow
 * the route to the DNS namespace. A pool or transit network, or a loopback address, calls for
 * another range in the configuration instead.
 */
export function collisionMessage(hostAddress: string, link: string, field: string, prefix: string): string {
  const collision = `address ${hostAddress} on ${link} in the root namespace collides with ${field} ${prefix}`;
  const address = parseAddress(hostAddress.split('/')[0] ?? hostAddress);
  const loopback = loopbackNetworkOf(address);

  if (field === 'dns.serviceAddresses' && loopback === undefined) {
    return `${collision}; remove it from ${link} (Algo puts the DNS service address on lo) or choose another address in ${field}`;
  }
  const setting = field === 'dns.serviceAddresses' ? `another address in ${field}` : `another range for ${field}`;
  const network = loopback === undefined ? `the network of ${link}` : `the loopback network ${loopback.text}`;
  return `${collision}; choose ${setting} in the configuration, outside ${network}, and leave ${link} as it is`;
}
