/** Attribute table of policy routing rules (RTM_NEWRULE and friends): FRA_*. */
import { defineTable } from './attributes.js';

const PREFIX_AS_ADDRESS =
  'the spec says u32, but the kernel takes a 4-byte address in IPv4 rules and a 16-byte one in IPv6 rules';

/** FRA_* attributes that the rule table leaves undecoded, each with the reason. */
export const RULE_KEPT_RAW = {
  unused2: 'a retired attribute number that the kernel no longer sends or reads',
  unused3: 'a retired attribute number that the kernel no longer sends or reads',
  unused4: 'a retired attribute number that the kernel no longer sends or reads',
  unused5: 'a retired attribute number that the kernel no longer sends or reads',
  pad: 'alignment padding for the 64-bit tunnel id; it carries no value',
} as const;

export const ruleTable = defineTable(
  'fib-rule-attrs',
  [
    { type: 1, name: 'dst', kind: 'address', differsFromSpec: PREFIX_AS_ADDRESS },
    { type: 2, name: 'src', kind: 'address', differsFromSpec: PREFIX_AS_ADDRESS },
    { type: 3, name: 'iifname', kind: 'string' },
    { type: 4, name: 'goto', kind: 'u32' },
    { type: 6, name: 'priority', kind: 'u32' },
    { type: 10, name: 'fwmark', kind: 'u32' },
    { type: 11, name: 'flow', kind: 'u32' },
    {
      type: 12,
      name: 'tun-id',
      kind: 'u64be',
      differsFromSpec: 'the spec says u64, but the kernel reads the tunnel id in network byte order (nla_get_be64)',
    },
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
    { type: 25, name: 'dscp', kind: 'u8' },
    { type: 26, name: 'flowlabel', kind: 'u32be' },
    { type: 27, name: 'flowlabel-mask', kind: 'u32be' },
    { type: 28, name: 'sport-mask', kind: 'u16' },
    { type: 29, name: 'dport-mask', kind: 'u16' },
    { type: 30, name: 'dscp-mask', kind: 'u8' },
  ],
  RULE_KEPT_RAW,
);
