#!/usr/bin/env node
/**
 * Captures real rtnetlink replies as fixtures for the codec's unit tests.
 *
 * It builds a small state with `ip`: a veth pair, a bridge, IPv4 and IPv6 addresses with
 * lifetimes, routes in the main table and in tables 100 and 1000, and policy rules. Then it
 * opens a NETLINK_ROUTE socket with the npm `netlink` package's RawNetlinkSocket and saves
 * every datagram the kernel sends back, as hex. These are the RTM_GETLINK, RTM_GETADDR,
 * RTM_GETROUTE and RTM_GETRULE dumps, the acknowledgement of a successful change, and the
 * NLMSG_ERROR replies to rejected requests. Next to them it stores the `ip` commands that
 * built the state and the `ip -j -d` view of the same moment, which the tests use as the
 * independent oracle.
 *
 * The requests are built by hand here, not with src/netlink, so that a codec bug cannot
 * shape its own fixtures.
 *
 * Run it as root inside a throwaway network namespace, never in the machine's own:
 *
 *   unshare --mount --net --propagation private sh -c \
 *     'mount -t tmpfs tmpfs /run; ip link set lo up; node scripts/capture-netlink-fixtures.mjs test/fixtures/netlink'
 *
 * It stops before any change unless `lo` is the only link, which is true only of a new namespace.
 * Output: OUTDIR/namespace-state.json.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { RawNetlinkSocket } from 'netlink';

// Kernel ABI numbers (include/uapi/linux/netlink.h, rtnetlink.h, if_addr.h, if_link.h).
const NETLINK_ROUTE = 0;
const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x01;
const NLM_F_ACK = 0x04;
const NLM_F_DUMP = 0x300;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const RTM_NEWLINK = 16;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const RTM_DELROUTE = 25;
const RTM_GETROUTE = 26;
const RTM_GETRULE = 34;
const AF_UNSPEC = 0;
const AF_INET = 2;
const IFLA_IFNAME = 3;
const IFLA_MTU = 4;
const IFA_ADDRESS = 1;
const IFA_LOCAL = 2;
const RTA_DST = 1;
const RT_TABLE_MAIN = 254;
const SIZEOF_IFINFOMSG = 16;
const SIZEOF_IFADDRMSG = 8;
const SIZEOF_RTMSG = 12;
const SIZEOF_FIB_RULE_HDR = 12;

const REPLY_TIMEOUT_MS = 5000;
// Time for carrier and bridge port states to settle after the links come up, so that the
// netlink dumps and the `ip -j` view show the same state.
const SETTLE_MS = 2000;
const MAX_ATTEMPTS = 5;

/** The state the fixtures show, as the exact commands that build it. */
const SETUP_COMMANDS = [
  // Without DAD, IPv6 addresses are final at once and no route appears mid-capture.
  'sysctl -q -w net.ipv6.conf.default.accept_dad=0',
  'sysctl -q -w net.ipv6.conf.all.accept_dad=0',
  'ip link add ve-test type veth peer name ve-peer',
  'ip link add br-test type bridge',
  'ip link set ve-peer master br-test',
  'ip link set ve-test mtu 1420',
  'ip link set ve-test up',
  'ip link set ve-peer up',
  'ip link set br-test up',
  'ip addr add 10.49.0.1/16 dev ve-test',
  'ip addr add 10.50.0.1/24 dev br-test valid_lft 3600 preferred_lft 1800',
  'ip -6 addr add 2001:db8:a160::1/48 dev ve-test nodad',
  'ip -6 addr add fd00:50::1/64 dev br-test valid_lft 7200 preferred_lft 3600 nodad',
  'ip route add 10.60.0.0/16 via 10.49.0.2 table 100',
  'ip route add 10.61.0.0/16 via 10.49.0.2 metric 50',
  'ip route add 10.62.0.0/16 via 10.49.0.2 table 1000',
  'ip route add unreachable 10.63.0.0/16',
  'ip route add prohibit 10.64.0.0/16 table 100',
  'ip route add blackhole 10.65.0.0/16 metric 10',
  'ip -6 route add 2001:db8:1::/64 via 2001:db8:a160::2 table 100',
  'ip -6 route add unreachable 2001:db8:2::/64 metric 20',
  'ip rule add from 10.48.0.0/16 to 10.49.0.0/16 prohibit priority 100 protocol static',
  'ip rule add from 10.49.0.0/16 lookup 100 priority 200',
  'ip rule add to 10.62.0.0/16 lookup 1000 priority 210',
  'ip rule add fwmark 0x10/0xff unreachable priority 300',
  'ip -6 rule add from 2001:db8:a160::/48 lookup 100 priority 400',
  'ip -6 rule add to 2001:db8:4160::/48 blackhole priority 410',
];

