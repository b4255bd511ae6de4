/**
 * A namespace's links, addresses, routes and rules as plain objects whose field names and
 * values follow `ip -j -d` (iproute2 6.1), and as one-line text. `algo-netns show` prints
 * them, and `algo-netns watch` formats each event with the same functions.
 */
import { AF_INET, AF_INET6, IFA_F_PERMANENT, IFA_F_SECONDARY, IFF_UP } from '../netlink/constants.js';
import type { AddressMessage } from '../netlink/address.js';
import { formatHardwareAddress } from '../netlink/ip.js';
import { bridgeInfoTable } from '../netlink/link-table.js';
import type { LinkMessage } from '../netlink/link.js';
import {
  linkFlagNames,
  linkTypeName,
  operstateName,
  protocolName,
  routeFlagNames,
  routeTableName,
  routeTypeName,
  ruleActionName,
  scopeName,
} from '../netlink/names.js';
import { routeTableOf, type RouteMessage } from '../netlink/route.js';
import type { RuleMessage } from '../netlink/rule.js';
import { listAddresses } from './addresses.js';
import type { NetnsHandle } from './handle.js';
import { listLinks } from './links.js';
import { listRoutes } from './routes.js';
import { listRules } from './rules.js';

/** The links of a namespace by index, for the `dev`, `master` and `link` fields. */
export type LinksByIndex = ReadonlyMap<number, LinkMessage>;

/** A link as `ip -j -d link show` prints it; only the fields the kernel sent are present. */
export type LinkView = Record<string, unknown> & { ifindex: number; ifname?: string; flags: string[] };

/** One address as an entry of `addr_info` in `ip -j addr show`. */
export type AddressView = Record<string, unknown> & { family: string; local?: string; prefixlen: number; scope: string };

/** A link with its addresses, as `ip -j addr show` prints it. */
export type AddressLinkView = LinkView & { addr_info: AddressView[] };

/** A route as `ip -j route show table all` prints it, with table, protocol and scope always present. */
export type RouteView = Record<string, unknown> & { dst: string; table: string; protocol: string; scope: string; type: string };

/** A rule as `ip -j rule show` prints it, with the action and protocol always present. */
export type RuleView = Record<string, unknown> & { priority: number; src: string; action: string };

const IFA_FLAG_NAMES: readonly [string, number][] = [
  ['nodad', 0x02],
  ['optimistic', 0x04],
  ['dadfailed', 0x08],
  ['home', 0x10],
  ['deprecated', 0x20],
  ['tentative', 0x40],
  ['mngtmpaddr', 0x100],
  ['noprefixroute', 0x200],
  ['autojoin', 0x400],
  ['stable-privacy', 0x800],
];

/** Returns `links` by index. */
export function indexLinks(links: readonly LinkMessage[]): Map<number, LinkMessage> {
  return new Map(links.map((link) => [link.index, link]));
}

/** Returns the name of the link with `index`, or "ifN" as iproute2 prints an index it cannot name. */
export function linkName(links: LinksByIndex, index: number): string {
  return links.get(index)?.attributes.ifname ?? `if${index}`;
}

