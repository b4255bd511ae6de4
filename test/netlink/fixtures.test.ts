import test from 'ava';

import { decodeAddress, encodeAddress, type AddressMessage } from '../../src/netlink/address.js';
import {
  AF_INET,
  AF_INET6,
  IFF_LOWER_UP,
  IFF_UP,
  NLM_F_CAPPED,
  NLM_F_MULTI,
  NLMSG_DONE,
  NLMSG_ERROR,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
  RTM_NEWRULE,
} from '../../src/netlink/constants.js';
import { decodeLink, encodeLink, type LinkMessage } from '../../src/netlink/link.js';
import { decodeError, encodeMessage, splitDatagram, type Message } from '../../src/netlink/message.js';
import { decodeRoute, encodeRoute, routeTableOf, type RouteMessage } from '../../src/netlink/route.js';
import { decodeRule, encodeRule, type RuleMessage } from '../../src/netlink/rule.js';
import { exchangeOf, loadFixture, type IpRoute, type IpRule } from './helpers/fixtures.js';

const fixture = loadFixture();

/** Returns every message of an exchange's replies, in order. */
function messagesOf(name: string): Message[] {
  return exchangeOf(fixture, name).replies.flatMap((datagram) => splitDatagram(datagram));
}

/** Returns the dump's messages of `type`, after checking that the dump ends with NLMSG_DONE and code 0. */
function dumpOf(name: string, type: number): Message[] {
  const messages = messagesOf(name);
  const done = messages.at(-1);
  if (done?.type !== NLMSG_DONE || done.payload.readInt32LE(0) !== 0) throw new Error(`${name} does not end with NLMSG_DONE 0`);
  return messages.filter((message) => message.type === type);
}

const links = dumpOf('link-dump', RTM_NEWLINK).map(decodeLink);
const addresses = dumpOf('address-dump', RTM_NEWADDR).map(decodeAddress);
const routes = dumpOf('route-dump', RTM_NEWROUTE).map(decodeRoute);
const rules = dumpOf('rule-dump', RTM_NEWRULE).map(decodeRule);

// iproute2's names for numbers (lib/rt_names.c, ip/ipaddress.c).
const TABLES: Record<string, number> = { default: 253, main: 254, local: 255 };
const PROTOCOLS: Record<string, number> = { unspec: 0, redirect: 1, kernel: 2, boot: 3, static: 4 };
const SCOPES: Record<string, number> = { global: 0, universe: 0, site: 200, link: 253, host: 254, nowhere: 255 };
const ROUTE_TYPES: Record<string, number> = { unicast: 1, local: 2, broadcast: 3, anycast: 4, multicast: 5, blackhole: 6, unreachable: 7, prohibit: 8 };
const RULE_ACTIONS: Record<string, number> = { blackhole: 6, unreachable: 7, prohibit: 8 };
const OPERSTATES: Record<string, number> = { UNKNOWN: 0, NOTPRESENT: 1, DOWN: 2, LOWERLAYERDOWN: 3, TESTING: 4, DORMANT: 5, UP: 6 };
const LINK_TYPES: Record<string, number> = { ether: 1, loopback: 772, none: 0xfffe };

function tableNumber(name: string): number {
  return TABLES[name] ?? Number(name);
}

/**
 * Returns the number iproute2 prints as `name`. It throws for a name the map lacks, so that a
 * test never compares undefined with undefined.
 */
function numberOf(names: Record<string, number>, name: string): number {
  const value = names[name];
  if (value === undefined) throw new Error(`no number known for "${name}"`);
  return value;
}

function indexOfLink(name: string): number | undefined {
  return fixture.ip.link.find((link) => link.ifname === name)?.ifindex;
}

test('fixture was captured with its commands', (t) => {
  t.log(`kernel ${fixture.kernel}, ${fixture.iproute2}`);
  t.true(fixture.setup.length > 0);
  t.true(exchangeOf(fixture, 'link-dump').replies.length > 1, 'the link dump should span several datagrams');
});

test('every dump reply carries its sequence and NLM_F_MULTI', (t) => {
  for (const name of ['link-dump', 'address-dump', 'route-dump', 'rule-dump']) {
    const seq = exchangeOf(fixture, name).request.readUInt32LE(8);
    for (const message of messagesOf(name)) {
      t.is(message.seq, seq, name);
      t.true((message.flags & NLM_F_MULTI) !== 0, `${name} message type ${message.type}`);
    }
  }
});

