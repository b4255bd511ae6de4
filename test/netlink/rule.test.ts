import test from 'ava';

import { AF_INET, AF_INET6, FR_ACT_PROHIBIT, FR_ACT_TO_TBL, FR_ACT_UNREACHABLE, NLM_F_MULTI, RTM_NEWRULE, RTPROT_STATIC } from '../../src/netlink/constants.js';
import { encodeMessage, splitDatagram, type Message } from '../../src/netlink/message.js';
import { decodeRule, encodeRule, type RuleMessage } from '../../src/netlink/rule.js';
import { bytes, cstring, ipv4, pad, u16, u32, u64be, u8 } from './helpers/bytes.js';

function asMessage(body: Buffer): Message {
  const [message] = splitDatagram(encodeMessage(RTM_NEWRULE, NLM_F_MULTI, 1, body));
  if (!message) throw new Error('encodeMessage produced no message');
  return message;
}

test('prohibit rule between two prefixes', (t) => {
  const rule: RuleMessage = {
    family: AF_INET,
    dstLength: 16,
    srcLength: 16,
    tos: 0,
    table: 0,
    action: FR_ACT_PROHIBIT,
    flags: 0,
    attributes: { src: '10.49.0.0', dst: '10.48.0.0', priority: 100, protocol: RTPROT_STATIC },
  };

  const expected = bytes(
    // fib_rule_hdr
    u8(2), // family AF_INET
    u8(16), // dst_len
    u8(16), // src_len
    u8(0), // tos
    u8(0), // table
    u8(0), // res1
    u8(0), // res2
    u8(8), // action FR_ACT_PROHIBIT
    u32(0), // flags
    // FRA_DST 10.48.0.0
    u16(8), u16(1), ipv4('10.48.0.0'),
    // FRA_SRC 10.49.0.0
    u16(8), u16(2), ipv4('10.49.0.0'),
    // FRA_PRIORITY 100
    u16(8), u16(6), u32(100),
    // FRA_PROTOCOL RTPROT_STATIC, one byte and padding
    u16(5), u16(21), u8(4), pad(3),
  );

  t.deepEqual(encodeRule(rule), expected);
});

test('lookup rule in table 1000', (t) => {
  const rule: RuleMessage = {
    family: AF_INET,
    dstLength: 0,
    srcLength: 0,
    tos: 0,
    table: 0,
    action: FR_ACT_TO_TBL,
    flags: 0,
    attributes: { iifname: 've-wg', priority: 200, fwmark: 0x10, table: 1000, fwmask: 0xff },
  };

  const expected = bytes(
    u8(2), u8(0), u8(0), u8(0), u8(0), u8(0), u8(0), u8(1), u32(0), // fib_rule_hdr, action FR_ACT_TO_TBL
    u16(10), u16(3), cstring('ve-wg'), pad(2), // FRA_IIFNAME
    u16(8), u16(6), u32(200), // FRA_PRIORITY
    u16(8), u16(10), u32(0x10), // FRA_FWMARK
    u16(8), u16(15), u32(1000), // FRA_TABLE
    u16(8), u16(16), u32(0xff), // FRA_FWMASK
  );

  t.deepEqual(encodeRule(rule), expected);
});

test('IPv6 rule round trip', (t) => {
  const rule: RuleMessage = {
    family: AF_INET6,
    dstLength: 48,
    srcLength: 48,
    tos: 0,
    table: 100,
    action: FR_ACT_UNREACHABLE,
    flags: 0x2,
    attributes: {
      src: '2001:db8:a160::',
      dst: '2001:db8:4160::',
      priority: 300,
      protocol: RTPROT_STATIC,
      oifname: 'uplink',
      suppressPrefixlen: 0xffffffff,
      tunId: 2n ** 64n - 1n,
    },
  };

  t.deepEqual(decodeRule(asMessage(encodeRule(rule))), rule);
});

test('rule reserved bytes are not decoded', (t) => {
  const body = bytes(u8(2), u8(0), u8(0), u8(0), u8(254), u8(0xaa), u8(0xbb), u8(1), u32(0), u16(12), u16(12), u64be(5n));

  const decoded = decodeRule(asMessage(body));

  t.deepEqual(decoded, { family: 2, dstLength: 0, srcLength: 0, tos: 0, table: 254, action: 1, flags: 0, attributes: { tunId: 5n } });
});

test('FRA_TUN_ID is big-endian', (t) => {
  const body = bytes(u8(2), u8(0), u8(0), u8(0), u8(254), u8(0), u8(0), u8(1), u32(0), u16(12), u16(12), [0, 0, 0, 0, 0, 0, 0x12, 0x34]);

  t.is(decodeRule(asMessage(body)).attributes.tunId, 0x1234n);
});