/** Returns a link as `ip -j -d link show` prints it. */
export function linkView(link: LinkMessage, links: LinksByIndex): LinkView {
  const a = link.attributes;
  const flags = linkFlagNames(link.flags);
  const view: Record<string, unknown> = { ifindex: link.index };

  if (a.link !== undefined) {
    // A peer in another namespace is known by index only, as iproute2 prints it. For one
    // in this namespace iproute2 adds M-DOWN to the flags while the peer is down.
    if (a.link === 0) view.link = null;
    else if (a.linkNetnsid !== undefined) view.link_index = a.link;
    else {
      view.link = linkName(links, a.link);
      const peer = links.get(a.link);
      if (peer && !(peer.flags & IFF_UP)) flags.push('M-DOWN');
    }
  }
  assign(view, 'ifname', a.ifname);
  view.flags = flags;
  assign(view, 'mtu', a.mtu);
  assign(view, 'qdisc', a.qdisc);
  if (a.master !== undefined) view.master = linkName(links, a.master);
  if (a.operstate !== undefined) view.operstate = operstateName(a.operstate);
  if (a.linkmode !== undefined) view.linkmode = a.linkmode === 1 ? 'DORMANT' : 'DEFAULT';
  if (a.group !== undefined) view.group = a.group === 0 ? 'default' : String(a.group);
  assign(view, 'txqlen', a.txqlen);
  view.link_type = linkTypeName(link.deviceType);
  assign(view, 'address', a.address);
  assign(view, 'broadcast', a.broadcast);
  assign(view, 'link_netnsid', a.linkNetnsid);
  assign(view, 'ifalias', a.ifalias);
  assign(view, 'promiscuity', a.promiscuity);
  assign(view, 'allmulti', a.allmulti);
  assign(view, 'min_mtu', a.minMtu);
  assign(view, 'max_mtu', a.maxMtu);
  if (a.linkinfo) view.linkinfo = linkInfoView(link);
  assign(view, 'num_tx_queues', a.numTxQueues);
  assign(view, 'num_rx_queues', a.numRxQueues);
  assign(view, 'gso_max_size', a.gsoMaxSize);
  assign(view, 'gso_max_segs', a.gsoMaxSegs);
  assign(view, 'tso_max_size', a.tsoMaxSize);
  assign(view, 'tso_max_segs', a.tsoMaxSegs);
  assign(view, 'gro_max_size', a.groMaxSize);
  return view as LinkView;
}

// iproute2 prints these bridge timers in seconds with two decimals, so they are left out
// rather than shown in another unit under the same name. So are the bridge ids, which it
// prints in a format of its own.
const BRIDGE_LEFT_OUT = new Set(['hello-timer', 'tcn-timer', 'topology-change-timer', 'gc-timer', 'root-id', 'bridge-id']);
const VLAN_PROTOCOLS: Readonly<Record<number, string>> = { 0x8100: '802.1Q', 0x88a8: '802.1ad' };

// ICMPV6_ROUTER_PREF_* of RTA_PREF; iproute2 prints any other value as "medium".
const ROUTE_PREFERENCES: Readonly<Record<number, string>> = { 0: 'medium', 1: 'high', 3: 'low' };

function familyName(family: number): string {
  if (family === AF_INET) return 'inet';
  if (family === AF_INET6) return 'inet6';
  return String(family);
}

function linkInfoView(link: LinkMessage): Record<string, unknown> {
  const info = link.attributes.linkinfo ?? {};
  const view: Record<string, unknown> = {};
  assign(view, 'info_kind', info.kind);
  if (info.kind === 'bridge' && info.data && !Buffer.isBuffer(info.data)) {
    const data = info.data as Record<string, unknown>;
    const infoData: Record<string, unknown> = {};
    for (const spec of bridgeInfoTable.specs) {
      const value = data[bridgeInfoTable.byType.get(spec.type)?.key ?? ''];
      if (value === undefined || BRIDGE_LEFT_OUT.has(spec.name)) continue;
      infoData[spec.name.replaceAll('-', '_')] = bridgeSetting(spec.name, value);
    }
    view.info_data = infoData;
  }
  assign(view, 'info_slave_kind', info.slaveKind);
  return view;
}

// Values as iproute2 prints them: the forward mask in hex ("%#x"), the VLAN protocol by
// name, the group address as hex bytes, 64-bit intervals as plain numbers.
function bridgeSetting(name: string, value: unknown): unknown {
  if (name === 'group-fwd-mask' && typeof value === 'number') return value === 0 ? '0' : `0x${value.toString(16)}`;
  if (name === 'vlan-protocol' && typeof value === 'number') return VLAN_PROTOCOLS[value] ?? String(value);
  if (Buffer.isBuffer(value)) return formatHardwareAddress(value);
  if (typeof value === 'bigint') return Number(value);
  return value;
}

