/**
 * Route messages: RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE. The body is an rtmsg followed
 * by RTA_* attributes.
 */
import { type AttributeValues, type RawAttribute } from './attributes.js';
import { RT_TABLE_UNSPEC } from './constants.js';
import { encodeBody, structMessageDecoder } from './fixed.js';
import type { Message } from './message.js';
import { routeTable } from './route-table.js';
import { rtmsg } from './structs.js';

/** RTA_* attributes by key. */
export interface RouteAttributes {
  dst?: string;
  src?: string;
  iif?: number;
  /** Output interface index. */
  oif?: number;
  gateway?: string;
  /** The route's metric. */
  priority?: number;
  prefsrc?: string;
  metrics?: AttributeValues;
  /** Table id; the only place a table above 255 fits. */
  table?: number;
  mark?: number;
  pref?: number;
  expires?: number;
  unknown?: RawAttribute[];
  [key: string]: unknown;
}

/** A route message: rtmsg fields and attributes. */
export interface RouteMessage {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  /** Table id if below 256, else RT_TABLE_UNSPEC with the id in `attributes.table`. */
  table: number;
  /** RTPROT_*: who installed the route. */
  protocol: number;
  /** RT_SCOPE_*. */
  scope: number;
  /** RTN_*: unicast, unreachable, prohibit, blackhole and so on. */
  type: number;
  flags: number;
  attributes: RouteAttributes;
}

/** Returns the table a route belongs to, wherever the message carries it. */
export function routeTableOf(route: RouteMessage): number {
  return route.attributes.table ?? route.table;
}

/** Encodes the body of a route message. */
export function encodeRoute(message: RouteMessage): Buffer {
  const { attributes, ...fixed } = message;
  return encodeBody(rtmsg, fixed, routeTable, attributes);
}

const decodeFields = structMessageDecoder(rtmsg, 'rtmsg', routeTable);

/** Decodes a route message. */
export function decodeRoute(message: Message): RouteMessage {
  // rtmsg's fields are the message's own, so the decoded struct is the message object.
  return decodeFields(message) as RouteMessage;
}

/** Splits a table id between rtmsg's 8-bit field and RTA_TABLE the way iproute2 does. */
export function tableFields(table: number): { table: number; attribute?: number } {
  return table < 256 ? { table } : { table: RT_TABLE_UNSPEC, attribute: table };
}
