/**
 * Attribute tables of link messages (RTM_NEWLINK and friends): IFLA_*, IFLA_INFO_*, and the
 * info data of the link kinds this library builds (veth, bridge).
 */
import { defineTable, type AttributeSpec } from './attributes.js';

/** enum { VETH_INFO_UNSPEC, VETH_INFO_PEER }: the peer's ifinfomsg and attributes. */
export const VETH_INFO_PEER = 1;

// iproute2 sets NLA_F_NESTED on IFLA_PROP_LIST, so encoding does too.
export const propListTable = defineTable('prop-list-link-attrs', [
  { type: 53, name: 'alt-ifname', kind: 'string', repeated: true },
]);

/**
 * IFLA_INFO_*. `data` and `slave-data` depend on the kind, so the generic walk keeps them as
 * bytes and link.ts decodes them with the kind's table.
 */
export const linkInfoTable = defineTable('linkinfo-attrs', [
  // iproute2 sends the kind without a NUL; decoding accepts either form.
  { type: 1, name: 'kind', kind: 'string', terminated: false },
  { type: 2, name: 'data', kind: 'nested' },
  { type: 3, name: 'xstats', kind: 'binary' },
  { type: 4, name: 'slave-kind', kind: 'string', terminated: false },
  { type: 5, name: 'slave-data', kind: 'nested' },
]);

/**
 * VETH_INFO_*: the peer is a whole link message body, decoded by link.ts. The kernel's
 * rt-link.yaml has no veth set, so this one is held against include/uapi/linux/veth.h only.
 */
export const vethInfoTable = defineTable('linkinfo-veth-attrs', [{ type: VETH_INFO_PEER, name: 'peer', kind: 'binary' }]);

/** IFLA_BR_* attributes that the bridge table leaves undecoded, each with the reason. */
export const BRIDGE_KEPT_RAW = {
  'fdb-flush': 'a request-only nest that flushes the forwarding database; the kernel never sends it',
  pad: 'alignment padding for the 64-bit timers; it carries no value',
  'multi-boolopt': 'struct br_boolopt_multi, a pair of bit masks that no caller reads yet',
  'mcast-querier-state': 'a nest of per-family querier addresses and ports that no caller reads yet',
} as const;

/** IFLA_BR_*: the bridge's own settings. */
export const bridgeInfoTable = defineTable(
  'linkinfo-bridge-attrs',
  [
    { type: 1, name: 'forward-delay', kind: 'u32' },
    { type: 2, name: 'hello-time', kind: 'u32' },
    { type: 3, name: 'max-age', kind: 'u32' },
    { type: 4, name: 'ageing-time', kind: 'u32' },
    { type: 5, name: 'stp-state', kind: 'u32' },
    { type: 6, name: 'priority', kind: 'u16' },
    { type: 7, name: 'vlan-filtering', kind: 'u8' },
    {
      type: 8,
      name: 'vlan-protocol',
      kind: 'u16be',
      differsFromSpec: 'the spec says u16, but the kernel reads and writes it in network byte order (nla_get_be16, nla_put_be16)',
    },
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
    { type: 26, name: 'mcast-hash-elasticity', kind: 'u32' },
    { type: 27, name: 'mcast-hash-max', kind: 'u32' },
    { type: 28, name: 'mcast-last-member-cnt', kind: 'u32' },
    { type: 29, name: 'mcast-startup-query-cnt', kind: 'u32' },
    { type: 30, name: 'mcast-last-member-intvl', kind: 'u64' },
    { type: 31, name: 'mcast-membership-intvl', kind: 'u64' },
    { type: 32, name: 'mcast-querier-intvl', kind: 'u64' },
    { type: 33, name: 'mcast-query-intvl', kind: 'u64' },
    { type: 34, name: 'mcast-query-response-intvl', kind: 'u64' },
    { type: 35, name: 'mcast-startup-query-intvl', kind: 'u64' },
    { type: 36, name: 'nf-call-iptables', kind: 'u8' },
    { type: 37, name: 'nf-call-ip6tables', kind: 'u8' },
    { type: 38, name: 'nf-call-arptables', kind: 'u8' },
    { type: 39, name: 'vlan-default-pvid', kind: 'u16' },
    { type: 41, name: 'vlan-stats-enabled', kind: 'u8' },
    { type: 42, name: 'mcast-stats-enabled', kind: 'u8' },
    { type: 43, name: 'mcast-igmp-version', kind: 'u8' },
    { type: 44, name: 'mcast-mld-version', kind: 'u8' },
    { type: 45, name: 'vlan-stats-per-port', kind: 'u8' },
    { type: 48, name: 'fdb-n-learned', kind: 'u32' },
    { type: 49, name: 'fdb-max-learned', kind: 'u32' },
  ],
  BRIDGE_KEPT_RAW,
);

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
  // iproute2 sends the alias without a NUL; the kernel stores the bytes given and ends them.
  { type: 20, name: 'ifalias', kind: 'string', terminated: false },
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
  { type: 52, name: 'prop-list', kind: 'nested', nested: propListTable, flagged: true },
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
  { type: 67, name: 'netns-immutable', kind: 'u8' },
  { type: 68, name: 'headroom', kind: 'u16' },
  { type: 69, name: 'tailroom', kind: 'u16' },
];

/** IFLA_* attributes that the link table leaves undecoded, each with the reason. */
export const LINK_KEPT_RAW = {
  cost: 'reserved in if_link.h, but no kernel code sends or reads it',
  priority: 'reserved in if_link.h, but no kernel code sends or reads it',
  wireless: 'an opaque wireless-extensions event that only wireless drivers send',
  protinfo: 'a per-family nest (bridge port or IPv6 settings) whose layout depends on the message family',
  'vfinfo-list': 'SR-IOV virtual functions, which only SR-IOV capable NICs have',
  'vf-ports': 'SR-IOV port profiles, which only SR-IOV capable NICs have',
  'port-self': 'the SR-IOV port profile of the device itself, which only SR-IOV capable NICs have',
  pad: 'alignment padding for the 64-bit statistics; it carries no value',
  'proto-down-reason': 'a nest of reason bits (the spec calls it a string) that no caller reads yet',
  'devlink-port': 'a devlink port index, which only devlink-managed hardware has',
  'dpll-pin': 'a nest describing a DPLL clock pin, which only timing hardware has',
  'max-pacing-offload-horizon': 'a variable-width uint (4 or 8 bytes) that no caller reads yet',
} as const;

/** IFLA_*: the attributes of a link message. */
export const linkTable = defineTable('link-attrs', linkSpecs, LINK_KEPT_RAW);
