#!/usr/bin/env node
/**
 * Captures the rtnetlink requests that iproute2 sends for each change this library makes, as
 * fixtures for test/netlink/wire.test.ts, which compares them with the requests our ops build.
 *
 * Each case runs in a throwaway namespace of its own, `unshare --mount --net` with a private
 * tmpfs on /run. So the script never changes the network of the namespace it is started in,
 * and every case starts from the same interface indexes. Inside, the case's setup commands run first,
 * then its command runs under `strace -e trace=sendmsg,sendto -e write=all`, which dumps every
 * byte `ip` sends. The requests other than RTM_GET* (the lookups `ip` makes before the change)
 * are stored as hex, with the exact command, the setup and the interface indexes. The probe
 * that `ip link` sends first is left out too (see isNewlinkProbe).
 *
 * Usage, as root (strace, iproute2 and util-linux installed):
 *
 *   node scripts/capture-wire-fixtures.mjs test/fixtures/wire
 *
 * Output: one OUTDIR/<case>.json per case.
 */

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';

// rtnetlink message types are grouped in fours (NEW, DEL, GET, SET) from RTM_BASE 16, so a
// type whose offset from 16 is 2 modulo 4 is a GET (rtnetlink.h).
const RTM_BASE = 16;
const RTM_NEWLINK = 16;
const NLMSG_HDRLEN = 16;
const SIZEOF_IFINFOMSG = 16;

/**
 * The cases. `$PEER` in a command or setup line is replaced with the pid of a process that
 * the case starts in a namespace of its own, for the `netns PID` forms.
 */
const CASES = [
  // Links.
  { name: 'link-add-veth', setup: [], command: 'ip link add va type veth peer name vb' },
  { name: 'link-add-veth-peer-netns-fd', setup: ['ip netns add other'], command: 'ip link add va type veth peer name vb netns other' },
  { name: 'link-add-veth-peer-netns-pid', peer: true, setup: [], command: 'ip link add va type veth peer name vb netns $PEER' },
  { name: 'link-add-bridge', setup: [], command: 'ip link add br0 type bridge' },
  { name: 'link-set-up', setup: ['ip link add br0 type bridge'], command: 'ip link set dev br0 up' },
  { name: 'link-set-mtu', setup: ['ip link add br0 type bridge'], command: 'ip link set dev br0 mtu 1400' },
  { name: 'link-set-alias', setup: ['ip link add br0 type bridge'], command: 'ip link set dev br0 alias algo-netns' },
  {
    name: 'link-set-netns-fd',
    setup: ['ip netns add other', 'ip link add va type veth peer name vb'],
    command: 'ip link set dev va netns other',
  },
  {
    name: 'link-set-netns-pid',
    peer: true,
    setup: ['ip link add va type veth peer name vb'],
    command: 'ip link set dev va netns $PEER',
  },
  { name: 'link-delete', setup: ['ip link add br0 type bridge'], command: 'ip link del dev br0' },

  // Addresses.
  { name: 'address-add-v4', setup: ['ip link add br0 type bridge'], command: 'ip addr add 10.49.0.1/16 dev br0' },
  { name: 'address-add-v6', setup: ['ip link add br0 type bridge'], command: 'ip -6 addr add 2001:db8:a160::1/48 dev br0' },
  { name: 'address-add-v6-nodad', setup: ['ip link add br0 type bridge'], command: 'ip -6 addr add 2001:db8:a160::1/48 dev br0 nodad' },
  {
    name: 'address-delete-v4',
    setup: ['ip link add br0 type bridge', 'ip addr add 10.49.0.1/16 dev br0'],
    command: 'ip addr del 10.49.0.1/16 dev br0',
  },
  {
    name: 'address-delete-v6',
    setup: ['ip link add br0 type bridge', 'ip -6 addr add 2001:db8:a160::1/48 dev br0 nodad'],
    command: 'ip -6 addr del 2001:db8:a160::1/48 dev br0',
  },

  // Routes. The link is up with an address in each family, so that gateways are reachable.
  ...routeCases(),

  // Rules.
  { name: 'rule-add-v4-prohibit', setup: [], command: 'ip rule add from 10.49.0.0/16 to 10.48.0.0/16 prohibit priority 100 protocol 245' },
  { name: 'rule-add-v4-lookup-iif', setup: [], command: 'ip rule add iif lo lookup 1000 priority 101' },
  { name: 'rule-add-v4-lookup-main', setup: [], command: 'ip rule add to 10.62.0.0/16 oif lo lookup main priority 102' },
  { name: 'rule-add-v6-unreachable', setup: [], command: 'ip -6 rule add from 2001:db8:a160::/48 unreachable priority 100' },
  {
    name: 'rule-delete-v4-prohibit',
    setup: ['ip rule add from 10.49.0.0/16 to 10.48.0.0/16 prohibit priority 100 protocol 245'],
    command: 'ip rule del from 10.49.0.0/16 to 10.48.0.0/16 prohibit priority 100 protocol 245',
  },
  {
    name: 'rule-delete-v6-unreachable',
    setup: ['ip -6 rule add from 2001:db8:a160::/48 unreachable priority 100'],
    command: 'ip -6 rule del from 2001:db8:a160::/48 unreachable priority 100',
  },
];

