/** Idempotent policy routing rule operations. */
import {
  AF_INET,
  AF_INET6,
  FR_ACT_BLACKHOLE,
  FR_ACT_PROHIBIT,
  FR_ACT_TO_TBL,
  FR_ACT_UNREACHABLE,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELRULE,
  RTM_GETRULE,
  RTM_NEWRULE,
  RT_TABLE_MAIN,
} from '../netlink/constants.js';
import { parseAddressWithPrefix } from '../netlink/ip.js';
import type { ChangeRequest } from '../netlink/request.js';
import { decodeRule, encodeRule, type RuleAttributes, type RuleMessage } from '../netlink/rule.js';
import { LIST_DUMP_OPTIONS, makeChange, type Change, type EnsureOptions } from './change.js';
import { inNamespace, type NetnsHandle } from './handle.js';

export type RuleAction = 'lookup' | 'prohibit' | 'unreachable' | 'blackhole';

const RULE_ACTIONS: Record<RuleAction, number> = {
  lookup: FR_ACT_TO_TBL,
  prohibit: FR_ACT_PROHIBIT,
  unreachable: FR_ACT_UNREACHABLE,
  blackhole: FR_ACT_BLACKHOLE,
};

/** Returns the `ip rule` word for an FR_ACT_* action ("prohibit"), or "action N" for others. */
export function ruleActionName(action: number): string {
  const entry = Object.entries(RULE_ACTIONS).find(([, value]) => value === action);
  return entry ? entry[0] : `action ${action}`;
}

/** A rule as `ip rule` takes it. */
export interface RuleSpec {
  family: 4 | 6;
  priority: number;
  /** Source prefix ("10.49.0.0/16"). */
  from?: string;
  /** Destination prefix. */
  to?: string;
  /** Input interface name. */
  iif?: string;
  /** Output interface name. */
  oif?: string;
  action: RuleAction;
  /** Table for the "lookup" action; default main. */
  table?: number;
  /** RTPROT_* stamped on the rule (FRA_PROTOCOL). */
  protocol?: number;
}

/** Lists rules of one family. Like `ip rule show` (or `ip -6 rule show`). */
export async function listRules(ns: NetnsHandle, family: 4 | 6): Promise<RuleMessage[]> {
  const body = encodeRule(ruleBody(family === 4 ? AF_INET : AF_INET6, 0, 0, {}));
  return ns.session.dumpAll(RTM_GETRULE, body, `list IPv${family} rules${inNamespace(ns)}`, decodeRule, LIST_DUMP_OPTIONS);
}

/** Ensures the rule exists. Like `ip rule add`, but a no-op when an identical rule is there. */
export async function ensureRule(ns: NetnsHandle, spec: RuleSpec, options: EnsureOptions = {}): Promise<Change[]> {
  const wanted = buildRule(spec);
  const rules = await listRules(ns, spec.family);
  if (rules.some((rule) => sameRule(rule, wanted))) return [];

  const description = `add rule ${describeRule(spec)}${inNamespace(ns)}`;
  return makeChange(options, description, () => ns.session.applyChange(ruleRequest('add', spec), description));
}

/** Removes the rule if it exists. Like `ip rule del`. */
export async function removeRule(ns: NetnsHandle, spec: RuleSpec, options: EnsureOptions = {}): Promise<Change[]> {
  const wanted = buildRule(spec);
  const rules = await listRules(ns, spec.family);
  if (!rules.some((rule) => sameRule(rule, wanted))) return [];

  const description = `delete rule ${describeRule(spec)}${inNamespace(ns)}`;
  return makeChange(options, description, () => ns.session.applyChange(ruleRequest('delete', spec), description));
}

/** Builds the request that adds or deletes a rule. Like `ip rule add|del`. */
export function ruleRequest(verb: 'add' | 'delete', spec: RuleSpec): ChangeRequest {
  const body = encodeRule(buildRule(spec));
  return verb === 'add' ? { type: RTM_NEWRULE, flags: NLM_F_CREATE | NLM_F_EXCL, body } : { type: RTM_DELRULE, flags: 0, body };
}

/** Deletes a rule exactly as the kernel reported it (for removing what a dump found). */
export async function deleteRuleMessage(ns: NetnsHandle, rule: RuleMessage, description: string): Promise<void> {
  await ns.session.change(RTM_DELRULE, 0, encodeRule(rule), description);
}

/** Formats a rule the way `ip rule` would print it. */
export function describeRule(spec: RuleSpec): string {
  const parts = [`priority ${spec.priority}`];
  if (spec.from) parts.push(`from ${spec.from}`);
  if (spec.to) parts.push(`to ${spec.to}`);
  if (spec.iif) parts.push(`iif ${spec.iif}`);
  if (spec.oif) parts.push(`oif ${spec.oif}`);
  parts.push(spec.action === 'lookup' ? `lookup ${spec.table ?? RT_TABLE_MAIN}` : spec.action);
  return parts.join(' ');
}

function buildRule(spec: RuleSpec): RuleMessage {
  const attributes: RuleAttributes = { priority: spec.priority };
  let srcLength = 0;
  let dstLength = 0;
  if (spec.from) {
    const from = parseAddressWithPrefix(spec.from);
    attributes.src = from.address;
    srcLength = from.prefixLength;
  }
  if (spec.to) {
    const to = parseAddressWithPrefix(spec.to);
    attributes.dst = to.address;
    dstLength = to.prefixLength;
  }
  if (spec.iif) attributes.iifname = spec.iif;
  if (spec.oif) attributes.oifname = spec.oif;
  if (spec.protocol !== undefined) attributes.protocol = spec.protocol;

  let table = 0;
  if (spec.action === 'lookup') {
    const id = spec.table ?? RT_TABLE_MAIN;
    if (id < 256) table = id;
    else attributes.table = id;
  }
  const message = ruleBody(spec.family === 4 ? AF_INET : AF_INET6, table, RULE_ACTIONS[spec.action], attributes);
  message.srcLength = srcLength;
  message.dstLength = dstLength;
  return message;
}

// The kernel reports FRA_TABLE for every rule; compare the effective table, not the field.
function sameRule(rule: RuleMessage, wanted: RuleMessage): boolean {
  const a = rule.attributes;
  const b = wanted.attributes;
  return (
    rule.action === wanted.action &&
    (a.priority ?? 0) === b.priority &&
    rule.srcLength === wanted.srcLength &&
    rule.dstLength === wanted.dstLength &&
    a.src === b.src &&
    a.dst === b.dst &&
    a.iifname === b.iifname &&
    a.oifname === b.oifname &&
    (wanted.action !== FR_ACT_TO_TBL || (a.table ?? rule.table) === (b.table ?? wanted.table))
  );
}

function ruleBody(family: number, table: number, action: number, attributes: RuleAttributes): RuleMessage {
  return { family, dstLength: 0, srcLength: 0, tos: 0, table, action, flags: 0, attributes };
}
