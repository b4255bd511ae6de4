/**
 * The desired topology, derived from the configuration: for every enabled service, its
 * namespace, veth pair, addresses and routes, and the isolation rules of the root namespace.
 */
import type { RuleSpec } from '../ops/rules.js';
import { hostInPrefix, parsePrefix } from './cidr.js';
import { SERVICE_NAMES, type ServiceName, type TopologyConfig } from './config.js';

/** Interface alias that marks links made by algo-netns, so `down` removes only those. */
export const OWNER_ALIAS = 'algo-netns';

/** One service namespace as it should be. */
export interface ServiceLayout {
  service: ServiceName;
  namespace: string;
  hostInterface: string;
  namespaceInterface: string;
  /** Transit addresses with prefix length: the root side and the namespace side. */
  hostAddresses: string[];
  namespaceAddresses: string[];
  /** Root-side transit addresses without length, the namespace's default gateways. */
  gateways: { 4: string; 6: string };
  /** Namespace-side transit addresses without length, where the root routes `routedPrefixes`. */
  nextHops: { 4: string; 6: string };
  /** Prefixes the root namespace routes into this namespace (client pools, service addresses). */
  routedPrefixes: string[];
  /** Addresses held on the namespace's loopback (the DNS service addresses). */
  loopbackAddresses: string[];
  /** Whether the namespace forwards packets (the VPN namespaces do; the DNS one only answers). */
  forwarding: boolean;
  wireguard: { interface: string; addresses: string[]; adopt: string | null } | null;
}

/** Returns the layout of every enabled service, in the order they are built. */
export function serviceLayouts(config: TopologyConfig): ServiceLayout[] {
  return SERVICE_NAMES.filter((service) => config[service].enabled).map((service) => serviceLayout(config, service));
}

function serviceLayout(config: TopologyConfig, service: ServiceName): ServiceLayout {
  const section = config[service];
  const transit4 = parsePrefix(section.transitIPv4);
  const transit6 = parsePrefix(section.transitIPv6);
  const host4 = hostInPrefix(transit4, 1);
  const peer4 = hostInPrefix(transit4, 2);
  const host6 = hostInPrefix(transit6, 1);
  const peer6 = hostInPrefix(transit6, 2);

  const layout: ServiceLayout = {
    service,
    namespace: section.namespace,
    hostInterface: section.hostInterface,
    namespaceInterface: section.namespaceInterface,
    hostAddresses: [host4.text, host6.text],
    namespaceAddresses: [peer4.text, peer6.text],
    gateways: { 4: withoutLength(host4.text), 6: withoutLength(host6.text) },
    nextHops: { 4: withoutLength(peer4.text), 6: withoutLength(peer6.text) },
    routedPrefixes: [],
    loopbackAddresses: [],
    forwarding: service !== 'dns',
    wireguard: null,
  };

  if (service === 'wireguard') {
    layout.routedPrefixes = [...config.wireguard.clientPools];
    layout.wireguard = { interface: config.wireguard.interface, addresses: [...config.wireguard.addresses], adopt: config.wireguard.adoptInterface };
  } else if (service === 'strongswan') {
    layout.routedPrefixes = [...config.strongswan.clientPools];
  } else {
    layout.routedPrefixes = [...config.dns.serviceAddresses];
    layout.loopbackAddresses = [...config.dns.serviceAddresses];
  }
  return layout;
}

/**
 * Rules of the root namespace that keep the two VPN client pools apart: traffic from one
 * pool to the other is prohibited, per address family, in both directions.
 */
export function isolationRules(config: TopologyConfig): RuleSpec[] {
  if (!config.wireguard.enabled || !config.strongswan.enabled) return [];

  const rules: RuleSpec[] = [];
  let priority = config.rulePriority;
  for (const [fromPools, toPools] of [
    [config.wireguard.clientPools, config.strongswan.clientPools],
    [config.strongswan.clientPools, config.wireguard.clientPools],
  ] as const) {
    for (const from of fromPools) {
      for (const to of toPools) {
        const family = parsePrefix(from).family;
        if (parsePrefix(to).family !== family) continue;
        rules.push({ family, priority, from, to, action: 'prohibit', protocol: config.routeProtocol });
      }
    }
    priority += 1;
  }
  return rules;
}

function withoutLength(text: string): string {
  return text.slice(0, text.indexOf('/'));
}