function routeCases() {
  const link = [
    'sysctl -q -w net.ipv6.conf.default.accept_dad=0',
    'ip link add br0 type bridge',
    'ip link set dev br0 up',
    'ip addr add 192.0.2.1/24 dev br0',
    'ip -6 addr add 2001:db8:1::1/64 dev br0 nodad',
  ];
  return [
    { name: 'route-add-v4-gateway', setup: link, command: 'ip route add 198.51.100.0/24 via 192.0.2.2 dev br0' },
    { name: 'route-add-v4-device-table-metric', setup: link, command: 'ip route add 203.0.113.0/24 dev br0 table 100 metric 10' },
    { name: 'route-add-v4-unreachable', setup: link, command: 'ip route add unreachable 10.0.0.0/8' },
    { name: 'route-add-v4-prohibit-table-1000', setup: link, command: 'ip route add prohibit 10.1.0.0/16 table 1000' },
    { name: 'route-add-v4-blackhole-metric', setup: link, command: 'ip route add blackhole 10.2.0.0/16 metric 5' },
    { name: 'route-add-v4-default-protocol', setup: link, command: 'ip -4 route add default via 192.0.2.2 dev br0 protocol 245' },
    { name: 'route-add-v6-default', setup: link, command: 'ip -6 route add default via 2001:db8:1::2 dev br0' },
    { name: 'route-add-v6-device-table-metric', setup: link, command: 'ip -6 route add 2001:db8:7::/64 dev br0 table 100 metric 10' },
    { name: 'route-add-v6-unreachable-table', setup: link, command: 'ip -6 route add unreachable 2001:db8:ffff::/48 table 100' },
    {
      name: 'route-replace-v4-gateway',
      setup: [...link, 'ip route add 198.51.100.0/24 via 192.0.2.2 dev br0'],
      command: 'ip route replace 198.51.100.0/24 via 192.0.2.3 dev br0',
    },
    {
      name: 'route-replace-v6-metric',
      setup: [...link, 'ip -6 route add 2001:db8:5::/64 via 2001:db8:1::2 dev br0 metric 300'],
      command: 'ip -6 route replace 2001:db8:5::/64 via 2001:db8:1::3 dev br0 metric 300',
    },
    {
      name: 'route-delete-v4',
      setup: [...link, 'ip route add 198.51.100.0/24 via 192.0.2.2 dev br0'],
      command: 'ip route del unicast 198.51.100.0/24 table main metric 0',
    },
    {
      name: 'route-delete-v4-table-1000',
      setup: [...link, 'ip route add prohibit 10.1.0.0/16 table 1000'],
      command: 'ip route del prohibit 10.1.0.0/16 table 1000 metric 0',
    },
    {
      name: 'route-delete-v6',
      setup: [...link, 'ip -6 route add default via 2001:db8:1::2 dev br0'],
      command: 'ip -6 route del unicast default table main metric 1024',
    },
  ];
}

/** Returns the shell script that runs one case inside its namespace and writes the trace. */
function caseScript(testCase, traceFile) {
  const lines = [
    'set -e',
    'mount -n -t tmpfs -o mode=0755 capture /run',
    'ip link set lo up',
  ];
  if (testCase.peer) {
    // A process in a namespace of its own, named by its pid. unshare execs sleep, so $! is
    // the pid inside the new namespace.
    lines.push('unshare --net sleep 600 & PEER=$!', 'trap \'kill $PEER\' EXIT', 'echo "peer $PEER"');
  }
  lines.push(...testCase.setup);
  lines.push('echo "links $(ip -j link show)"');
  lines.push(`strace -qq -o ${traceFile} -e trace=sendmsg,sendto -e write=all ${testCase.command}`);
  return lines.join('\n');
}