/** Returns one address as `ip -j addr show` prints it in `addr_info`. */
export function addressView(address: AddressMessage): AddressView {
  const a = address.attributes;
  const view: AddressView = { family: familyName(address.family), prefixlen: address.prefixLength, scope: scopeName(address.scope) };

  // With a peer (point-to-point) IFA_ADDRESS is the peer; iproute2 then prints both.
  view.local = a.local ?? a.address;
  if (a.local !== undefined && a.address !== undefined && a.address !== a.local) view.address = a.address;
  assign(view, 'broadcast', a.broadcast);

  const flags = a.flags ?? address.flags;
  if (flags & IFA_F_SECONDARY) view[address.family === AF_INET6 ? 'temporary' : 'secondary'] = true;
  for (const [name, bit] of IFA_FLAG_NAMES) if (flags & bit) view[name] = true;
  if (!(flags & IFA_F_PERMANENT)) view.dynamic = true;

  assign(view, 'label', a.label);
  if (a.cacheinfo) {
    view.valid_life_time = a.cacheinfo.valid;
    view.preferred_life_time = a.cacheinfo.preferred;
  }
  return view;
}

/** Returns a route as `ip -j route show table all` prints it, with every field filled. */
export function routeView(route: RouteMessage, links: LinksByIndex): RouteView {
  const a = route.attributes;
  const hostLength = route.family === AF_INET6 ? 128 : 32;
  let dst = 'default';
  if (a.dst !== undefined) dst = route.dstLength === hostLength ? a.dst : `${a.dst}/${route.dstLength}`;
  else if (route.dstLength > 0) dst = `0/${route.dstLength}`;

  const view: RouteView = {
    type: routeTypeName(route.type),
    dst,
    table: routeTableName(routeTableOf(route)),
    protocol: protocolName(route.protocol),
    scope: scopeName(route.scope),
  };
  if (a.src !== undefined) view.src = route.srcLength === hostLength ? a.src : `${a.src}/${route.srcLength}`;
  assign(view, 'gateway', a.gateway);
  if (a.oif !== undefined) view.dev = linkName(links, a.oif);
  assign(view, 'prefsrc', a.prefsrc);
  assign(view, 'metric', a.priority);
  view.flags = routeFlagNames(route.flags);
  if (a.pref !== undefined) view.pref = ROUTE_PREFERENCES[a.pref] ?? 'medium';
  assign(view, 'expires', a.expires);
  return view;
}

/** Returns a rule as `ip -j rule show` prints it, with the action and protocol always present. */
export function ruleView(rule: RuleMessage): RuleView {
  const a = rule.attributes;
  const hostLength = rule.family === AF_INET6 ? 128 : 32;
  const view: RuleView = { priority: a.priority ?? 0, src: a.src ?? 'all', action: ruleActionName(rule.action) };

  if (a.src !== undefined && rule.srcLength !== hostLength) view.srclen = rule.srcLength;
  if (a.dst !== undefined) {
    view.dst = a.dst;
    if (rule.dstLength !== hostLength) view.dstlen = rule.dstLength;
  }
  if (a.fwmark !== undefined) view.fwmark = `0x${a.fwmark.toString(16)}`;
  if (a.fwmask !== undefined && a.fwmask !== 0xffffffff) view.fwmask = `0x${a.fwmask.toString(16)}`;
  assign(view, 'iif', a.iifname);
  assign(view, 'oif', a.oifname);
  if (rule.action === 1) view.table = routeTableName(a.table ?? rule.table);
  assign(view, 'goto', a.goto);
  if (a.protocol !== undefined) view.protocol = protocolName(a.protocol);
  return view;
}

/** Reads every link. Like `ip -j -d link show`. */
export async function showLinks(ns: NetnsHandle): Promise<LinkView[]> {
  const links = await listLinks(ns);
  const byIndex = indexLinks(links);
  return links.map((link) => linkView(link, byIndex));
}

/** Reads every link with its addresses. Like `ip -j addr show`. */
export async function showAddresses(ns: NetnsHandle): Promise<AddressLinkView[]> {
  const links = await listLinks(ns);
  const addresses = await listAddresses(ns);
  const byIndex = indexLinks(links);
  return links.map((link) => ({
    ...linkView(link, byIndex),
    addr_info: addresses.filter((address) => address.index === link.index).map(addressView),
  }));
}

/** Reads the routes of every table, IPv4 then IPv6. Like `ip -j route show table all` for each family. */
export async function showRoutes(ns: NetnsHandle): Promise<RouteView[]> {
  const links = indexLinks(await listLinks(ns));
  const routes = [...(await listRoutes(ns, 4)), ...(await listRoutes(ns, 6))];
  return routes.map((route) => routeView(route, links));
}

