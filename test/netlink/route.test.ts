import test from 'ava';

import {
  AF_INET,
  AF_INET6,
  NLM_F_MULTI,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RTM_NEWROUTE,
  RTN_BLACKHOLE,
  RTN_PROHIBIT,
  RTN_UNICAST,
  RTN_UNREACHABLE,
  RTPROT_STATIC,
} from '../../src/netlink/constants.js';
import { encodeMessage, splitDatagram, type Message } from '../../src/netlink/message.js';
import { decodeRoute, encodeRoute, routeTableOf, tableFields, type RouteMessage } from '../../src/netlink/route.js';
import { attr, bytes, ipv4, ipv6Groups, pad, u16, u16be, u32, u8 } from './helpers/bytes.js';

function asMessage(body: Buffer): Message {
  const [message] = splitDatagram(encodeMessage(RTM_NEWROUTE, NLM_F_MULTI, 1, body));
  if (!message) throw new Error('encodeMessage produced no message');
  return message;
}

function route(fields: Partial<RouteMessage>): RouteMessage {
  return {
    family: AF_INET,
    dstLength: 0,
    srcLength: 0,
    tos: 0,
    table: RT_TABLE_MAIN,
    protocol: RTPROT_STATIC,
    scope: RT_SCOPE_UNIVERSE,
    type: RTN_UNICAST,
    flags: 0,
    attributes: {},
    ...fields,
  };
}

/** Returns an rtmsg as bytes, in field order. */
function rtmsgRow(fields: { family: number; dstLength: number; table: number; protocol: number; scope: number; type: number }): Buffer {
  return bytes(
    u8(fields.family), // rtm_family
    u8(fields.dstLength), // rtm_dst_len
    u8(0), // rtm_src_len
    u8(0), // rtm_tos
    u8(fields.table), // rtm_table
    u8(fields.protocol), // rtm_protocol
    u8(fields.scope), // rtm_scope
    u8(fields.type), // rtm_type
    u32(0), // rtm_flags
  );
}

test('IPv4 route in table 100 via a gateway', (t) => {
  const message = route({ dstLength: 16, table: 100, attributes: { dst: '10.48.0.0', gateway: '10.47.255.6', priority: 50 } });

  const expected = bytes(
    rtmsgRow({ family: 2, dstLength: 16, table: 100, protocol: 4, scope: 0, type: 1 }),
    // RTA_DST 10.48.0.0
    u16(8), u16(1), ipv4('10.48.0.0'),
    // RTA_GATEWAY 10.47.255.6
    u16(8), u16(5), ipv4('10.47.255.6'),
    // RTA_PRIORITY (the metric) 50
    u16(8), u16(6), u32(50),
  );

  t.deepEqual(encodeRoute(message), expected);
});

test('table 1000 goes into RTA_TABLE', (t) => {
  const { table, attribute } = tableFields(1000);
  const message = route({ dstLength: 16, table, attributes: { dst: '10.48.0.0', oif: 3, table: attribute } });

  const expected = bytes(
    rtmsgRow({ family: 2, dstLength: 16, table: 0, protocol: 4, scope: 0, type: 1 }), // rtm_table RT_TABLE_UNSPEC
    // RTA_DST
    u16(8), u16(1), ipv4('10.48.0.0'),
    // RTA_OIF 3
    u16(8), u16(4), u32(3),
    // RTA_TABLE 1000
    u16(8), u16(15), u32(1000),
  );

  t.deepEqual(encodeRoute(message), expected);
  t.is(routeTableOf(decodeRoute(asMessage(encodeRoute(message)))), 1000);
});

test('tableFields splits at 256', (t) => {
  t.deepEqual(tableFields(100), { table: 100 });
  t.deepEqual(tableFields(255), { table: 255 });
  t.deepEqual(tableFields(256), { table: 0, attribute: 256 });
  t.deepEqual(tableFields(0xffffffff), { table: 0, attribute: 0xffffffff });
});

test('routeTableOf prefers RTA_TABLE', (t) => {
  t.is(routeTableOf(route({ table: 100 })), 100);
  t.is(routeTableOf(route({ table: 100, attributes: { table: 100 } })), 100);
  t.is(routeTableOf(route({ table: 0, attributes: { table: 5000 } })), 5000);
});

for (const [name, type, code] of [
  ['unreachable', RTN_UNREACHABLE, 7],
  ['prohibit', RTN_PROHIBIT, 8],
  ['blackhole', RTN_BLACKHOLE, 6],
] as const) {
  test(`${name} route has type ${code}`, (t) => {
    const message = route({ dstLength: 16, type, attributes: { dst: '10.49.0.0', priority: 10 } });

    const expected = bytes(
      rtmsgRow({ family: 2, dstLength: 16, table: 254, protocol: 4, scope: 0, type: code }),
      u16(8), u16(1), ipv4('10.49.0.0'), // RTA_DST
      u16(8), u16(6), u32(10), // RTA_PRIORITY
    );

    t.deepEqual(encodeRoute(message), expected);
    t.is(decodeRoute(asMessage(expected)).type, type);
  });
}

test('IPv6 default route via a link-local gateway', (t) => {
  const message = route({ family: AF_INET6, attributes: { gateway: 'fe80::1', oif: 7, priority: 1024 } });

  const expected = bytes(
    rtmsgRow({ family: 10, dstLength: 0, table: 254, protocol: 4, scope: 0, type: 1 }),
    // RTA_OIF 7
    u16(8), u16(4), u32(7),
    // RTA_GATEWAY fe80::1
    u16(20), u16(5), ipv6Groups(0xfe80, 0, 0, 0, 0, 0, 0, 1),
    // RTA_PRIORITY 1024
    u16(8), u16(6), u32(1024),
  );

  t.deepEqual(encodeRoute(message), expected);
});

test('IPv6 route round trip', (t) => {
  const message = route({
    family: AF_INET6,
    dstLength: 48,
    table: 100,
    scope: RT_SCOPE_LINK,
    attributes: { dst: '2001:db8:4160::', prefsrc: '2001:db8:a160::1', oif: 4, priority: 256, pref: 0, metrics: { mtu: 1380, advmss: 1340 } },
  });

  t.deepEqual(decodeRoute(asMessage(encodeRoute(message))), message);
});

test('IPv4 route round trip', (t) => {
  const message = route({
    dstLength: 32,
    table: 0,
    attributes: { dst: '172.16.0.1', gateway: '10.47.255.10', oif: 9, table: 4242, mark: 0x10, expires: 30 },
  });

  t.deepEqual(decodeRoute(asMessage(encodeRoute(message))), message);
});

test('RTA_METRICS is nested', (t) => {
  const message = route({ dstLength: 0, attributes: { metrics: { mtu: 1420 } } });

  const encoded = encodeRoute(message);

  // Without NLA_F_NESTED, as iproute2 sends RTA_METRICS.
  t.deepEqual(encoded.subarray(12), attr(8, attr(2, u32(1420))));
});

test('route lookup ports are big-endian', (t) => {
  const lookup = route({ dstLength: 32, attributes: { dst: '192.0.2.1', sport: 51820, dport: 53 } });

  t.deepEqual(
    encodeRoute(lookup).subarray(12 + 8),
    bytes(
      u16(6), u16(28), u16be(51820), pad(2), // RTA_SPORT
      u16(6), u16(29), u16be(53), pad(2), // RTA_DPORT
    ),
  );
});
