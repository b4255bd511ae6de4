/**
 * `status`: what of the topology exists now, per service, read from the live state.
 */
import { AF_INET, AF_INET6, IFF_LOWER_UP, IFF_UP, RT_TABLE_MAIN } from '../netlink/constants.js';
import { routeTableOf } from '../netlink/route.js';
import { addressText, listAddresses } from '../ops/addresses.js';
import { openCurrentNamespace, openNamedNamespace, type NetnsHandle } from '../ops/handle.js';
import { listLinks } from '../ops/links.js';
import { ruleActionName } from '../ops/rules.js';
import { namespaceExists } from '../ops/netns.js';
import { listRoutes } from '../ops/routes.js';
import { listRules } from '../ops/rules.js';
import type { TopologyConfig } from './config.js';
import { readState } from './state.js';
import { serviceLayouts } from './topology.js';
import { findUplink } from './uplink.js';

export interface LinkStatus {
  index: number;
  name: string;
  kind: string | null;
  up: boolean;
  lowerUp: boolean;
  addresses: string[];
}

export interface ServiceStatus {
  service: string;
  namespace: string;
  exists: boolean;
  /** Whether the state file lists it as created by algo-netns. */
  ours: boolean;
  hostLink: LinkStatus | null;
  links: LinkStatus[];
  /** Routes of the namespace, as "destination via gateway dev device". */
  routes: string[];
  /** Wanted pieces that are missing, in words. */
  missing: string[];
}

export interface TopologyStatus {
  state: 'up' | 'partial' | 'down';
  uplink: string | null;
  services: ServiceStatus[];
  /** Root namespace rules stamped with our protocol number. */
  rules: string[];
}

/** Reads the live state of every configured service namespace. */
export async function status(config: TopologyConfig): Promise<TopologyStatus> {
  const state = await readState(config.stateDirectory);
  const root = openCurrentNamespace();
  try {
    const rootLinks = await linkStatuses(root);
    const services: ServiceStatus[] = [];
    for (const layout of serviceLayouts(config)) {
      const exists = await namespaceExists(layout.namespace);
      const service: ServiceStatus = {
        service: layout.service,
        namespace: layout.namespace,
        exists,
        ours: state.namespaces.includes(layout.namespace),
        hostLink: rootLinks.find((link) => link.name === layout.hostInterface) ?? null,
        links: [],
        routes: [],
        missing: [],
      };
      if (!exists) service.missing.push(`namespace ${layout.namespace}`);
      if (!service.hostLink) service.missing.push(`link ${layout.hostInterface} in the root namespace`);
      if (exists) await readNamespace(service, layout.namespaceInterface, layout.wireguard?.adopt ?? layout.wireguard?.interface);
      services.push(service);
    }

    const rules: string[] = [];
    for (const family of [4, 6] as const) {
      for (const rule of await listRules(root, family)) {
        if (rule.attributes.protocol === config.routeProtocol) {
          rules.push(`${rule.attributes.priority ?? 0}: from ${rule.attributes.src ?? 'all'}/${rule.srcLength} to ${rule.attributes.dst ?? 'all'}/${rule.dstLength} ${ruleActionName(rule.action)}`);
        }
      }
    }

    const missingCount = services.reduce((count, service) => count + service.missing.length, 0);
    const anything = services.some((service) => service.exists || service.hostLink);
    let overall: TopologyStatus['state'] = 'down';
    if (missingCount === 0) overall = 'up';
    else if (anything) overall = 'partial';
    return {
      state: overall,
      uplink: await findUplink(root, config.uplink).catch(() => null),
      services,
      rules,
    };
  } finally {
    await root.close();
  }
}

async function readNamespace(service: ServiceStatus, uplink: string, wireguardInterface: string | undefined): Promise<void> {
  const ns = await openNamedNamespace(service.namespace);
  try {
    service.links = await linkStatuses(ns);
    for (const wanted of [uplink, ...(wireguardInterface ? [wireguardInterface] : [])]) {
      const link = service.links.find((candidate) => candidate.name === wanted);
      if (!link) service.missing.push(`link ${wanted} in ${service.namespace}`);
      else if (!link.up) service.missing.push(`link ${wanted} in ${service.namespace} is down`);
    }

    const indexToName = new Map(service.links.map((link) => [link.index, link.name]));
    const defaults = new Set<number>();
    for (const route of await listRoutes(ns)) {
      if (routeTableOf(route) !== RT_TABLE_MAIN) continue;
      if (route.dstLength === 0) defaults.add(route.family);
      const destination = route.dstLength === 0 ? 'default' : `${route.attributes.dst}/${route.dstLength}`;
      const via = route.attributes.gateway ? ` via ${route.attributes.gateway}` : '';
      const dev = route.attributes.oif !== undefined ? ` dev ${indexToName.get(route.attributes.oif) ?? route.attributes.oif}` : '';
      service.routes.push(`${destination}${via}${dev}`);
    }
    if (!defaults.has(AF_INET)) service.missing.push(`IPv4 default route in ${service.namespace}`);
    if (!defaults.has(AF_INET6)) service.missing.push(`IPv6 default route in ${service.namespace}`);
  } finally {
    await ns.close();
  }
}

async function linkStatuses(ns: NetnsHandle): Promise<LinkStatus[]> {
  const links = await listLinks(ns);
  const addresses = await listAddresses(ns);
  return links.map((link) => ({
    index: link.index,
    name: link.attributes.ifname ?? `#${link.index}`,
    kind: link.attributes.linkinfo?.kind ?? null,
    up: (link.flags & IFF_UP) !== 0,
    lowerUp: (link.flags & IFF_LOWER_UP) !== 0,
    addresses: addresses.filter((address) => address.index === link.index).map((address) => `${addressText(address)}/${address.prefixLength}`),
  }));
}
