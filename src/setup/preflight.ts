/**
 * Checks before `up` changes anything: addresses in the root namespace that would collide
 * with the topology's prefixes, and interface names that would take the uplink.
 */
import { addressText, listAddresses } from '../ops/addresses.js';
import type { NetnsHandle } from '../ops/handle.js';
import { listLinks } from '../ops/links.js';
import { containsAddress, parseAddress, parsePrefix } from './cidr.js';
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
        throw new SetupError(
          `address ${text}/${address.prefixLength} on ${link} in the root namespace collides with ${field} ${prefix}; ` +
            `remove it from ${link} (Algo puts the DNS service address on lo) or choose another ${field}`,
        );
      }
    }
  }
}
