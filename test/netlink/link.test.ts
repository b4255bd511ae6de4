import test from 'ava';

import { AF_UNSPEC, ARPHRD_ETHER, IFF_UP, NLM_F_MULTI, RTM_NEWLINK } from '../../src/netlink/constants.js';
import { DecodeError } from '../../src/netlink/errors.js';
import { decodeLink, encodeLink, linkMessage, type LinkMessage, type VethInfo } from '../../src/netlink/link.js';
import { encodeMessage, splitDatagram, type Message } from '../../src/netlink/message.js';
import { attr, bytes, cstring, nest, pad, s32, text, u16, u16be, u32, u8 } from './helpers/bytes.js';

/** Wraps a body in a message, the way a reply from the kernel arrives. */
function asMessage(body: Buffer): Message {
  const [message] = splitDatagram(encodeMessage(RTM_NEWLINK, NLM_F_MULTI, 1, body));
  if (!message) throw new Error('encodeMessage produced no message');
  return message;
}

/** Returns an ifinfomsg as bytes: family, pad, type, index, flags, change. */
function ifinfomsgRow(index: number, flags = 0, change = 0, type = 0, family = 0): Buffer {
  return bytes(u8(family), u8(0), u16(type), s32(index), u32(flags), u32(change));
}

test('veth with its peer in another namespace', (t) => {
  const veth = linkMessage({
    attributes: {
      ifname: 've-wg',
      linkinfo: { kind: 'veth', data: { peer: linkMessage({ attributes: { ifname: 'uplink', netNsFd: 7 } }) } },
    },
  });

  const expected = bytes(
    // ifinfomsg
    u8(0), u8(0), u16(0), // ifi_family AF_UNSPEC, __ifi_pad, ifi_type
    s32(0), // ifi_index
    u32(0), // ifi_flags
    u32(0), // ifi_change
    // IFLA_IFNAME "ve-wg\0"
    u16(10), u16(3), cstring('ve-wg'), pad(2),
    // IFLA_LINKINFO, nested without NLA_F_NESTED, as iproute2 sends it
    u16(56), u16(18),
    //   IFLA_INFO_KIND "veth", no trailing NUL
    u16(8), u16(1), text('veth'),
    //   IFLA_INFO_DATA, nested without NLA_F_NESTED
    u16(44), u16(2),
    //     VETH_INFO_PEER: a whole link body
    u16(40), u16(1),
    //       ifinfomsg of the peer
    u8(0), u8(0), u16(0), s32(0), u32(0), u32(0),
    //       IFLA_IFNAME "uplink\0"
    u16(11), u16(3), cstring('uplink'), pad(1),
    //       IFLA_NET_NS_FD 7
    u16(8), u16(28), u32(7),
  );

  t.deepEqual(encodeLink(veth), expected);
});

test('bridge with settings', (t) => {
  const bridge = linkMessage({
    attributes: { ifname: 'br0', linkinfo: { kind: 'bridge', data: { stpState: 0, forwardDelay: 1500 } } },
  });

  const expected = bytes(
    ifinfomsgRow(0),
    // IFLA_IFNAME "br0\0"
    u16(8), u16(3), cstring('br0'),
    // IFLA_LINKINFO, nested
    u16(36), u16(18),
    //   IFLA_INFO_KIND "bridge"
    u16(10), u16(1), text('bridge'), pad(2),
    //   IFLA_INFO_DATA, nested: table order, not the caller's key order
    u16(20), u16(2),
    //     IFLA_BR_FORWARD_DELAY 1500
    u16(8), u16(1), u32(1500),
    //     IFLA_BR_STP_STATE 0
    u16(8), u16(5), u32(0),
  );

  t.deepEqual(encodeLink(bridge), expected);
});

test('bridge VLAN protocol is big-endian', (t) => {
  const bridge = linkMessage({ attributes: { linkinfo: { kind: 'bridge', data: { vlanProtocol: 0x8100 } } } });

  t.deepEqual(
    encodeLink(bridge),
    bytes(
      ifinfomsgRow(0),
      u16(28), u16(18), // IFLA_LINKINFO
      u16(10), u16(1), text('bridge'), pad(2), // IFLA_INFO_KIND
      u16(12), u16(2), // IFLA_INFO_DATA
      u16(6), u16(8), u16be(0x8100), pad(2), // IFLA_BR_VLAN_PROTOCOL ETH_P_8021Q, network byte order
    ),
  );
});

