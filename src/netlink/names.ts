/** Names of message types, for logs and errors. */
import * as c from './constants.js';

const MESSAGE_TYPE_NAMES = new Map<number, string>([
  [c.NLMSG_NOOP, 'NLMSG_NOOP'],
  [c.NLMSG_ERROR, 'NLMSG_ERROR'],
  [c.NLMSG_DONE, 'NLMSG_DONE'],
  [c.NLMSG_OVERRUN, 'NLMSG_OVERRUN'],
  [c.RTM_NEWLINK, 'RTM_NEWLINK'],
  [c.RTM_DELLINK, 'RTM_DELLINK'],
  [c.RTM_GETLINK, 'RTM_GETLINK'],
  [c.RTM_SETLINK, 'RTM_SETLINK'],
  [c.RTM_NEWADDR, 'RTM_NEWADDR'],
  [c.RTM_DELADDR, 'RTM_DELADDR'],
  [c.RTM_GETADDR, 'RTM_GETADDR'],
  [c.RTM_NEWROUTE, 'RTM_NEWROUTE'],
  [c.RTM_DELROUTE, 'RTM_DELROUTE'],
  [c.RTM_GETROUTE, 'RTM_GETROUTE'],
  [c.RTM_NEWRULE, 'RTM_NEWRULE'],
  [c.RTM_DELRULE, 'RTM_DELRULE'],
  [c.RTM_GETRULE, 'RTM_GETRULE'],
  [c.RTM_NEWNSID, 'RTM_NEWNSID'],
  [c.RTM_DELNSID, 'RTM_DELNSID'],
  [c.RTM_GETNSID, 'RTM_GETNSID'],
]);

/** Returns "RTM_NEWLINK" for 16, and "unknown(N)" for a type this library does not name. */
export function messageTypeName(type: number): string {
  return MESSAGE_TYPE_NAMES.get(type) ?? `unknown(${type})`;
}

/** Returns `names[value]`, or the number as text for a value the map lacks, as iproute2 prints one. */
function nameOr(names: Readonly<Record<number, string>>, value: number): string {
  return names[value] ?? String(value);
}

// The names below are the ones iproute2 prints (lib/rt_names.c, ip/ipaddress.c and
// ip/iproute.c in iproute2 6.1, with its default /etc/iproute2 tables).