/** Reads the rules, IPv4 then IPv6. Like `ip -j rule show` and `ip -j -6 rule show`. */
export async function showRules(ns: NetnsHandle): Promise<RuleView[]> {
  const rules = [...(await listRules(ns, 4)), ...(await listRules(ns, 6))];
  return rules.map(ruleView);
}

/** Formats a link view as one line: "3: va@vb: <BROADCAST,UP> mtu 1500 state UP veth". */
export function linkLine(view: LinkView): string {
  let peer = '';
  if (typeof view.link === 'string') peer = `@${view.link}`;
  else if (view.link_index !== undefined) peer = `@if${String(view.link_index)}`;
  const parts = [`${view.ifindex}: ${view.ifname ?? '?'}${peer}: <${view.flags.join(',')}>`];
  appendField(parts, 'mtu', view.mtu);
  appendField(parts, 'master', view.master);
  appendField(parts, 'state', view.operstate);
  const kind = (view.linkinfo as { info_kind?: string } | undefined)?.info_kind;
  if (kind !== undefined) parts.push(kind);
  appendField(parts, 'link/' + String(view.link_type), view.address);
  appendField(parts, 'alias', view.ifalias);
  return parts.join(' ');
}

/** Formats an address as one line: "3: va inet 10.49.0.1/16 scope global". */
export function addressLine(view: AddressView, link: { ifindex: number; ifname?: string | undefined }): string {
  const parts = [`${link.ifindex}: ${link.ifname ?? '?'} ${view.family} ${String(view.local)}/${view.prefixlen}`];
  appendField(parts, 'peer', view.address);
  appendField(parts, 'brd', view.broadcast);
  parts.push(`scope ${view.scope}`);
  for (const flag of ['secondary', 'temporary', 'dynamic', 'nodad', 'tentative', 'deprecated', 'dadfailed', 'noprefixroute']) {
    if (view[flag] === true) parts.push(flag);
  }
  if (view.valid_life_time !== undefined) parts.push(`valid_lft ${lifetime(view.valid_life_time)} preferred_lft ${lifetime(view.preferred_life_time)}`);
  return parts.join(' ');
}

/** Formats a route as one line: "unreachable 10.0.0.0/8 table main proto boot scope global metric 0". */
export function routeLine(view: RouteView): string {
  const parts = [view.type === 'unicast' ? view.dst : `${view.type} ${view.dst}`];
  appendField(parts, 'from', view.src);
  appendField(parts, 'via', view.gateway);
  appendField(parts, 'dev', view.dev);
  parts.push(`table ${view.table}`, `proto ${view.protocol}`, `scope ${view.scope}`);
  appendField(parts, 'src', view.prefsrc);
  appendField(parts, 'metric', view.metric);
  return parts.join(' ');
}

/** Formats a rule as one line: "100: from 10.48.0.0/16 to 10.49.0.0/16 prohibit proto static". */
export function ruleLine(view: RuleView): string {
  const from = view.srclen === undefined ? view.src : `${view.src}/${String(view.srclen)}`;
  const parts = [`${view.priority}: from ${from}`];
  if (view.dst !== undefined) parts.push(`to ${String(view.dst)}${view.dstlen === undefined ? '' : `/${String(view.dstlen)}`}`);
  if (view.fwmark !== undefined) parts.push(`fwmark ${String(view.fwmark)}${view.fwmask === undefined ? '' : `/${String(view.fwmask)}`}`);
  appendField(parts, 'iif', view.iif);
  appendField(parts, 'oif', view.oif);
  parts.push(view.action === 'lookup' ? `lookup ${String(view.table)}` : view.action);
  appendField(parts, 'proto', view.protocol);
  return parts.join(' ');
}

function lifetime(seconds: unknown): string {
  return seconds === 0xffffffff ? 'forever' : `${String(seconds)}sec`;
}

function appendField(parts: string[], name: string, value: unknown): void {
  if (value !== undefined) parts.push(`${name} ${String(value)}`);
}

function assign(view: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) view[key] = value;
}