test('set a link up', (t) => {
  const up = linkMessage({ index: 4, flags: IFF_UP, change: IFF_UP });

  t.deepEqual(
    encodeLink(up),
    bytes(
      u8(0), u8(0), u16(0), // ifi_family, __ifi_pad, ifi_type
      s32(4), // ifi_index
      u32(0x1), // ifi_flags IFF_UP
      u32(0x1), // ifi_change IFF_UP: only this flag changes
    ),
  );
});

test('set a link down', (t) => {
  const down = linkMessage({ index: 4, flags: 0, change: IFF_UP });

  t.deepEqual(encodeLink(down), ifinfomsgRow(4, 0, 0x1));
});

test('set the MTU', (t) => {
  const mtu = linkMessage({ index: 4, attributes: { mtu: 1420 } });

  t.deepEqual(
    encodeLink(mtu),
    bytes(
      ifinfomsgRow(4),
      u16(8), u16(4), u32(1420), // IFLA_MTU
    ),
  );
});

test('move to a namespace by fd', (t) => {
  const move = linkMessage({ index: 4, attributes: { netNsFd: 21 } });

  t.deepEqual(
    encodeLink(move),
    bytes(
      ifinfomsgRow(4),
      u16(8), u16(28), u32(21), // IFLA_NET_NS_FD
    ),
  );
});

test('link kind without a table needs bytes', (t) => {
  const macvlan = linkMessage({ attributes: { linkinfo: { kind: 'macvlan', data: { mode: 4 } } } });

  t.throws(() => encodeLink(macvlan), { instanceOf: TypeError, message: /link kind "macvlan" has no attribute table/ });
});

test('link kind data as bytes is kept', (t) => {
  const macvlanData = attr(1, u32(4)); // IFLA_MACVLAN_MODE bridge
  const macvlan = linkMessage({ attributes: { linkinfo: { kind: 'macvlan', data: macvlanData } } });

  const decoded = decodeLink(asMessage(encodeLink(macvlan)));

  t.is(decoded.attributes.linkinfo?.kind, 'macvlan');
  t.deepEqual(decoded.attributes.linkinfo?.data, macvlanData);
});

test('veth round trip', (t) => {
  const veth: LinkMessage = {
    family: AF_UNSPEC,
    deviceType: ARPHRD_ETHER,
    index: 0,
    flags: IFF_UP,
    change: IFF_UP,
    attributes: {
      ifname: 've-dns',
      mtu: 1420,
      address: '02:00:5e:10:00:01',
      linkinfo: {
        kind: 'veth',
        data: { peer: linkMessage({ index: 0, attributes: { ifname: 'uplink', netNsFd: 12, address: '02:00:5e:10:00:02' } }) },
      },
    },
  };

  const decoded = decodeLink(asMessage(encodeLink(veth)));

  t.deepEqual(decoded, veth);
});

test('bridge round trip', (t) => {
  const bridge = linkMessage({
    index: 9,
    attributes: {
      ifname: 'br0',
      txqlen: 1000,
      linkinfo: { kind: 'bridge', data: { stpState: 1, priority: 0x8000, vlanFiltering: 1, helloTimer: 123456789n } },
    },
  });

  t.deepEqual(decodeLink(asMessage(encodeLink(bridge))), bridge);
});

test('link namespace id -1 stays signed', (t) => {
  const body = bytes(
    ifinfomsgRow(5),
    u16(8), u16(37), s32(-1), // IFLA_LINK_NETNSID NETNSA_NSID_NOT_ASSIGNED
    u16(8), u16(45), s32(-1), // IFLA_NEW_NETNSID
  );

  const decoded = decodeLink(asMessage(body));

  t.is(decoded.attributes.linkNetnsid, -1);
  t.is(decoded.attributes.newNetnsid, -1);
  t.deepEqual(encodeLink(decoded), body);
});

test('IFLA_INFO_KIND with or without NUL', (t) => {
  for (const kind of [text('veth'), cstring('veth')]) {
    const body = bytes(ifinfomsgRow(3), nest(18, attr(1, kind)));

    t.is(decodeLink(asMessage(body)).attributes.linkinfo?.kind, 'veth', `kind bytes ${kind.toString('hex')}`);
  }
});

