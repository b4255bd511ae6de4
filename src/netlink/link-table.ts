/**
 * Attribute tables of link messages (RTM_NEWLINK and friends): IFLA_*, IFLA_INFO_*, and the
 * info data of the link kinds this library builds (veth, bridge).
 */
import { defineTable, type AttributeSpec } from './attributes.js';

/** enum { VETH_INFO_UNSPEC, VETH_INFO_PEER }: the peer's ifinfomsg and attributes. */
export const VETH_INFO_PEER = 1;

export const propListTable = defineTable('prop-list-link-attrs', [
  { type: 53, name: 'alt-ifname', kind: 'string', repeated: true },
]);

/**
 * IFLA_INFO_*. `data` and `slave-data` depend on the kind, so the generic walk keeps them as
 * bytes and link.ts decodes them with the kind's table.
 */
export const linkInfoTable = defineTable('linkinfo-attrs', [
  { type: 1, name: 'kind', kind: 'string', terminated: false },
  { type: 2, name: 'data', kind: 'nested' },
  { type: 3, name: 'xstats', kind: 'binary' },
  { type: 4, name: 'slave-kind', kind: 'string', terminated: false },
  { type: 5, name: 'slave-data', kind: 'nested' },
]);

/** IFLA_VETH_*: the peer is a whole link message body, decoded by link.ts. */
export const vethInfoTable = defineTable('linkinfo-veth-attrs', [{ type: VETH_INFO_PEER, name: 'peer', kind: 'binary' }]);

/** IFLA_BR_*: the bridge's own settings. Attributes not listed are kept raw. */
export const bridgeInfoTable = defineTable('linkinfo-bridge-attrs', [
  { type: 1, name: 'forward-delay', kind: 'u32' },
  { type: 2, name: 'hello-time', kind: 'u32' },
  { type: 3, name: 'max-age', kind: 'u32' },
  { type: 4, name: 'ageing-time', kind: 'u32' },
  { type: 5, name: 'stp-state', kind: 'u32' },
  { type: 6, name: 'priority', kind: 'u16' },
  { type: 7, name: 'vlan-filtering', kind: 'u8' },
  // The kernel writes the VLAN protocol in network byte order (nla_put_be16).
  { type: 8, name: 'vlan-protocol', kind: 'u16be' },
  { type: 9, name: 'group-fwd-mask', kind: 'u16' },
  { type: 10, name: 'root-id', kind: 'binary' },
  { type: 11, name: 'bridge-id', kind: 'binary' },
  { type: 12, name: 'root-port', kind: 'u16' },
  { type: 13, name: 'root-path-cost', kind: 'u32' },
  { type: 14, name: 'topology-change', kind: 'u8' },
  { type: 15, name: 'topology-change-detected', kind: 'u8' },
  { type: 16, name: 'hello-timer', kind: 'u64' },
  { type: 17, name: 'tcn-timer', kind: 'u64' },
  { type: 18, name: 'topology-change-timer', kind: 'u64' },
  { type: 19, name: 'gc-timer', kind: 'u64' },
  { type: 20, name: 'group-addr', kind: 'binary' },
  { type: 22, name: 'mcast-router', kind: 'u8' },
  { type: 23, name: 'mcast-snooping', kind: 'u8' },
  { type: 24, name: 'mcast-query-use-ifaddr', kind: 'u8' },
  { type: 25, name: 'mcast-querier', kind: 'u8' },
  { type: 39, name: 'vlan-default-pvid', kind: 'u16' },
  { type: 41, name: 'vlan-stats-enabled', kind: 'u8' },
  { type: 42, name: 'mcast-stats-enabled', kind: 'u8' },
]);

const linkSpecs: AttributeSpec[] = [
  { type: 1, name: 'address', kind: 'hwaddr' },
  { type: 2, name: 'broadcast', kind: 'hwaddr' },
  { type: 3, name: 'ifname', kind: 'string' },
  { type: 4, name: 'mtu', kind: 'u32' },
  { type: 5, name: 'link', kind: 'u32' },
  { type: 6, name: 'qdisc', kind: 'string' },
  { type: 7, name: 'stats', kind: 'binary' },
  { type: 10, name: 'master', kind: 'u32' },
  { type: 13, name: 'txqlen', kind: 'u32' },
  { type: 14, name: 'map', kind: 'binary' },
  { type: 15, name: 'weight', kind: 'u32' },
  { type: 16, name: 'operstate', kind: 'u8' },
  { type: 17, name: 'linkmode', kind: 'u8' },
  { type: 18, name: 'linkinfo', kind: 'nested', nested: linkInfoTable },
  { type: 19, name: 'net-ns-pid', kind: 'u32' },
  { type: 20, name: 'ifalias', kind: 'string' },
  { type: 21, name: 'num-vf', kind: 'u32' },
  { type: 23, name: 'stats64', kind: 'binary' },
  { type: 26, name: 'af-spec', kind: 'nested' },
  { type: 27, name: 'group', kind: 'u32' },
  { type: 28, name: 'net-ns-fd', kind: 'u32' },
  { type: 29, name: 'ext-mask', kind: 'u32' },
  { type: 30, name: 'promiscuity', kind: 'u32' },
  { type: 31, name: 'num-tx-queues', kind: 'u32' },
  { type: 32, name: 'num-rx-queues', kind: 'u32' },
  { type: 33, name: 'carrier', kind: 'u8' },
  { type: 34, name: 'phys-port-id', kind: 'binary' },
  { type: 35, name: 'carrier-changes', kind: 'u32' },
  { type: 36, name: 'phys-switch-id', kind: 'binary' },
  { type: 37, name: 'link-netnsid', kind: 's32' },
  { type: 38, name: 'phys-port-name', kind: 'string' },
  { type: 39, name: 'proto-down', kind: 'u8' },
  { type: 40, name: 'gso-max-segs', kind: 'u32' },
  { type: 41, name: 'gso-max-size', kind: 'u32' },
  { type: 43, name: 'xdp', kind: 'nested' },
  { type: 44, name: 'event', kind: 'u32' },
  { type: 45, name: 'new-netnsid', kind: 's32' },
  { type: 46, name: 'target-netnsid', kind: 's32' },
  { type: 47, name: 'carrier-up-count', kind: 'u32' },
  { type: 48, name: 'carrier-down-count', kind: 'u32' },
  { type: 49, name: 'new-ifindex', kind: 's32' },
  { type: 50, name: 'min-mtu', kind: 'u32' },
  { type: 51, name: 'max-mtu', kind: 'u32' },
  { type: 52, name: 'prop-list', kind: 'nested', nested: propListTable },
  { type: 53, name: 'alt-ifname', kind: 'string', repeated: true },
  { type: 54, name: 'perm-address', kind: 'hwaddr' },
  { type: 56, name: 'parent-dev-name', kind: 'string' },
  { type: 57, name: 'parent-dev-bus-name', kind: 'string' },
  { type: 58, name: 'gro-max-size', kind: 'u32' },
  { type: 59, name: 'tso-max-size', kind: 'u32' },
  { type: 60, name: 'tso-max-segs', kind: 'u32' },
  { type: 61, name: 'allmulti', kind: 'u32' },
  { type: 63, name: 'gso-ipv4-max-size', kind: 'u32' },
  { type: 64, name: 'gro-ipv4-max-size', kind: 'u32' },
];

/** IFLA_*: the attributes of a link message. */
export const linkTable = defineTable('link-attrs', linkSpecs);