/** The `ip -j -d` views saved with the dumps, by key. */
const ORACLE_COMMANDS = {
  link: 'ip -j -d link show',
  address: 'ip -j -d addr show',
  route4: 'ip -j -d -4 route show table all',
  route6: 'ip -j -d -6 route show table all',
  rule4: 'ip -j -d -4 rule show',
  rule6: 'ip -j -d -6 rule show',
};

function run(command) {
  const [file, ...args] = command.split(' ');
  return execFileSync(file, args, { encoding: 'utf8' });
}

function ipJson(command) {
  return JSON.parse(run(command));
}

function assertFreshNamespace() {
  const names = ipJson('ip -j link show').map((link) => link.ifname);
  if (names.length !== 1 || names[0] !== 'lo') {
    throw new Error(
      `will not change this network namespace: it has links ${names.join(', ')}, but a new one has only lo. ` +
        'Run the script inside `unshare --mount --net` as its header shows.',
    );
  }
}

/** Returns one netlink message: the 16-byte header around `body`, padded to 4 bytes. */
function netlinkMessage(type, flags, seq, body) {
  const length = NLMSG_HDRLEN + body.length;
  const message = Buffer.alloc((length + 3) & ~3);
  message.writeUInt32LE(length, 0);
  message.writeUInt16LE(type, 4);
  message.writeUInt16LE(flags, 6);
  message.writeUInt32LE(seq, 8);
  message.writeUInt32LE(0, 12);
  body.copy(message, NLMSG_HDRLEN);
  return message;
}

/** Returns one attribute: length, type, payload and padding. */
function attribute(type, payload) {
  const length = 4 + payload.length;
  const bytes = Buffer.alloc((length + 3) & ~3);
  bytes.writeUInt16LE(length, 0);
  bytes.writeUInt16LE(type, 2);
  payload.copy(bytes, 4);
  return bytes;
}

function u32(value) {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}

function ifinfomsg(family, index) {
  const bytes = Buffer.alloc(SIZEOF_IFINFOMSG);
  bytes.writeUInt8(family, 0);
  bytes.writeInt32LE(index, 4);
  return bytes;
}

function ifaddrmsg(family, prefixLength, index) {
  const bytes = Buffer.alloc(SIZEOF_IFADDRMSG);
  bytes.writeUInt8(family, 0);
  bytes.writeUInt8(prefixLength, 1);
  bytes.writeUInt32LE(index, 4);
  return bytes;
}

function rtmsg(family, dstLength, table) {
  const bytes = Buffer.alloc(SIZEOF_RTMSG);
  bytes.writeUInt8(family, 0);
  bytes.writeUInt8(dstLength, 1);
  bytes.writeUInt8(table, 4);
  return bytes;
}

function ipv4(text) {
  return Buffer.from(text.split('.').map(Number));
}

/** Returns each message in a datagram as {type, seq}, read from the headers. */
function messageHeaders(datagram) {
  const headers = [];
  for (let offset = 0; offset + NLMSG_HDRLEN <= datagram.length; ) {
    const length = datagram.readUInt32LE(offset);
    headers.push({ type: datagram.readUInt16LE(offset + 4), seq: datagram.readUInt32LE(offset + 8) });
    if (length < NLMSG_HDRLEN) break;
    offset += (length + 3) & ~3;
  }
  return headers;
}

/** A socket that hands out every datagram for one sequence number until its request ends. */
class Capture {
  constructor() {
    this.socket = new RawNetlinkSocket(NETLINK_ROUTE, { recvBufferSize: 1 << 20, sendBufferSize: 1 << 20 });
    this.nextSeq = 1;
    this.waiting = null;
    this.socket.on('message', (datagram) => this.waiting?.(datagram));
    this.socket.on('truncatedMessage', () => this.waiting?.(null));
  }

