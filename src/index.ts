/**
 * algo-netns as a library: an rtnetlink toolkit (codec, session, namespace handles and
 * idempotent operations) and the Algo service-namespace topology built on it.
 */

// Netlink: bytes, messages and the request session.
export * from './netlink/constants.js';
export { DecodeError, DumpInterruptedError, NetlinkError, RequestTimeoutError, TransportError, type ExtendedAck } from './netlink/errors.js';
export { errnoMessage, errnoName } from './netlink/errno.js';
export { decodeAttributes, defineTable, encodeAttributes, type AttributeSpec, type AttributeTable, type RawAttribute } from './netlink/attributes.js';
export { decodeError, encodeMessage, splitDatagram, type Message } from './netlink/message.js';
export { decodeLink, encodeLink, linkMessage, type LinkAttributes, type LinkInfo, type LinkMessage, type VethInfo } from './netlink/link.js';
export { decodeAddress, encodeAddress, type AddressAttributes, type AddressMessage } from './netlink/address.js';
export { decodeRoute, encodeRoute, routeTableOf, type RouteAttributes, type RouteMessage } from './netlink/route.js';
export { decodeRule, encodeRule, type RuleAttributes, type RuleMessage } from './netlink/rule.js';
export { formatAddress, parseAddress, parseAddressWithPrefix } from './netlink/ip.js';
export { RtnlSession, type DumpOptions, type SessionOptions } from './netlink/session.js';
export { Subscription, type SubscriptionEvent, type SubscriptionOptions } from './netlink/subscription.js';
export { EVENT_FAMILIES, type ChangeEvent, type EventFamily } from './netlink/events.js';
export { SocketTransport } from './netlink/socket-transport.js';
export type { NetlinkTransport } from './netlink/transport.js';
export type { NetlinkLogger } from './netlink/log.js';

// Operations on one host.
export { openCurrentNamespace, openNamedNamespace, type NetnsHandle } from './ops/handle.js';
export { createNamespace, deleteNamespace, listNamespaces, namespaceExists, namespacePath, openNamespace, pidsInNamespace } from './ops/netns.js';
export { ConflictError, type Change, type EnsureOptions } from './ops/change.js';
export { createLink, ensureLinkInNamespace, ensureLinkMtu, ensureLinkUp, ensureVethPair, getLink, listLinks, moveLink, removeLink, setLinkAlias } from './ops/links.js';
export { ensureAddress, listAddresses, removeAddress } from './ops/addresses.js';
export { ensureRoute, listRoutes, removeRoute, type RouteSpec, type RouteType } from './ops/routes.js';
export { ensureRule, listRules, removeRule, type RuleAction, type RuleSpec } from './ops/rules.js';
export { ensureSysctl } from './ops/ensure-sysctl.js';
export { readSysctl, writeSysctl } from './ops/sysctl.js';
export { startRelay, type RelayTransport } from './ops/relay/client.js';
export { HelperError } from './ops/spawn.js';
export { findProgram } from './ops/programs.js';

// The Algo topology.
export { defaultConfig, type TopologyConfig } from './setup/config.js';
export { loadConfig, mergeConfig } from './setup/config-load.js';
export { validateConfig } from './setup/config-validate.js';
export { ConfigError } from './setup/errors.js';
export { up, UpFailedError, type UpOptions, type UpResult } from './setup/up.js';
export { down, type DownResult } from './setup/down.js';
export { status, type TopologyStatus } from './setup/status.js';
export { check, type HealthReport } from './setup/check.js';
