/**
 * Names what sits at a byte offset of a request, so that the offset the kernel reports in
 * an extended acknowledgement reads as "link-attrs: linkinfo (18) > kind (1)".
 */
import { NLA_HDRLEN, NLA_TYPE_MASK, NLMSG_HDRLEN, nlaAlign } from './align.js';
import { addressTable } from './address-table.js';
import type { AttributeTable } from './attributes.js';
import { RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_NEWRULE } from './constants.js';
import { linkTable } from './link-table.js';
import { routeTable } from './route-table.js';
import { ruleTable } from './rule-table.js';
import { fibRuleHdr, ifaddrmsg, ifinfomsg, rtmsg } from './structs.js';

interface Layout {
  structName: string;
  structSize: number;
  table: AttributeTable;
}

// rtnetlink groups its message types in fours (NEW, DEL, GET, SET) that share a body layout.
const LAYOUTS = new Map<number, Layout>([
  [RTM_NEWLINK, { structName: 'ifinfomsg', structSize: ifinfomsg.span, table: linkTable }],
  [RTM_NEWADDR, { structName: 'ifaddrmsg', structSize: ifaddrmsg.span, table: addressTable }],
  [RTM_NEWROUTE, { structName: 'rtmsg', structSize: rtmsg.span, table: routeTable }],
  [RTM_NEWRULE, { structName: 'fib_rule_hdr', structSize: fibRuleHdr.span, table: ruleTable }],
]);

const FAMILY_SIZE = 4;

/**
 * Describes the part of `request` (a whole message, header included) at `offset`: the header,
 * the fixed struct, or the attribute path. Returns undefined when the offset lies outside.
 */
export function describeRequestOffset(request: Buffer, offset: number): string | undefined {
  if (!Number.isInteger(offset) || offset < 0 || offset >= request.length || request.length < NLMSG_HDRLEN) return undefined;
  if (offset < NLMSG_HDRLEN) return 'nlmsghdr';

  const type = request.readUInt16LE(4);
  if (type < RTM_NEWLINK) return undefined;
  const layout = LAYOUTS.get(type - ((type - RTM_NEWLINK) % FAMILY_SIZE));
  if (!layout) return undefined;
  const attributesStart = NLMSG_HDRLEN + nlaAlign(layout.structSize);
  if (offset < attributesStart) return layout.structName;

  const end = Math.min(request.length, request.readUInt32LE(0));
  const path = attributePath(request, attributesStart, end, offset, layout.table);
  return path.length === 0 ? undefined : `${layout.table.setName}: ${path.join(' > ')}`;
}

function attributePath(request: Buffer, start: number, end: number, offset: number, table: AttributeTable | undefined): string[] {
  for (let at = start; end - at >= NLA_HDRLEN; ) {
    const length = request.readUInt16LE(at);
    if (length < NLA_HDRLEN) return [];

    const type = request.readUInt16LE(at + 2) & NLA_TYPE_MASK;
    if (offset < at + length) {
      const spec = table?.byType.get(type);
      const name = spec ? `${spec.name} (${type})` : `attribute ${type}`;
      const inside = offset >= at + NLA_HDRLEN && spec?.kind === 'nested';
      return inside ? [name, ...attributePath(request, at + NLA_HDRLEN, at + length, offset, spec.nested)] : [name];
    }
    at += nlaAlign(length);
  }
  return [];
}