  /** Sends one request and returns it with the reply datagrams, through NLMSG_DONE or NLMSG_ERROR. */
  exchange(name, type, flags, body) {
    const seq = this.nextSeq++;
    const request = netlinkMessage(type, flags | NLM_F_REQUEST, seq, body);
    const replies = [];

    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no reply within ${REPLY_TIMEOUT_MS} ms`)), REPLY_TIMEOUT_MS);
      this.waiting = (datagram) => {
        if (datagram === null) {
          reject(new Error(`${name}: a reply was truncated`));
          return;
        }
        const headers = messageHeaders(datagram).filter((header) => header.seq === seq);
        if (headers.length === 0) return;
        replies.push(datagram.toString('hex'));
        if (headers.some((header) => header.type === NLMSG_DONE || header.type === NLMSG_ERROR)) {
          clearTimeout(timer);
          this.waiting = null;
          resolve({ name, request: request.toString('hex'), replies });
        }
      };
      this.socket.send(request, {}, (error) => {
        if (error) reject(new Error(`${name}: send failed: ${error.message}`));
      });
    });
  }

  close() {
    this.socket.close();
  }
}

/** The parts of the `ip -j` views that must not change while the dumps run (no timers, lifetimes or expiry times). */
function stableView(views) {
  return JSON.stringify(views, (key, value) => (/_timer$|_life_time$|^expires$/.test(key) ? undefined : value));
}

function oracle() {
  return Object.fromEntries(Object.entries(ORACLE_COMMANDS).map(([key, command]) => [key, ipJson(command)]));
}

async function captureAll(capture, veTestIndex) {
  const exchanges = [];
  exchanges.push(await capture.exchange('link-dump', RTM_GETLINK, NLM_F_DUMP, ifinfomsg(AF_UNSPEC, 0)));
  exchanges.push(await capture.exchange('address-dump', RTM_GETADDR, NLM_F_DUMP, ifaddrmsg(AF_UNSPEC, 0, 0)));
  exchanges.push(await capture.exchange('route-dump', RTM_GETROUTE, NLM_F_DUMP, rtmsg(AF_UNSPEC, 0, 0)));
  exchanges.push(await capture.exchange('rule-dump', RTM_GETRULE, NLM_F_DUMP, Buffer.alloc(SIZEOF_FIB_RULE_HDR)));

  // A change that changes nothing (the MTU is already 1420), for a real acknowledgement.
  const setMtu = Buffer.concat([ifinfomsg(AF_UNSPEC, veTestIndex), attribute(IFLA_MTU, u32(1420))]);
  exchanges.push(await capture.exchange('set-mtu-ack', RTM_NEWLINK, NLM_F_ACK, setMtu));

  const existing = Buffer.concat([
    ifaddrmsg(AF_INET, 16, veTestIndex),
    attribute(IFA_LOCAL, ipv4('10.49.0.1')),
    attribute(IFA_ADDRESS, ipv4('10.49.0.1')),
  ]);
  exchanges.push(await capture.exchange('add-existing-address', RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, existing));

  const missingRoute = Buffer.concat([rtmsg(AF_INET, 16, RT_TABLE_MAIN), attribute(RTA_DST, ipv4('10.99.0.0'))]);
  exchanges.push(await capture.exchange('delete-missing-route', RTM_DELROUTE, NLM_F_ACK, missingRoute));

  const missingLink = Buffer.concat([ifinfomsg(AF_UNSPEC, 0), attribute(IFLA_IFNAME, Buffer.from('missing0\0'))]);
  exchanges.push(await capture.exchange('get-missing-link', RTM_GETLINK, NLM_F_ACK, missingLink));
  return exchanges;
}

async function main() {
  const outputDirectory = process.argv[2];
  if (!outputDirectory) throw new Error('usage: node scripts/capture-netlink-fixtures.mjs OUTDIR');

  assertFreshNamespace();
  for (const command of SETUP_COMMANDS) run(command);
  await sleep(SETTLE_MS);

  const veTest = ipJson('ip -j link show ve-test')[0];
  const capture = new Capture();
  let result = null;
  try {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && result === null; attempt++) {
      const before = oracle();
      const exchanges = await captureAll(capture, veTest.ifindex);
      const after = oracle();
      if (stableView(before) === stableView(after)) result = { exchanges, ip: after };
      else process.stderr.write(`attempt ${attempt}: the state changed during the capture, retrying\n`);
    }
  } finally {
    capture.close();
  }
  if (result === null) throw new Error(`the state kept changing during ${MAX_ATTEMPTS} captures`);

  const fixture = {
    about:
      'Real rtnetlink replies from a throwaway network namespace, written by scripts/capture-netlink-fixtures.mjs. ' +
      'Requests and reply datagrams are hex; `ip` holds the `ip -j -d` output taken right after the dumps.',
    kernel: release(),
    iproute2: run('ip -V').trim(),
    setup: SETUP_COMMANDS,
    oracleCommands: ORACLE_COMMANDS,
    exchanges: result.exchanges,
    ip: result.ip,
  };

  mkdirSync(outputDirectory, { recursive: true });
  const path = join(outputDirectory, 'namespace-state.json');
  writeFileSync(path, `${JSON.stringify(fixture, null, 2)}\n`);
  process.stdout.write(`wrote ${path}: ${result.exchanges.map((exchange) => `${exchange.name} (${exchange.replies.length})`).join(', ')}\n`);
}

await main();