test('links match ip link', (t) => {
  t.is(links.length, fixture.ip.link.length);
  // Kernels add attributes; those the table lacks must land in `unknown`, not fail the decode.
  const unknownTypes = new Set(links.flatMap((link) => (link.attributes.unknown ?? []).map((raw) => raw.type)));
  t.log(`IFLA_* types kept as unknown on kernel ${fixture.kernel}: ${[...unknownTypes].sort((a, b) => a - b).join(', ') || 'none'}`);

  for (const expected of fixture.ip.link) {
    const link = links.find((each) => each.index === expected.ifindex);
    if (!link) {
      t.fail(`no decoded link with index ${expected.ifindex} (${expected.ifname})`);
      continue;
    }
    const name = expected.ifname;
    const attributes = link.attributes;

    t.is(attributes.ifname, expected.ifname, name);
    t.is(attributes.mtu, expected.mtu, name);
    t.is(link.deviceType, numberOf(LINK_TYPES, expected.link_type), name);
    t.is(attributes.address, expected.address, name);
    t.is(attributes.broadcast, expected.broadcast, name);
    t.is(attributes.txqlen, expected.txqlen, name);
    t.is(attributes.operstate, numberOf(OPERSTATES, expected.operstate), name);
    t.is(attributes.promiscuity, expected.promiscuity, name);
    t.is(attributes.minMtu, expected.min_mtu, name);
    t.is(attributes.maxMtu, expected.max_mtu, name);
    t.is(attributes.numTxQueues, expected.num_tx_queues, name);
    t.is(attributes.gsoMaxSize, expected.gso_max_size, name);
    t.is((link.flags & IFF_UP) !== 0, expected.flags.includes('UP'), name);
    t.is((link.flags & IFF_LOWER_UP) !== 0, expected.flags.includes('LOWER_UP'), name);
    t.is(attributes.master, expected.master === undefined ? undefined : indexOfLink(expected.master), name);
    t.is(attributes.link, expected.link === undefined ? undefined : indexOfLink(expected.link), name);
    t.is(attributes.linkinfo?.kind, expected.linkinfo?.info_kind, name);
    t.is(attributes.linkinfo?.slaveKind, expected.linkinfo?.info_slave_kind, name);
  }
});

test('bridge settings match ip -d link', (t) => {
  const expected = fixture.ip.link.find((link) => link.linkinfo?.info_kind === 'bridge');
  const bridge = links.find((link) => link.index === expected?.ifindex);
  const data = bridge?.attributes.linkinfo?.data as Record<string, unknown> | undefined;
  const info = expected?.linkinfo?.info_data;
  if (!data || !info) {
    t.fail('the fixture has no bridge with IFLA_INFO_DATA');
    return;
  }

  t.is(data.forwardDelay, info.forward_delay);
  t.is(data.helloTime, info.hello_time);
  t.is(data.maxAge, info.max_age);
  t.is(data.ageingTime, info.ageing_time);
  t.is(data.stpState, info.stp_state);
  t.is(data.priority, info.priority);
  t.is(data.vlanFiltering, info.vlan_filtering);
  t.is(data.rootPort, info.root_port);
  t.deepEqual(data.groupAddr, Buffer.from(String(info.group_addr).split(':').map((byte) => parseInt(byte, 16))));
});

