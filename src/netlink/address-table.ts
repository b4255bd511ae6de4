/** Attribute table of address messages (RTM_NEWADDR and friends): IFA_*. */
import { defineTable } from './attributes.js';

export const addressTable = defineTable('addr-attrs', [
  { type: 1, name: 'address', kind: 'address' },
  { type: 2, name: 'local', kind: 'address' },
  { type: 3, name: 'label', kind: 'string' },
  { type: 4, name: 'broadcast', kind: 'address' },
  { type: 5, name: 'anycast', kind: 'address' },
  { type: 6, name: 'cacheinfo', kind: 'binary' },
  { type: 7, name: 'multicast', kind: 'address' },
  { type: 8, name: 'flags', kind: 'u32' },
  { type: 9, name: 'rt-priority', kind: 'u32' },
  {
    type: 10,
    name: 'target-netnsid',
    kind: 's32',
    differsFromSpec: 'the spec says binary, but the kernel reads a signed 32-bit namespace id (nla_get_s32)',
  },
  { type: 11, name: 'proto', kind: 'u8' },
]);