/** Reads strace's hex dumps (`| 00000  30 00 ...`) into one Buffer per system call. */
function parseTrace(text) {
  const calls = [];
  let current = null;
  for (const line of text.split('\n')) {
    if (/^(sendmsg|sendto)\(/.test(line)) {
      current = [];
      calls.push(current);
      continue;
    }
    const dump = /^ \| [0-9a-f]{5}  ((?:[0-9a-f]{2} {1,2}){1,16})/.exec(line);
    if (dump && current) current.push(...dump[1].trim().split(/\s+/).map((byte) => parseInt(byte, 16)));
  }
  return calls.map((bytes) => Buffer.from(bytes));
}

/** Splits a datagram into its messages, by nlmsg_len. */
function splitMessages(datagram) {
  const messages = [];
  for (let offset = 0; offset + NLMSG_HDRLEN <= datagram.length; ) {
    const length = datagram.readUInt32LE(offset);
    if (length < NLMSG_HDRLEN || offset + length > datagram.length) throw new Error(`bad nlmsg_len ${length} at ${offset}`);
    messages.push(datagram.subarray(offset, offset + length));
    offset += (length + 3) & ~3;
  }
  return messages;
}

function isGetRequest(message) {
  const type = message.readUInt16LE(4);
  return type >= RTM_BASE && (type - RTM_BASE) % 4 === 2;
}

/**
 * Returns whether `message` is the probe `ip link` sends before its request: an RTM_NEWLINK
 * with sequence 0 and a bare ifinfomsg, which checks that the kernel takes RTM_NEWLINK
 * (iplink_have_newlink in iproute2). It changes nothing.
 */
function isNewlinkProbe(message) {
  return message.readUInt16LE(4) === RTM_NEWLINK && message.readUInt32LE(8) === 0 && message.length === NLMSG_HDRLEN + SIZEOF_IFINFOMSG;
}

function captureCase(testCase, workDirectory) {
  const traceFile = join(workDirectory, `${testCase.name}.trace`);
  const script = caseScript(testCase, traceFile);
  const output = execFileSync('unshare', ['--mount', '--net', '--propagation', 'private', '--', 'sh', '-c', script], { encoding: 'utf8' });

  const peer = /^peer (\d+)$/m.exec(output)?.[1];
  const linksLine = /^links (.*)$/m.exec(output)?.[1];
  if (!linksLine) throw new Error(`${testCase.name}: no link list in the output:\n${output}`);
  const links = Object.fromEntries(JSON.parse(linksLine).map((link) => [link.ifname, link.ifindex]));
  const substitute = (line) => (peer === undefined ? line : line.replaceAll('$PEER', peer));

  const messages = parseTrace(readFileSync(traceFile, 'utf8'))
    .flatMap(splitMessages)
    .filter((message) => !isGetRequest(message) && !isNewlinkProbe(message));
  if (messages.length === 0) throw new Error(`${testCase.name}: ip sent no change request`);

  return {
    about: 'What iproute2 sends for one command, captured with strace by scripts/capture-wire-fixtures.mjs in a throwaway namespace. Messages are hex; RTM_GET* lookups and the RTM_NEWLINK probe of `ip link` are left out.',
    name: testCase.name,
    kernel: release(),
    iproute2: execFileSync('ip', ['-V'], { encoding: 'utf8' }).trim(),
    setup: testCase.setup.map(substitute),
    command: substitute(testCase.command),
    links,
    ...(peer === undefined ? {} : { peerPid: Number(peer) }),
    messages: messages.map((message) => message.toString('hex')),
  };
}

function main() {
  const outputDirectory = process.argv[2];
  if (!outputDirectory) throw new Error('usage: node scripts/capture-wire-fixtures.mjs OUTDIR');
  if (process.getuid?.() !== 0) throw new Error('run as root: each case needs `unshare --mount --net`');

  const workDirectory = mkdtempSync(join(tmpdir(), 'wire-capture-'));
  mkdirSync(outputDirectory, { recursive: true });
  try {
    for (const testCase of CASES) {
      const fixture = captureCase(testCase, workDirectory);
      writeFileSync(join(outputDirectory, `${testCase.name}.json`), `${JSON.stringify(fixture, null, 2)}\n`);
      process.stdout.write(`${testCase.name}: ${fixture.messages.length} message(s)\n`);
    }
  } finally {
    rmSync(workDirectory, { recursive: true, force: true });
  }
}

main();
