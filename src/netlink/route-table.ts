/** Attribute tables of route messages (RTM_NEWROUTE and friends): RTA_* and RTAX_*. */
import { defineTable } from './attributes.js';

const PORT_BYTE_ORDER = 'the spec says u16, but the kernel reads ports in network byte order (nla_get_be16)';

/** RTAX_*: per-route metrics inside RTA_METRICS. */
export const metricsTable = defineTable('metrics', [
  { type: 1, name: 'lock', kind: 'u32' },
  { type: 2, name: 'mtu', kind: 'u32' },
  { type: 3, name: 'window', kind: 'u32' },
  { type: 4, name: 'rtt', kind: 'u32' },
  { type: 5, name: 'rttvar', kind: 'u32' },
  { type: 6, name: 'ssthresh', kind: 'u32' },
  { type: 7, name: 'cwnd', kind: 'u32' },
  { type: 8, name: 'advmss', kind: 'u32' },
  { type: 9, name: 'reordering', kind: 'u32' },
  { type: 10, name: 'hoplimit', kind: 'u32' },
  { type: 11, name: 'initcwnd', kind: 'u32' },
  { type: 12, name: 'features', kind: 'u32' },
  { type: 13, name: 'rto-min', kind: 'u32' },
  { type: 14, name: 'initrwnd', kind: 'u32' },
  { type: 15, name: 'quickack', kind: 'u32' },
  { type: 16, name: 'cc-algo', kind: 'string' },
  { type: 17, name: 'fastopen-no-cookie', kind: 'u32' },
]);

/** RTA_* attributes that the route table leaves undecoded, each with the reason. */
export const ROUTE_KEPT_RAW = {
  protoinfo: 'reserved in rtnetlink.h, but no kernel code sends or reads it',
  session: 'reserved in rtnetlink.h, but no kernel code sends or reads it',
  'mp-algo': 'reserved in rtnetlink.h, but no kernel code sends or reads it',
  pad: 'alignment padding for 64-bit values; it carries no value',
} as const;

export const routeTable = defineTable(
  'route-attrs',
  [
    { type: 1, name: 'dst', kind: 'address' },
    { type: 2, name: 'src', kind: 'address' },
    { type: 3, name: 'iif', kind: 'u32' },
    { type: 4, name: 'oif', kind: 'u32' },
    { type: 5, name: 'gateway', kind: 'address' },
    { type: 6, name: 'priority', kind: 'u32' },
    { type: 7, name: 'prefsrc', kind: 'address' },
    { type: 8, name: 'metrics', kind: 'nested', nested: metricsTable },
    { type: 9, name: 'multipath', kind: 'binary' },
    { type: 11, name: 'flow', kind: 'u32' },
    { type: 12, name: 'cacheinfo', kind: 'binary' },
    { type: 15, name: 'table', kind: 'u32' },
    { type: 16, name: 'mark', kind: 'u32' },
    { type: 17, name: 'mfc-stats', kind: 'binary' },
    { type: 18, name: 'via', kind: 'binary' },
    { type: 19, name: 'newdst', kind: 'binary' },
    { type: 20, name: 'pref', kind: 'u8' },
    { type: 21, name: 'encap-type', kind: 'u16' },
    { type: 22, name: 'encap', kind: 'binary' },
    { type: 23, name: 'expires', kind: 'u32' },
    { type: 25, name: 'uid', kind: 'u32' },
    { type: 26, name: 'ttl-propagate', kind: 'u8' },
    { type: 27, name: 'ip-proto', kind: 'u8' },
    { type: 28, name: 'sport', kind: 'u16be', differsFromSpec: PORT_BYTE_ORDER },
    { type: 29, name: 'dport', kind: 'u16be', differsFromSpec: PORT_BYTE_ORDER },
    { type: 30, name: 'nh-id', kind: 'u32' },
    { type: 31, name: 'flowlabel', kind: 'u32be' },
  ],
  ROUTE_KEPT_RAW,
);
