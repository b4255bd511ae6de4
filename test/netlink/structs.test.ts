import test from 'ava';

import { NLA_ALIGNTO, NLA_HDRLEN, NLMSG_ALIGNTO, NLMSG_HDRLEN, nlaAlign, nlmsgAlign } from '../../src/netlink/align.js';
import { fibRuleHdr, ifaCacheinfo, ifaddrmsg, ifinfomsg, nlmsgerr, nlmsghdr, rtgenmsg, rtmsg } from '../../src/netlink/structs.js';
import { bytes, s32, u16, u32, u8 } from './helpers/bytes.js';

// Each span must equal sizeof() of the C struct on Linux (x86-64 and arm64 alike: the
// structs hold no pointers or longs, so the layout does not depend on the architecture).
const SIZEOF: [string, { span: number }, number][] = [
  // struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; };
  ['nlmsghdr', nlmsghdr, 16],
  // struct nlmsgerr { int error; struct nlmsghdr msg; };
  ['nlmsgerr', nlmsgerr, 20],
  // struct ifinfomsg { unsigned char ifi_family; unsigned char __ifi_pad; unsigned short ifi_type;
  //                    int ifi_index; unsigned ifi_flags; unsigned ifi_change; };
  ['ifinfomsg', ifinfomsg, 16],
  // struct ifaddrmsg { __u8 ifa_family; __u8 ifa_prefixlen; __u8 ifa_flags; __u8 ifa_scope; __u32 ifa_index; };
  ['ifaddrmsg', ifaddrmsg, 8],
  // struct rtmsg { unsigned char rtm_family, rtm_dst_len, rtm_src_len, rtm_tos, rtm_table,
  //                rtm_protocol, rtm_scope, rtm_type; unsigned rtm_flags; };
  ['rtmsg', rtmsg, 12],
  // struct fib_rule_hdr { __u8 family, dst_len, src_len, tos, table, res1, res2, action; __u32 flags; };
  ['fib_rule_hdr', fibRuleHdr, 12],
  // struct rtgenmsg { unsigned char rtgen_family; };
  ['rtgenmsg', rtgenmsg, 1],
  // struct ifa_cacheinfo { __u32 ifa_prefered; __u32 ifa_valid; __u32 cstamp; __u32 tstamp; };
  ['ifa_cacheinfo', ifaCacheinfo, 16],
];

for (const [name, layout, size] of SIZEOF) {
  test(`${name} span equals sizeof`, (t) => {
    t.is(layout.span, size);
  });
}

test('header lengths match the kernel', (t) => {
  t.is(NLMSG_HDRLEN, 16);
  t.is(NLA_HDRLEN, 4);
  t.is(NLMSG_ALIGNTO, 4);
  t.is(NLA_ALIGNTO, 4);
});

// NLMSG_ALIGN and NLA_ALIGN both round up to a multiple of 4.
const ALIGNED = [0, 4, 4, 4, 4, 8, 8, 8, 8, 12];

ALIGNED.forEach((aligned, length) => {
  test(`NLMSG_ALIGN and NLA_ALIGN of ${length}`, (t) => {
    t.is(nlmsgAlign(length), aligned);
    t.is(nlaAlign(length), aligned);
  });
});

test('nlmsghdr fields in order', (t) => {
  const encoded = Buffer.alloc(16);
  nlmsghdr.encode({ length: 0x11223344, type: 0x5566, flags: 0x7788, seq: 0x99aabbcc, pid: 0xddeeff00 }, encoded, 0);

  t.deepEqual(encoded, bytes(u32(0x11223344), u16(0x5566), u16(0x7788), u32(0x99aabbcc), u32(0xddeeff00)));
});

test('nlmsgerr error is signed', (t) => {
  const raw = bytes(
    s32(-17), // error
    u32(40), // msg.nlmsg_len
    u16(20), // msg.nlmsg_type
    u16(0x605), // msg.nlmsg_flags
    u32(9), // msg.nlmsg_seq
    u32(0), // msg.nlmsg_pid
  );

  const decoded = nlmsgerr.decode(raw, 0);

  t.is(decoded.error, -17);
  t.deepEqual(decoded.request, { length: 40, type: 20, flags: 0x605, seq: 9, pid: 0 });
});

test('ifinfomsg index is signed', (t) => {
  const raw = bytes(u8(0), u8(0), u16(1), s32(-1), u32(1), u32(0xffffffff));

  t.deepEqual(ifinfomsg.decode(raw, 0), { family: 0, pad: 0, type: 1, index: -1, flags: 1, change: 0xffffffff });
});