test('IFLA_LINKINFO without NLA_F_NESTED decodes', (t) => {
  // The kernel's dumps start IFLA_LINKINFO with nla_nest_start_noflag(): no NLA_F_NESTED.
  const body = bytes(ifinfomsgRow(3), attr(18, attr(1, text('bridge')), attr(2, attr(5, u32(1)))));

  const decoded = decodeLink(asMessage(body));

  t.deepEqual(decoded.attributes.linkinfo, { kind: 'bridge', data: { stpState: 1 } });
});

test('unknown link attributes survive re-encoding', (t) => {
  const body = bytes(
    ifinfomsgRow(3),
    attr(3, cstring('wg0')), // IFLA_IFNAME
    attr(4, u32(1420)), // IFLA_MTU
    attr(250, u8(1), u8(2), u8(3), u8(4), u8(5)), // type 250, unknown to the table, 5-byte payload
    nest(251, attr(1, u32(7)), attr(2, u16(9))), // type 251, unknown, with NLA_F_NESTED
  );

  const decoded = decodeLink(asMessage(body));

  t.deepEqual(decoded.attributes.unknown, [
    { type: 250, nested: false, data: bytes(u8(1), u8(2), u8(3), u8(4), u8(5)) },
    { type: 251, nested: true, data: bytes(attr(1, u32(7)), attr(2, u16(9))) },
  ]);
  t.deepEqual(encodeLink(decoded), body);
});

test('unknown bridge data survives re-encoding', (t) => {
  const body = bytes(
    ifinfomsgRow(4),
    attr(18, attr(1, text('bridge')), nest(2, attr(5, u32(0)), attr(200, u32(0xdeadbeef)))),
  );

  const decoded = decodeLink(asMessage(body));
  const data = decoded.attributes.linkinfo?.data as Record<string, unknown>;

  t.deepEqual(data.unknown, [{ type: 200, nested: false, data: u32(0xdeadbeef) }]);
  t.deepEqual(decodeLink(asMessage(encodeLink(decoded))), decoded);
});

test('unknown veth data survives re-encoding', (t) => {
  const body = bytes(
    ifinfomsgRow(4),
    attr(18, attr(1, text('veth')), nest(2, attr(1, ifinfomsgRow(0), attr(3, cstring('peer0'))), attr(9, u32(77)))),
  );

  const decoded = decodeLink(asMessage(body));
  const data = decoded.attributes.linkinfo?.data as VethInfo;
  t.deepEqual(data.unknown, [{ type: 9, nested: false, data: u32(77) }]);

  const again = decodeLink(asMessage(encodeLink(decoded)));

  t.deepEqual((again.attributes.linkinfo?.data as VethInfo).unknown, [{ type: 9, nested: false, data: u32(77) }]);
});

// Attributes start right after the 16-byte struct, as in iproute2, so four extra bytes
// read as an attribute header of length 0: a DecodeError, never a crash.
test('longer ifinfomsg is a decode error', (t) => {
  const body = bytes(ifinfomsgRow(7, IFF_UP, 0, ARPHRD_ETHER), u32(0));

  const error = t.throws(() => decodeLink(asMessage(body)), { instanceOf: DecodeError });

  t.is(error?.offset, 16 + 16);
});

test('longer ifinfomsg by less than a header decodes', (t) => {
  const body = bytes(ifinfomsgRow(7, IFF_UP, 0, ARPHRD_ETHER), u8(0), u8(0));

  const decoded = decodeLink(asMessage(body));

  t.like(decoded, { deviceType: ARPHRD_ETHER, index: 7, flags: IFF_UP, attributes: {} });
});

test('alternative names repeat', (t) => {
  const body = bytes(ifinfomsgRow(3), attr(53, cstring('uplink-alias')), attr(53, cstring('second')));

  const decoded = decodeLink(asMessage(body));

  t.deepEqual(decoded.attributes.altIfname, ['uplink-alias', 'second']);
  t.deepEqual(encodeLink(decoded), body);
});

test('encoding ignores the key order', (t) => {
  const a = linkMessage({ index: 2, attributes: { mtu: 1400, ifname: 'x', txqlen: 5 } });
  const b = linkMessage({ index: 2, attributes: { txqlen: 5, ifname: 'x', mtu: 1400 } });

  t.deepEqual(encodeLink(a), encodeLink(b));
});

test('encoding rejects an attribute the table lacks', (t) => {
  const link = linkMessage({ attributes: { notAnAttribute: 1 } });

  t.throws(() => encodeLink(link), { instanceOf: TypeError, message: /link-attrs has no attribute "notAnAttribute"/ });
});
