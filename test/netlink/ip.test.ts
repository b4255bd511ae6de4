import { spawnSync } from 'node:child_process';

import test from 'ava';

import {
  AddressSyntaxError,
  addressFamilyOf,
  formatAddress,
  formatHardwareAddress,
  parseAddress,
  parseAddressWithPrefix,
  parseHardwareAddress,
} from '../../src/netlink/ip.js';
import { ipv6Groups } from './helpers/bytes.js';
import { mulberry32, seedFromEnvironment } from './helpers/random.js';

// Expected text follows glibc's inet_ntop(). The first longest run of two or more zero groups
// becomes "::", and a single zero group stays "0". Hex is lower case without leading zeros.
// The last 32 bits print as dotted IPv4 after ::ffff: (IPv4-mapped) and after exactly six
// leading zero groups (IPv4-compatible).
const IPV6_TEXT: [number[], string][] = [
  [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
  [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
  [[0xfd00, 0, 0, 0, 0, 0, 0, 1], 'fd00::1'],
  [[0x2001, 0xdb8, 0xa160, 0, 0, 0, 0, 1], '2001:db8:a160::1'],
  [[0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304], '::ffff:1.2.3.4'],
  [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
  [[1, 0, 0, 1, 0, 0, 0, 1], '1:0:0:1::1'],
  [[1, 0, 0, 1, 0, 0, 1, 1], '1::1:0:0:1:1'],
  [[0xfe80, 0, 0, 0, 1, 0, 0, 1], 'fe80::1:0:0:1'],
  [[1, 0, 1, 0, 1, 0, 1, 0], '1:0:1:0:1:0:1:0'],
  [[0, 1, 0, 1, 0, 1, 0, 1], '0:1:0:1:0:1:0:1'],
  [[0, 0, 1, 0, 0, 0, 0, 0], '0:0:1::'],
  [[0, 0, 1, 0, 0, 1, 0, 0], '::1:0:0:1:0:0'],
  [[0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], '2001:db8::'],
  [[0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff], 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  [[0, 0, 0, 0, 0, 0, 0x0a31, 0x0001], '::10.49.0.1'],
  [[0, 0, 0, 0, 0, 0, 0, 2], '::2'],
  [[0, 0, 0, 0, 0, 0, 1, 0], '::0.1.0.0'],
  [[0, 0, 0, 0, 0, 0xffff, 0, 0], '::ffff:0.0.0.0'],
  [[0, 0, 0, 0, 0xffff, 0, 0x0102, 0x0304], '::ffff:0:102:304'],
  [[0x64, 0xff9b, 0, 0, 0, 0, 0x0102, 0x0304], '64:ff9b::102:304'],
  [[0xabcd, 0x0, 0xef, 0, 0, 0, 0, 0x10], 'abcd:0:ef::10'],
];

for (const [groups, expected] of IPV6_TEXT) {
  test(`IPv6 ${expected} formats like inet_ntop`, (t) => {
    const bytes = ipv6Groups(...groups);

    t.is(formatAddress(bytes), expected);
    t.deepEqual(parseAddress(expected), bytes);
  });
}

test('IPv4 formats as dotted quad', (t) => {
  t.is(formatAddress(Buffer.from([10, 49, 0, 1])), '10.49.0.1');
  t.is(formatAddress(Buffer.from([0, 0, 0, 0])), '0.0.0.0');
  t.is(formatAddress(Buffer.from([255, 255, 255, 255])), '255.255.255.255');
});

test('other lengths format as hex', (t) => {
  t.is(formatAddress(Buffer.from([2, 0, 0x5e, 0x10, 0, 1])), '02:00:5e:10:00:01');
  t.is(formatAddress(Buffer.alloc(0)), '');
});

test('IPv6 parses in long and mixed forms', (t) => {
  const expected = ipv6Groups(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

  t.deepEqual(parseAddress('2001:0db8:0000:0000:0000:0000:0000:0001'), expected);
  t.deepEqual(parseAddress('2001:DB8::1'), expected);
  t.deepEqual(parseAddress('2001:db8:0:0::0:1'), expected);
  t.deepEqual(parseAddress('1:2:3:4:5:6:1.2.3.4'), ipv6Groups(1, 2, 3, 4, 5, 6, 0x0102, 0x0304));
  t.deepEqual(parseAddress('::1.2.3.4'), ipv6Groups(0, 0, 0, 0, 0, 0, 0x0102, 0x0304));
});

test('invalid address text is rejected', (t) => {
  for (const bad of ['', '10.49.0', '10.49.0.256', '10.49.0.1/16', 'fe80::1%eth0', '1::2::3', 'fd00::1/128', 'wg0', '01.2.3.4', ' 1.2.3.4']) {
    const error = t.throws(() => parseAddress(bad), { instanceOf: AddressSyntaxError }, `input ${JSON.stringify(bad)}`);
    t.is(error?.value, bad);
  }
});

test('address family of text', (t) => {
  t.is(addressFamilyOf('10.0.0.1'), 4);
  t.is(addressFamilyOf('fd00::1'), 6);
  t.is(addressFamilyOf('::ffff:1.2.3.4'), 6);
  t.is(addressFamilyOf('10.0.0.1/8'), 0);
  t.is(addressFamilyOf('host'), 0);
});

test('address with prefix is parsed and canonical', (t) => {
  t.deepEqual(parseAddressWithPrefix('10.49.0.1/16'), { family: 4, address: '10.49.0.1', prefixLength: 16 });
  t.deepEqual(parseAddressWithPrefix('2001:DB8:A160:0::1/48'), { family: 6, address: '2001:db8:a160::1', prefixLength: 48 });
  t.deepEqual(parseAddressWithPrefix('fd00::1/128'), { family: 6, address: 'fd00::1', prefixLength: 128 });
  t.deepEqual(parseAddressWithPrefix('0.0.0.0/0'), { family: 4, address: '0.0.0.0', prefixLength: 0 });
});

test('address with a bad prefix is rejected', (t) => {
  for (const bad of ['10.49.0.1', '10.49.0.1/', '10.49.0.1/33', 'fd00::1/129', '10.49.0.1/-1', '10.49.0.1/1e1', '10.49.0.1/0x10', 'x/8']) {
    t.throws(() => parseAddressWithPrefix(bad), { instanceOf: AddressSyntaxError }, `input ${JSON.stringify(bad)}`);
  }
});

test('hardware addresses round trip', (t) => {
  t.deepEqual(parseHardwareAddress('02:00:5E:10:00:01'), Buffer.from([2, 0, 0x5e, 0x10, 0, 1]));
  t.is(formatHardwareAddress(Buffer.from([0xff, 0, 0xa])), 'ff:00:0a');
  for (const bad of ['', '2:00:5e:10:00:01', '02-00-5e-10-00-01', '02:00:5e:10:00:', 'zz:00']) {
    t.throws(() => parseHardwareAddress(bad), { instanceOf: AddressSyntaxError }, `input ${JSON.stringify(bad)}`);
  }
});

/** Returns 16 random bytes whose 16-bit groups are zero half of the time, so that zero runs are common. */
function randomIPv6(random: () => number): Buffer {
  const groups = Array.from({ length: 8 }, () => {
    const roll = random();
    if (roll < 0.5) return 0;
    if (roll < 0.55) return 0xffff;
    if (roll < 0.6) return 1;
    return Math.floor(random() * 0x10000);
  });
  return ipv6Groups(...groups);
}

const SEED = seedFromEnvironment();
const SAMPLES = 20_000;

test(`random IPv6 round trips (seed ${SEED})`, (t) => {
  const random = mulberry32(SEED);
  for (let i = 0; i < SAMPLES; i++) {
    const bytes = randomIPv6(random);
    const text = formatAddress(bytes);
    if (!parseAddress(text).equals(bytes)) {
      t.fail(`${bytes.toString('hex')} formats as ${text}, which parses back differently`);
      return;
    }
  }
  t.pass();
});

// Node's WHATWG URL parser serializes IPv6 hosts by RFC 5952 too, with one difference from
// inet_ntop(): it never prints an embedded IPv4 tail, so ::ffff:1.2.3.4 becomes ::ffff:102:304.
function urlHostname(text: string): string {
  return new URL(`http://[${text}]/`).hostname.slice(1, -1);
}

/** Rewrites a dotted IPv4 tail of inet_ntop() text, if any, as two hex groups. */
function withoutDottedTail(text: string): string {
  const match = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (!match) return text;
  const [, head = '', a = '0', b = '0', c = '0', d = '0'] = match;
  const high = ((Number(a) << 8) | Number(b)).toString(16);
  const low = ((Number(c) << 8) | Number(d)).toString(16);
  return `${head}${high}:${low}`;
}

test(`random IPv6 agrees with Node's URL (seed ${SEED})`, (t) => {
  const random = mulberry32(SEED + 1);
  let dotted = 0;
  for (let i = 0; i < SAMPLES; i++) {
    const bytes = randomIPv6(random);
    const ours = formatAddress(bytes);
    const node = urlHostname(ours);
    if (ours.includes('.')) dotted++;
    // The only difference allowed is the dotted tail, and Node must read our text as the same address.
    if (node !== withoutDottedTail(ours) || !parseAddress(node).equals(bytes)) {
      t.fail(`${bytes.toString('hex')}: ours ${ours}, Node's URL ${node}`);
      return;
    }
  }
  t.log(`${dotted} of ${SAMPLES} samples printed a dotted IPv4 tail, which Node's URL prints as hex`);
  t.true(dotted > 0, 'the samples should include embedded IPv4 forms');
});

test('Node URL prints mapped IPv4 as hex', (t) => {
  t.is(formatAddress(parseAddress('::ffff:1.2.3.4')), '::ffff:1.2.3.4');
  t.is(urlHostname('::ffff:1.2.3.4'), '::ffff:102:304');
});

// glibc's own inet_ntop(), reached through Python's socket module, which calls it on Linux.
const PYTHON_INET_NTOP = [
  'import socket, sys',
  'for line in sys.stdin:',
  '    print(socket.inet_ntop(socket.AF_INET6, bytes.fromhex(line.strip())))',
].join('\n');

const GLIBC_SAMPLES = (() => {
  const random = mulberry32(SEED + 2);
  return Array.from({ length: 5000 }, () => randomIPv6(random));
})();
const glibc = spawnSync('python3', ['-c', PYTHON_INET_NTOP], {
  input: `${GLIBC_SAMPLES.map((bytes) => bytes.toString('hex')).join('\n')}\n`,
  encoding: 'utf8',
});
const glibcProblem = glibc.error?.message ?? (glibc.status === 0 ? null : glibc.stderr.trim());

if (glibcProblem === null) {
  test(`random IPv6 agrees with glibc inet_ntop (seed ${SEED})`, (t) => {
    const expected = glibc.stdout.trim().split('\n');
    t.is(expected.length, GLIBC_SAMPLES.length);

    const mismatches = GLIBC_SAMPLES.map((bytes, index) => ({ hex: bytes.toString('hex'), ours: formatAddress(bytes), glibc: expected[index] })).filter(
      (sample) => sample.ours !== sample.glibc,
    );
    t.deepEqual(mismatches.slice(0, 5), []);
  });
} else {
  test.skip(`random IPv6 agrees with glibc inet_ntop: python3 unavailable (${glibcProblem})`, () => undefined);
}
