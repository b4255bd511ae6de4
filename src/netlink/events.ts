/**
 * Notifications the kernel multicasts when links, addresses, routes or rules change, decoded
 * into typed change events, and the multicast groups that carry each family.
 */
import { decodeAddress, type AddressMessage } from './address.js';
import {
  RTM_DELADDR,
  RTM_DELLINK,
  RTM_DELROUTE,
  RTM_DELRULE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RTM_NEWRULE,
  RTNLGRP_IPV4_IFADDR,
  RTNLGRP_IPV4_ROUTE,
  RTNLGRP_IPV4_RULE,
  RTNLGRP_IPV6_IFADDR,
  RTNLGRP_IPV6_ROUTE,
  RTNLGRP_IPV6_RULE,
  RTNLGRP_LINK,
} from './constants.js';
import { decodeLink, type LinkMessage } from './link.js';
import type { Message } from './message.js';
import { decodeRoute, type RouteMessage } from './route.js';
import { decodeRule, type RuleMessage } from './rule.js';

/** The kinds of objects a subscription can follow. */
export type EventFamily = 'link' | 'address' | 'route' | 'rule';

export const EVENT_FAMILIES: readonly EventFamily[] = ['link', 'address', 'route', 'rule'];

/** Multicast groups (RTNLGRP_*) that carry the notifications of each family, IPv4 and IPv6. */
export const EVENT_GROUPS: Readonly<Record<EventFamily, readonly number[]>> = {
  link: [RTNLGRP_LINK],
  address: [RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR],
  route: [RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV6_ROUTE],
  rule: [RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_RULE],
};

/** "new" is a creation or a change (RTM_NEW*), "del" a deletion (RTM_DEL*). */
export type ChangeAction = 'new' | 'del';

/** One change the kernel notified. */
export type ChangeEvent =
  | { kind: 'link'; action: ChangeAction; link: LinkMessage }
  | { kind: 'address'; action: ChangeAction; address: AddressMessage }
  | { kind: 'route'; action: ChangeAction; route: RouteMessage }
  | { kind: 'rule'; action: ChangeAction; rule: RuleMessage };

/**
 * Decodes a notification into a change event, or returns null for a message type outside
 * the four families. Malformed bytes raise DecodeError.
 */
export function decodeChange(message: Message): ChangeEvent | null {
  switch (message.type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
      return { kind: 'link', action: actionOf(message, RTM_NEWLINK), link: decodeLink(message) };
    case RTM_NEWADDR:
    case RTM_DELADDR:
      return { kind: 'address', action: actionOf(message, RTM_NEWADDR), address: decodeAddress(message) };
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
      return { kind: 'route', action: actionOf(message, RTM_NEWROUTE), route: decodeRoute(message) };
    case RTM_NEWRULE:
    case RTM_DELRULE:
      return { kind: 'rule', action: actionOf(message, RTM_NEWRULE), rule: decodeRule(message) };
    default:
      return null;
  }
}

function actionOf(message: Message, newType: number): ChangeAction {
  return message.type === newType ? 'new' : 'del';
}
