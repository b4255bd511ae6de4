/**
 * Fixed kernel structs, declared once with buffer-layout. A unit test compares each
 * span with the kernel's sizeof.
 */
import { struct, u8, u16, u32, s32, Structure } from 'buffer-layout';

/** struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; } */
export interface NlMsgHdr {
  length: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}
export const nlmsghdr: Structure<NlMsgHdr> = nlmsghdrLayout();

// nlmsgerr embeds a whole nlmsghdr, so the declaration is shared.
function nlmsghdrLayout(property?: string): Structure<NlMsgHdr> {
  return struct<NlMsgHdr>([u32('length'), u16('type'), u16('flags'), u32('seq'), u32('pid')], property);
}

/** struct nlmsgerr { int error; struct nlmsghdr msg; }: the header of the failed request follows the code. */
export interface NlMsgErr {
  error: number;
  request: NlMsgHdr;
}
export const nlmsgerr: Structure<NlMsgErr> = struct<NlMsgErr>([s32('error'), nlmsghdrLayout('request')]);

/** struct rtgenmsg { unsigned char rtgen_family; } */
export interface RtGenMsg {
  family: number;
}
export const rtgenmsg: Structure<RtGenMsg> = struct<RtGenMsg>([u8('family')]);

/**
 * struct ifinfomsg { unsigned char ifi_family; unsigned char __ifi_pad; unsigned short ifi_type;
 *                    int ifi_index; unsigned ifi_flags; unsigned ifi_change; }
 */
export interface IfInfoMsg {
  family: number;
  pad: number;
  type: number;
  index: number;
  flags: number;
  change: number;
}
export const ifinfomsg: Structure<IfInfoMsg> = struct<IfInfoMsg>([
  u8('family'),
  u8('pad'),
  u16('type'),
  s32('index'),
  u32('flags'),
  u32('change'),
]);

/**
 * struct ifaddrmsg { __u8 ifa_family; __u8 ifa_prefixlen; __u8 ifa_flags; __u8 ifa_scope;
 *                    __u32 ifa_index; }
 */
export interface IfAddrMsg {
  family: number;
  prefixLength: number;
  flags: number;
  scope: number;
  index: number;
}
export const ifaddrmsg: Structure<IfAddrMsg> = struct<IfAddrMsg>([
  u8('family'),
  u8('prefixLength'),
  u8('flags'),
  u8('scope'),
  u32('index'),
]);

/**
 * struct rtmsg { unsigned char rtm_family, rtm_dst_len, rtm_src_len, rtm_tos, rtm_table,
 *                rtm_protocol, rtm_scope, rtm_type; unsigned rtm_flags; }
 */
export interface RtMsg {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  flags: number;
}
export const rtmsg: Structure<RtMsg> = struct<RtMsg>([
  u8('family'),
  u8('dstLength'),
  u8('srcLength'),
  u8('tos'),
  u8('table'),
  u8('protocol'),
  u8('scope'),
  u8('type'),
  u32('flags'),
]);

/**
 * struct fib_rule_hdr { __u8 family, dst_len, src_len, tos, table, res1, res2, action;
 *                       __u32 flags; }
 */
export interface FibRuleHdr {
  family: number;
  dstLength: number;
  srcLength: number;
  tos: number;
  table: number;
  reserved1: number;
  reserved2: number;
  action: number;
  flags: number;
}
export const fibRuleHdr: Structure<FibRuleHdr> = struct<FibRuleHdr>([
  u8('family'),
  u8('dstLength'),
  u8('srcLength'),
  u8('tos'),
  u8('table'),
  u8('reserved1'),
  u8('reserved2'),
  u8('action'),
  u32('flags'),
]);

/** struct ifa_cacheinfo { __u32 ifa_prefered; __u32 ifa_valid; __u32 cstamp; __u32 tstamp; } */
export interface IfaCacheInfo {
  preferred: number;
  valid: number;
  created: number;
  updated: number;
}
export const ifaCacheinfo: Structure<IfaCacheInfo> = struct<IfaCacheInfo>([
  u32('preferred'),
  u32('valid'),
  u32('created'),
  u32('updated'),
]);

/** struct rtnl_link_stats64 begins with rx/tx packets and bytes, each a __u64. */
export const RTNL_LINK_STATS64_MIN = 4 * 8;
