/** Idempotent route operations, for unicast and the reject types, in any table. */
import {
  AF_INET,
  AF_INET6,
  AF_UNSPEC,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  RTM_DELROUTE,
  RTM_GETROUTE,
  RTM_NEWROUTE,
  RTN_BLACKHOLE,
  RTN_PROHIBIT,
  RTN_UNICAST,
  RTN_UNREACHABLE,
  RTPROT_BOOT,
  RT_SCOPE_LINK,
  RT_SCOPE_NOWHERE,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
} from '../netlink/constants.js';
import { parseAddressWithPrefix } from '../netlink/ip.js';
import type { ChangeRequest } from '../netlink/request.js';
import { decodeRoute, encodeRoute, routeTableOf, tableFields, type RouteAttributes, type RouteMessage } from '../netlink/route.js';
import { ConflictError, LIST_DUMP_OPTIONS, makeChange, type Change, type EnsureOptions } from './change.js';
import { inNamespace, type NetnsHandle } from './handle.js';
import { getLink, linkNotFound } from './links.js';
import { settle, unwrap } from './settle.js';

export type RouteType = 'unicast' | 'unreachable' | 'prohibit' | 'blackhole';

const ROUTE_TYPES: Record<RouteType, number> = {
  unicast: RTN_UNICAST,
  unreachable: RTN_UNREACHABLE,
  prohibit: RTN_PROHIBIT,
  blackhole: RTN_BLACKHOLE,
};

/** A route as `ip route` takes it. */
export interface RouteSpec {
  /** "default" or a prefix such as "10.49.0.0/16". */
  destination: string;
  /** Needed only when `destination` is "default". */
  family?: 4 | 6;
  gateway?: string;
  /** Output interface name. */
  device?: string;
  type?: RouteType;
  /** Table id; default main (254). */
  table?: number;
  /** Route metric; the kernel's default is 0 for IPv4 and 1024 for IPv6. */
  metric?: number;
  /** RTPROT_* stamped on the route; default "boot", as iproute2 uses. */
  protocol?: number;
}

interface ResolvedRoute {
  family: 4 | 6;
  destination: string | undefined;
  dstLength: number;
  table: number;
  metric: number;
  type: number;
}

/** Lists routes of one family (or both) in every table. Like `ip route show table all`. */
export async function listRoutes(ns: NetnsHandle, family?: 4 | 6): Promise<RouteMessage[]> {
  let addressFamily = AF_UNSPEC;
  if (family === 4) addressFamily = AF_INET;
  if (family === 6) addressFamily = AF_INET6;
  const body = encodeRoute(routeBody(addressFamily, {}));
  return ns.session.dumpAll(RTM_GETROUTE, body, `list routes${inNamespace(ns)}`, decodeRoute, LIST_DUMP_OPTIONS);
}

export interface EnsureRouteOptions extends EnsureOptions {
  /** Replace an existing route only if it carries this protocol; otherwise throw ConflictError. */
  replaceOnlyProtocol?: number;
}

/**
 * Ensures the route exists as specified, replacing a route to the same destination, table
 * and metric that differs. Like `ip route replace`, but a no-op when nothing differs.
 */
export async function ensureRoute(ns: NetnsHandle, spec: RouteSpec, options: EnsureRouteOptions = {}): Promise<Change[]> {
  const wanted = resolve(spec);
  // The route and the device are read together, and judged in this order.
  const routeRead = settle(findRoute(ns, wanted));
  const deviceRead = spec.device ? settle(getLink(ns, spec.device)) : null;

  const existing = unwrap(await routeRead);
  if (existing && options.replaceOnlyProtocol !== undefined && existing.protocol !== options.replaceOnlyProtocol) {
    throw new ConflictError(
      `a route to ${spec.destination}${inNamespace(ns)} already exists with protocol ${existing.protocol}, not ${options.replaceOnlyProtocol}, so it was not added by this tool; remove it or take it over explicitly`,
    );
  }
  let oif: number | undefined;
  if (spec.device && deviceRead) {
    const device = unwrap(await deviceRead);
    // In a dry run the device may be one that an earlier planned change creates.
    if (!device && !options.dryRun) throw linkNotFound(ns, spec.device);
    oif = device?.index;
  }

  if (existing && sameRoute(existing, wanted, spec, oif)) return [];

  const verb = existing ? 'replace' : 'add';
  const description = `${verb} route ${describeRoute(spec)}${inNamespace(ns)}`;
  return makeChange(options, description, () => ns.session.applyChange(routeRequest(verb, spec, oif), description));
}

/** Removes the route if it exists. Like `ip route del`. */
export async function removeRoute(ns: NetnsHandle, spec: RouteSpec, options: EnsureOptions = {}): Promise<Change[]> {
  const wanted = resolve(spec);
  if (!(await findRoute(ns, wanted))) return [];

  const description = `delete route ${describeRoute(spec)}${inNamespace(ns)}`;
  return makeChange(options, description, () => ns.session.applyChange(routeRequest('delete', spec), description));
}

/**
 * Builds the request that adds, replaces or deletes a route; `oif` is the index of
 * `spec.device`. Like `ip route add|replace|del`. A delete names the route by destination,
 * table, type and metric only, and carries the default metric when the spec has none, as
 * `ip route del ... metric M` does, so it removes exactly the route that ensureRoute made.
 */