const SCOPES: Readonly<Record<number, string>> = { 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' };
const TABLES: Readonly<Record<number, string>> = { 0: 'unspec', 253: 'default', 254: 'main', 255: 'local' };
const PROTOCOLS: Readonly<Record<number, string>> = {
  0: 'unspec',
  1: 'redirect',
  2: 'kernel',
  3: 'boot',
  4: 'static',
  8: 'gated',
  9: 'ra',
  10: 'mrt',
  11: 'zebra',
  12: 'bird',
  13: 'dnrouted',
  14: 'xorp',
  15: 'ntk',
  16: 'dhcp',
  18: 'keepalived',
  42: 'babel',
  99: 'openr',
  186: 'bgp',
  187: 'isis',
  188: 'ospf',
  189: 'rip',
  192: 'eigrp',
};
const ROUTE_TYPES: Readonly<Record<number, string>> = {
  0: 'none',
  1: 'unicast',
  2: 'local',
  3: 'broadcast',
  4: 'anycast',
  5: 'multicast',
  6: 'blackhole',
  7: 'unreachable',
  8: 'prohibit',
  9: 'throw',
  10: 'nat',
  11: 'xresolve',
};
const RULE_ACTIONS: Readonly<Record<number, string>> = { 1: 'lookup', 2: 'goto', 3: 'nop', 6: 'blackhole', 7: 'unreachable', 8: 'prohibit' };
const OPERSTATES: Readonly<Record<number, string>> = {
  0: 'UNKNOWN',
  1: 'NOTPRESENT',
  2: 'DOWN',
  3: 'LOWERLAYERDOWN',
  4: 'TESTING',
  5: 'DORMANT',
  6: 'UP',
};
const LINK_TYPES: Readonly<Record<number, string>> = {
  0: 'netrom',
  1: 'ether',
  512: 'ppp',
  768: 'ipip',
  769: 'tunnel6',
  772: 'loopback',
  776: 'sit',
  778: 'gre',
  823: 'ip6gre',
  65534: 'none',
  65535: 'void',
};

/** Returns iproute2's name of an RT_SCOPE_* value ("link"). */
export function scopeName(scope: number): string {
  return nameOr(SCOPES, scope);
}

/** Returns iproute2's name of a routing table id ("main"). */
export function routeTableName(table: number): string {
  return nameOr(TABLES, table);
}

/** Returns iproute2's name of an RTPROT_* value ("kernel"). */
export function protocolName(protocol: number): string {
  return nameOr(PROTOCOLS, protocol);
}

/** Returns iproute2's name of an RTN_* route type ("unreachable"). */
export function routeTypeName(type: number): string {
  return nameOr(ROUTE_TYPES, type);
}

/** Returns iproute2's name of an FR_ACT_* rule action ("prohibit"). */
export function ruleActionName(action: number): string {
  return nameOr(RULE_ACTIONS, action);
}

/** Returns iproute2's name of an IF_OPER_* state ("UP"). */
export function operstateName(state: number): string {
  return nameOr(OPERSTATES, state);
}

/** Returns iproute2's name of an ARPHRD_* hardware type ("ether"), or "[N]" as iproute2 prints unknown ones. */
export function linkTypeName(type: number): string {
  return LINK_TYPES[type] ?? `[${type}]`;
}

/** IFF_* flags in the order iproute2 prints them (print_link_flags in ip/ipaddress.c). */
const LINK_FLAGS: readonly [string, number][] = [
  ['LOOPBACK', 0x8],
  ['BROADCAST', 0x2],
  ['POINTOPOINT', 0x10],
  ['MULTICAST', 0x1000],
  ['NOARP', 0x80],
  ['ALLMULTI', 0x200],
  ['PROMISC', 0x100],
  ['MASTER', 0x400],
  ['SLAVE', 0x800],
  ['DEBUG', 0x4],
  ['DYNAMIC', 0x8000],
  ['AUTOMEDIA', 0x4000],
  ['PORTSEL', 0x2000],
  ['NOTRAILERS', 0x20],
  ['UP', 0x1],
  ['LOWER_UP', 0x10000],
  ['DORMANT', 0x20000],
  ['ECHO', 0x40000],
];

const IFF_UP = 0x1;
const IFF_RUNNING = 0x40;

/**
 * Returns the interface flags as iproute2 lists them: NO-CARRIER first for a link that is up
 * without carrier, then the names in iproute2's order. RUNNING is left out, as iproute2 does,
 * and any bits left over follow in hex.
 */
export function linkFlagNames(flags: number): string[] {
  const names: string[] = [];
  if (flags & IFF_UP && !(flags & IFF_RUNNING)) names.push('NO-CARRIER');
  let rest = flags & ~IFF_RUNNING;
  for (const [name, bit] of LINK_FLAGS) {
    if (rest & bit) names.push(name);
    rest &= ~bit;
  }
  if (rest !== 0) names.push(`0x${(rest >>> 0).toString(16)}`);
  return names;
}

/** rtm_flags in the order iproute2 prints them (print_rt_flags in ip/iproute.c). */
const ROUTE_FLAGS: readonly [string, number][] = [
  ['dead', 0x1], // RTNH_F_DEAD
  ['onlink', 0x4], // RTNH_F_ONLINK
  ['pervasive', 0x2], // RTNH_F_PERVASIVE
  ['offload', 0x8], // RTNH_F_OFFLOAD
  ['trap', 0x40], // RTNH_F_TRAP
  ['notify', 0x100], // RTM_F_NOTIFY
  ['linkdown', 0x10], // RTNH_F_LINKDOWN
  ['unresolved', 0x20], // RTNH_F_UNRESOLVED
  ['rt_offload', 0x4000], // RTM_F_OFFLOAD
  ['rt_trap', 0x8000], // RTM_F_TRAP
];

/** Returns the route flags iproute2 prints for `flags` (rtm_flags); other bits are left out, as iproute2 does. */
export function routeFlagNames(flags: number): string[] {
  return ROUTE_FLAGS.filter(([, bit]) => flags & bit).map(([name]) => name);
}
