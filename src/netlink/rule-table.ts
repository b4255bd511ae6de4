/** Attribute table of policy routing rules (RTM_NEWRULE and friends): FRA_*. */
import { defineTable } from './attributes.js';

export const ruleTable = defineTable('fib-rule-attrs', [
  // The spec types these as u32; for IPv4 and IPv6 rules they carry a 4- or 16-byte address.
  { type: 1, name: 'dst', kind: 'address' },
  { type: 2, name: 'src', kind: 'address' },
  { type: 3, name: 'iifname', kind: 'string' },
  { type: 4, name: 'goto', kind: 'u32' },
  { type: 6, name: 'priority', kind: 'u32' },
  { type: 10, name: 'fwmark', kind: 'u32' },
  { type: 11, name: 'flow', kind: 'u32' },
  { type: 12, name: 'tun-id', kind: 'u64' },
  { type: 13, name: 'suppress-ifgroup', kind: 'u32' },
  { type: 14, name: 'suppress-prefixlen', kind: 'u32' },
  { type: 15, name: 'table', kind: 'u32' },
  { type: 16, name: 'fwmask', kind: 'u32' },
  { type: 17, name: 'oifname', kind: 'string' },
  { type: 19, name: 'l3mdev', kind: 'u8' },
  { type: 20, name: 'uid-range', kind: 'binary' },
  { type: 21, name: 'protocol', kind: 'u8' },
  { type: 22, name: 'ip-proto', kind: 'u8' },
  { type: 23, name: 'sport-range', kind: 'binary' },
  { type: 24, name: 'dport-range', kind: 'binary' },
]);