export function routeRequest(verb: 'add' | 'replace' | 'delete', spec: RouteSpec, oif?: number): ChangeRequest {
  const wanted = resolve(spec);
  if (verb === 'delete') return { type: RTM_DELROUTE, flags: 0, body: encodeRoute(buildRoute(wanted, spec, undefined, true)) };

  const flags = verb === 'replace' ? NLM_F_CREATE | NLM_F_REPLACE : NLM_F_CREATE | NLM_F_EXCL;
  return { type: RTM_NEWROUTE, flags, body: encodeRoute(buildRoute(wanted, spec, oif)) };
}

/** Formats a route the way `ip route` would print it. */
export function describeRoute(spec: RouteSpec): string {
  const parts = [spec.type && spec.type !== 'unicast' ? `${spec.type} ${spec.destination}` : spec.destination];
  if (spec.gateway) parts.push(`via ${spec.gateway}`);
  if (spec.device) parts.push(`dev ${spec.device}`);
  if (spec.table !== undefined && spec.table !== RT_TABLE_MAIN) parts.push(`table ${spec.table}`);
  if (spec.metric !== undefined) parts.push(`metric ${spec.metric}`);
  return parts.join(' ');
}

function resolve(spec: RouteSpec): ResolvedRoute {
  const table = spec.table ?? RT_TABLE_MAIN;
  const type = ROUTE_TYPES[spec.type ?? 'unicast'];
  if (spec.destination === 'default') {
    const family = spec.family ?? (spec.gateway?.includes(':') ? 6 : 4);
    return { family, destination: undefined, dstLength: 0, table, type, metric: spec.metric ?? defaultMetric(family) };
  }
  const prefix = parseAddressWithPrefix(spec.destination);
  return { family: prefix.family, destination: prefix.address, dstLength: prefix.prefixLength, table, type, metric: spec.metric ?? defaultMetric(prefix.family) };
}

function defaultMetric(family: 4 | 6): number {
  return family === 6 ? 1024 : 0;
}

async function findRoute(ns: NetnsHandle, wanted: ResolvedRoute): Promise<RouteMessage | undefined> {
  const routes = await listRoutes(ns, wanted.family);
  return routes.find(
    (route) =>
      routeTableOf(route) === wanted.table &&
      route.dstLength === wanted.dstLength &&
      route.tos === 0 &&
      (route.attributes.dst ?? undefined) === wanted.destination &&
      (route.attributes.priority ?? 0) === wanted.metric,
  );
}

function sameRoute(route: RouteMessage, wanted: ResolvedRoute, spec: RouteSpec, oif: number | undefined): boolean {
  return (
    route.type === wanted.type &&
    route.attributes.gateway === spec.gateway &&
    (oif === undefined || route.attributes.oif === oif) &&
    route.protocol === (spec.protocol ?? RTPROT_BOOT)
  );
}

function buildRoute(wanted: ResolvedRoute, spec: RouteSpec, oif: number | undefined, forDelete = false): RouteMessage {
  const split = tableFields(wanted.table);
  const attributes: RouteAttributes = {};
  // `ip -4|-6 route add default` sends an all-zero RTA_DST; the kernel reads none of it at length 0.
  attributes.dst = wanted.destination ?? (wanted.family === 4 ? '0.0.0.0' : '::');
  if (split.attribute !== undefined) attributes.table = split.attribute;
  if (!forDelete) {
    if (spec.gateway) attributes.gateway = spec.gateway;
    if (oif !== undefined) attributes.oif = oif;
  }
  if (spec.metric !== undefined || forDelete) attributes.priority = wanted.metric;

  const message = routeBody(wanted.family === 4 ? AF_INET : AF_INET6, attributes);
  message.dstLength = wanted.dstLength;
  message.table = split.table;
  message.type = wanted.type;
  message.scope = routeScope(wanted, spec, forDelete);
  message.protocol = forDelete ? 0 : spec.protocol ?? RTPROT_BOOT;
  return message;
}

// The scopes iproute2 sends (ip/iproute.c, iproute_modify). IPv6 routes have no scope, so
// it sends RT_SCOPE_UNIVERSE for every IPv6 request. An IPv4 delete sends RT_SCOPE_NOWHERE,
// which matches a route of any scope. An IPv4 unicast route without a gateway reaches only
// the link.
function routeScope(wanted: ResolvedRoute, spec: RouteSpec, forDelete: boolean): number {
  if (wanted.family === 6) return RT_SCOPE_UNIVERSE;
  if (forDelete) return RT_SCOPE_NOWHERE;
  return wanted.type === RTN_UNICAST && !spec.gateway ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE;
}

function routeBody(family: number, attributes: RouteAttributes): RouteMessage {
  return { family, dstLength: 0, srcLength: 0, tos: 0, table: 0, protocol: 0, scope: 0, type: 0, flags: 0, attributes };
}

/** Deletes a route exactly as the kernel reported it (for removing what a dump found). */
export async function deleteRouteMessage(ns: NetnsHandle, route: RouteMessage, description: string): Promise<void> {
  // Only the keys that identify the route; dump-only attributes such as RTA_CACHEINFO stay out.
  const { dst, src, table, priority, gateway, oif } = route.attributes;
  const attributes: RouteAttributes = { dst, src, table, priority, gateway, oif };
  for (const key of Object.keys(attributes) as (keyof RouteAttributes)[]) if (attributes[key] === undefined) delete attributes[key];
  await ns.session.change(RTM_DELROUTE, 0, encodeRoute({ ...route, attributes }), description);
}
