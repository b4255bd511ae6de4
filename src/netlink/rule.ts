/**
 * Policy routing rules: RTM_NEWRULE, RTM_DELRULE, RTM_GETRULE. The body is a fib_rule_hdr
 * followed by FRA_* attributes.
 */
import { type RawAttribute } from './attributes.js';
import { decodeBody, encodeBody } from './fixed.js';
import type { Message } from './message.js';
import { ruleTable } from './rule-table.js';
import { fibRuleHdr } from './structs.js';

/** FRA_* attributes by key. */
export interface RuleAttributes {
  dst?: string;
  src?: string;
  iifname?: string;
  oifname?: string;
  goto?: number;
  priority?: number;
  fwmark?: number;
  fwmask?: number;
  table?: number;
  suppressPrefixlen?: number;
  /** RTPROT_* of the program that added the rule. */
  protocol?: number;
  unknown?: RawAttribute[];
  [key: string]: unknown;
}

/** A rule message: fib_rule_hdr fields and attributes. */
export interface RuleMessage {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  table: number;
  /** FR_ACT_*: look up a table, or prohibit, unreachable, blackhole. */
  action: number;
  flags: number;
  attributes: RuleAttributes;
}

/** Encodes the body of a rule message. */
export function encodeRule(message: RuleMessage): Buffer {
  const { attributes, ...header } = message;
  return encodeBody(fibRuleHdr, { ...header, reserved1: 0, reserved2: 0 }, ruleTable, attributes);
}

/** Decodes a rule message. */
export function decodeRule(message: Message): RuleMessage {
  const { fixed, attributes } = decodeBody(message, fibRuleHdr, 'fib_rule_hdr', ruleTable);
  return {
    family: fixed.family,
    dstLength: fixed.dstLength,
    srcLength: fixed.srcLength,
    tos: fixed.tos,
    table: fixed.table,
    action: fixed.action,
    flags: fixed.flags,
    attributes: attributes as RuleAttributes,
  };
}