test('addresses match ip addr', (t) => {
  const expected = fixture.ip.address.flatMap((link) => (link.addr_info ?? []).map((address) => ({ link, address })));
  t.is(addresses.length, expected.length);

  // Lifetimes count down, and `ip` ran a moment after the dump.
  const slackSeconds = 3;
  for (const { link, address } of expected) {
    const family = address.family === 'inet' ? AF_INET : AF_INET6;
    const subject = `${address.local}/${address.prefixlen} on ${link.ifname}`;
    const decoded = addresses.find(
      (each) =>
        each.index === link.ifindex &&
        each.family === family &&
        each.prefixLength === address.prefixlen &&
        (each.attributes.local ?? each.attributes.address) === address.local,
    );
    if (!decoded) {
      t.fail(`no decoded address ${subject}`);
      continue;
    }

    t.is(decoded.scope, numberOf(SCOPES, address.scope), subject);
    t.is(decoded.attributes.label, address.label, subject);
    t.is(decoded.attributes.broadcast, address.broadcast, subject);
    const cacheinfo = decoded.attributes.cacheinfo;
    for (const [ours, theirs] of [
      [cacheinfo?.valid, address.valid_life_time],
      [cacheinfo?.preferred, address.preferred_life_time],
    ] as const) {
      if (theirs === 0xffffffff) t.is(ours, theirs, `${subject} forever`);
      else t.true(ours !== undefined && ours >= theirs && ours - theirs <= slackSeconds, `${subject}: lifetime ${ours} vs ip's ${theirs}`);
    }
    if (address.nodad) t.true(((decoded.attributes.flags ?? 0) & 0x02) !== 0, `${subject} IFA_F_NODAD`);
  }
});

function matchesRoute(route: RouteMessage, expected: IpRoute, family: number): boolean {
  const [dst = '', length] = expected.dst === 'default' ? ['', '0'] : expected.dst.split('/');
  const hostLength = family === AF_INET ? 32 : 128;
  const dstLength = length === undefined ? hostLength : Number(length);
  const oif = expected.dev === undefined ? undefined : indexOfLink(expected.dev);
  return (
    route.family === family &&
    route.dstLength === dstLength &&
    (route.attributes.dst ?? '') === dst &&
    routeTableOf(route) === tableNumber(expected.table) &&
    route.type === numberOf(ROUTE_TYPES, expected.type) &&
    route.attributes.oif === oif
  );
}

test('routes match ip route', (t) => {
  const expected = [
    ...fixture.ip.route4.map((route) => ({ route, family: AF_INET })),
    ...fixture.ip.route6.map((route) => ({ route, family: AF_INET6 })),
  ];
  t.is(routes.length, expected.length);

  const unmatched = new Set(routes);
  for (const { route, family } of expected) {
    const subject = `${route.type} ${route.dst} table ${route.table} dev ${route.dev ?? '-'}`;
    const decoded = [...unmatched].find((each) => matchesRoute(each, route, family));
    if (!decoded) {
      t.fail(`no decoded route ${subject}`);
      continue;
    }
    unmatched.delete(decoded);

    t.is(decoded.attributes.gateway, route.gateway, subject);
    t.is(decoded.protocol, numberOf(PROTOCOLS, route.protocol), subject);
    t.is(decoded.attributes.prefsrc, route.prefsrc, subject);
    t.is(decoded.attributes.priority, route.metric, subject);
    // iproute2 prints "global" for every IPv6 route; only IPv4 scopes are compared.
    if (family === AF_INET) t.is(decoded.scope, numberOf(SCOPES, route.scope), subject);
  }
  t.is(unmatched.size, 0);
});

test('fixture holds the routes the setup made', (t) => {
  const find = (dst: string, table: number) => routes.find((route) => route.attributes.dst === dst && routeTableOf(route) === table);

  t.like(find('10.60.0.0', 100), { dstLength: 16, table: 100, type: 1, attributes: { gateway: '10.49.0.2' } });
  // The kernel replies with rtm_table RT_TABLE_COMPAT (252) for tables above 255.
  t.like(find('10.62.0.0', 1000), { dstLength: 16, table: 252, attributes: { table: 1000, gateway: '10.49.0.2' } });
  t.like(find('10.61.0.0', 254), { attributes: { priority: 50 } });
  t.like(find('10.63.0.0', 254), { type: 7 });
  t.like(find('10.64.0.0', 100), { type: 8 });
  t.like(find('10.65.0.0', 254), { type: 6, attributes: { priority: 10 } });
  t.like(find('2001:db8:1::', 100), { family: AF_INET6, dstLength: 64, attributes: { gateway: '2001:db8:a160::2' } });
  t.like(find('2001:db8:2::', 254), { family: AF_INET6, type: 7, attributes: { priority: 20 } });
});

function matchesRule(rule: RuleMessage, expected: IpRule, family: number): boolean {
  return rule.family === family && (rule.attributes.priority ?? 0) === expected.priority;
}

test('rules match ip rule', (t) => {
  const expected = [
    ...fixture.ip.rule4.map((rule) => ({ rule, family: AF_INET })),
    ...fixture.ip.rule6.map((rule) => ({ rule, family: AF_INET6 })),
  ];
  t.is(rules.length, expected.length);

  for (const { rule, family } of expected) {
    const subject = `family ${family} priority ${rule.priority}`;
    const decoded = rules.find((each) => matchesRule(each, rule, family));
    if (!decoded) {
      t.fail(`no decoded rule ${subject}`);
      continue;
    }

    t.is(decoded.attributes.src ?? 'all', rule.src, subject);
    t.is(decoded.srcLength, rule.srclen ?? 0, subject);
    t.is(decoded.attributes.dst, rule.dst, subject);
    t.is(decoded.dstLength, rule.dstlen ?? 0, subject);
    t.is(decoded.action, rule.action === undefined ? 1 : numberOf(RULE_ACTIONS, rule.action), subject);
    if (rule.table !== undefined) t.is(decoded.attributes.table ?? decoded.table, tableNumber(rule.table), subject);
    t.is(decoded.attributes.fwmark, rule.fwmark === undefined ? undefined : Number(rule.fwmark), subject);
    t.is(decoded.attributes.fwmask, rule.fwmask === undefined ? undefined : Number(rule.fwmask), subject);
    t.is(decoded.attributes.protocol, numberOf(PROTOCOLS, rule.protocol), subject);
  }
});

test('rejected requests decode as errors', (t) => {
  for (const [name, errno] of [
    ['add-existing-address', 17], // EEXIST
    ['delete-missing-route', 3], // ESRCH
    ['get-missing-link', 19], // ENODEV
  ] as const) {
    const { request } = exchangeOf(fixture, name);
    const [reply, ...rest] = messagesOf(name);
    if (!reply) {
      t.fail(`${name} has no reply`);
      continue;
    }

    t.is(rest.length, 0, name);
    t.is(reply.type, NLMSG_ERROR, name);
    const decoded = decodeError(reply);
    t.is(decoded.errno, errno, name);
    t.is(decoded.requestType, request.readUInt16LE(4), name);
    t.is(decoded.requestSeq, request.readUInt32LE(8), name);
    t.deepEqual(decoded.extendedAck, {}, name);
    // Without NETLINK_CAP_ACK the kernel echoes the whole request after the error code.
    t.deepEqual(reply.payload.subarray(4), request.subarray(0, request.readUInt32LE(0)), name);
  }
});

test('acknowledgement decodes as errno 0', (t) => {
  const { request } = exchangeOf(fixture, 'set-mtu-ack');
  const [ack] = messagesOf('set-mtu-ack');

  t.is(ack?.type, NLMSG_ERROR);
  t.is((ack?.flags ?? 0) & NLM_F_CAPPED, NLM_F_CAPPED);
  const decoded = decodeError(ack!);
  t.true(decoded.errno === 0);
  t.is(decoded.requestSeq, request.readUInt32LE(8));
});

/** Encodes a decoded message and decodes the result again. */
function reencoded<T>(type: number, value: T, encode: (value: T) => Buffer, decode: (message: Message) => T): T {
  const [message] = splitDatagram(encodeMessage(type, NLM_F_MULTI, 1, encode(value)));
  return decode(message!);
}

test('captured links survive re-encoding', (t) => {
  for (const link of links) {
    t.deepEqual(reencoded<LinkMessage>(RTM_NEWLINK, link, encodeLink, decodeLink), link, link.attributes.ifname);
  }
});

test('captured addresses survive re-encoding', (t) => {
  for (const address of addresses) {
    t.deepEqual(reencoded<AddressMessage>(RTM_NEWADDR, address, encodeAddress, decodeAddress), address);
  }
});

test('captured routes survive re-encoding', (t) => {
  for (const route of routes) {
    t.deepEqual(reencoded<RouteMessage>(RTM_NEWROUTE, route, encodeRoute, decodeRoute), route);
  }
});

test('captured rules survive re-encoding', (t) => {
  for (const rule of rules) {
    t.deepEqual(reencoded<RuleMessage>(RTM_NEWRULE, rule, encodeRule, decodeRule), rule);
  }
});
