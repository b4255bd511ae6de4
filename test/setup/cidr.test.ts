import test from 'ava';

import {
  containsAddress,
  formatAddress,
  hostInPrefix,
  networkOf,
  parseAddress,
  parseInterfaceAddress,
  parsePrefix,
  prefixesOverlap,
  PrefixError,
} from '../../src/setup/cidr.js';

// Valid networks: input, canonical text, family, address bytes in hex.
const validPrefixes: ReadonlyArray<[string, string, 4 | 6, string]> = [
  ['10.47.255.0/30', '10.47.255.0/30', 4, '0a2fff00'],
  ['0.0.0.0/0', '0.0.0.0/0', 4, '00000000'],
  ['255.255.255.255/32', '255.255.255.255/32', 4, 'ffffffff'],
  ['172.16.0.1/32', '172.16.0.1/32', 4, 'ac100001'],
  ['10.248.0.0/13', '10.248.0.0/13', 4, '0af80000'],
  ['2001:db8:a160::/48', '2001:db8:a160::/48', 6, '20010db8a16000000000000000000000'],
  ['2001:DB8:A160:0:0:0:0:0/48', '2001:db8:a160::/48', 6, '20010db8a16000000000000000000000'],
  ['2001:0db8:a160:0000:0000:0000:0000:0001/128', '2001:db8:a160::1/128', 6, '20010db8a16000000000000000000001'],
  ['fd00::1/128', 'fd00::1/128', 6, 'fd000000000000000000000000000001'],
  ['::/0', '::/0', 6, '00000000000000000000000000000000'],
  ['::1/128', '::1/128', 6, '00000000000000000000000000000001'],
  ['fe80::/10', 'fe80::/10', 6, 'fe800000000000000000000000000000'],
  ['fd47:255::/126', 'fd47:255::/126', 6, 'fd470255000000000000000000000000'],
  ['::ffff:1.2.3.4/128', '::ffff:1.2.3.4/128', 6, '00000000000000000000ffff01020304'],
  ['0:0:0:0:0:ffff:102:304/128', '::ffff:1.2.3.4/128', 6, '00000000000000000000ffff01020304'],
  ['::1.2.3.4/128', '::1.2.3.4/128', 6, '00000000000000000000000001020304'],
  ['64:ff9b::192.0.2.33/128', '64:ff9b::c000:221/128', 6, '0064ff9b0000000000000000c0000221'],
];

for (const [input, canonical, family, hex] of validPrefixes) {
  test(`parsePrefix accepts ${input}`, (t) => {
    const prefix = parsePrefix(input);

    t.is(prefix.family, family);
    t.is(prefix.address.toString('hex'), hex);
    t.is(prefix.address.length, family === 4 ? 4 : 16);
    t.is(prefix.text, canonical);
    t.is(prefix.prefixLength, Number(input.split('/')[1]));
  });
}

// Invalid text for parsePrefix, and a fragment of the reason it gives.
const invalidPrefixes: ReadonlyArray<[string, string]> = [
  ['10.0.0.256/8', 'greater than 255'],
  ['10.0.0.0/33', 'prefix length 33 is greater than 32'],
  ['fd00::/129', 'prefix length 129 is greater than 128'],
  ['::1::2/64', '"::" may appear only once'],
  ['fd00::1', 'prefix length is missing'],
  ['10.0.0.0', 'prefix length is missing'],
  [' 10.0.0.0/8', 'whitespace'],
  ['10.0.0.0/8 ', 'not a decimal number'],
  ['10.0.0.0 /8', 'whitespace'],
  ['1.2.3/24', '4 decimal parts'],
  ['1.2.3.4.5/32', '4 decimal parts'],
  ['010.0.0.1/8', 'without leading zeros'],
  ['10.0.0.0/08', 'without leading zeros'],
  ['10.0.0.0/', 'not a decimal number'],
  ['10.0.0.0/-1', 'not a decimal number'],
  ['10.0.0.0/+8', 'not a decimal number'],
  ['10.0.0.0/8/8', 'not a decimal number'],
  ['/8', 'the address is empty'],
  ['', 'prefix length is missing'],
  ['0x0a.0.0.0/8', 'without leading zeros'],
  ['10..0.0/8', 'without leading zeros'],
  ['1:2:3:4:5:6:7:8:9/128', 'has 8 groups, got 9'],
  ['1:2:3:4:5:6:7/128', 'has 8 groups, got 7'],
  ['1:2:3:4::5:6:7:8/128', 'at least one zero group'],
  ['12345::/16', '1 to 4 hexadecimal digits'],
  ['g::/16', '1 to 4 hexadecimal digits'],
  [':1::/64', '1 to 4 hexadecimal digits'],
  ['1:::2/64', '1 to 4 hexadecimal digits'],
  ['1::2:/64', '1 to 4 hexadecimal digits'],
  ['1.2.3.4::/64', 'last 32 bits'],
  ['::1.2.3.4:5/128', 'last 32 bits'],
  ['::ffff:1.2.3.256/128', 'greater than 255'],
  ['::ffff:1.2.3/128', '4 decimal parts'],
  ['fe80::1%eth0/64', 'zone indexes'],
  ['10.0.0.1/24', 'host bits are set; the network is 10.0.0.0/24'],
  ['2001:db8:a160::1/48', 'host bits are set; the network is 2001:db8:a160::/48'],
];

for (const [input, reason] of invalidPrefixes) {
  test(`parsePrefix rejects ${JSON.stringify(input)}`, (t) => {
    const error = t.throws(() => parsePrefix(input), { instanceOf: PrefixError });

    t.is(error?.text, input);
    t.true(error?.reason.includes(reason), `reason was: ${error?.reason}`);
    t.true(error?.message.includes(JSON.stringify(input)));
  });
}

test('parseInterfaceAddress keeps host bits', (t) => {
  const address = parseInterfaceAddress('10.49.0.1/16');

  t.is(address.text, '10.49.0.1/16');
  t.is(address.address.toString('hex'), '0a310001');
  t.is(address.prefixLength, 16);
  t.is(parseInterfaceAddress('2001:db8:a160::1/48').text, '2001:db8:a160::1/48');
});

test('parseInterfaceAddress requires a prefix length', (t) => {
  for (const input of ['10.49.0.1', 'fd00::1']) {
    const error = t.throws(() => parseInterfaceAddress(input), { instanceOf: PrefixError });
    t.regex(error?.reason ?? '', /prefix length is missing/);
  }
});

test('parseAddress takes a bare address only', (t) => {
  t.is(parseAddress('fd00::1').address.toString('hex'), 'fd000000000000000000000000000001');
  t.is(parseAddress('172.16.0.1').family, 4);
  t.throws(() => parseAddress('172.16.0.1/32'), { instanceOf: PrefixError, message: /without a prefix length/ });
});

// Canonical forms, cross-checked against glibc inet_ntop (what iproute2 prints).
const canonicalForms: ReadonlyArray<[string, string]> = [
  ['20010db8000000010000000000000001', '2001:db8:0:1::1'],
  ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
  ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
  ['00010002000300040005000600070000', '1:2:3:4:5:6:7:0'],
  ['00000001000000000000000000000000', '0:1::'],
  ['20010000000000000000000000000000', '2001::'],
  ['00000000000000000000000000000102', '::102'],
  ['00000000000000000000000000000002', '::2'],
  ['00000000000000000000ffff00000102', '::ffff:0.0.1.2'],
  ['000000000000ffff0000000001020304', '::ffff:0:0:102:304'],
  ['00000000000000000000fffe01020304', '::fffe:102:304'],
  ['ABCDEF0123456789ABCDEF0123456789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
  ['0a310001', '10.49.0.1'],
  ['00000000', '0.0.0.0'],
];

for (const [hex, text] of canonicalForms) {
  test(`formatAddress prints ${text}`, (t) => {
    const bytes = Buffer.from(hex, 'hex');

    t.is(formatAddress(bytes), text);
    t.is(parseAddress(text).address.toString('hex'), bytes.toString('hex'));
  });
}

test('formatAddress rejects other lengths', (t) => {
  t.throws(() => formatAddress(Buffer.alloc(5)), { instanceOf: RangeError, message: /4 or 16 bytes long, got 5/ });
});

const networks: ReadonlyArray<[string, string]> = [
  ['10.49.0.1/16', '10.49.0.0/16'],
  ['10.255.1.1/13', '10.248.0.0/13'],
  ['192.0.2.77/0', '0.0.0.0/0'],
  ['192.0.2.77/32', '192.0.2.77/32'],
  ['2001:db8:a160::1/48', '2001:db8:a160::/48'],
  ['2001:db8:a1ff::1/41', '2001:db8:a180::/41'],
  ['fd00::1/128', 'fd00::1/128'],
];

for (const [input, network] of networks) {
  test(`networkOf ${input} is ${network}`, (t) => {
    const address = parseInterfaceAddress(input);

    t.is(networkOf(address).text, network);
    t.is(address.text, input, 'the input is not modified');
  });
}

test('hostInPrefix counts from the network', (t) => {
  const transit = parsePrefix('10.47.255.0/30');

  t.is(hostInPrefix(transit, 0).text, '10.47.255.0/30');
  t.is(hostInPrefix(transit, 1).text, '10.47.255.1/30');
  t.is(hostInPrefix(transit, 2).text, '10.47.255.2/30');
  t.is(hostInPrefix(transit, 3).text, '10.47.255.3/30');
  t.is(hostInPrefix(parsePrefix('fd47:255::4/126'), 2).text, 'fd47:255::6/126');
  t.is(hostInPrefix(parseInterfaceAddress('10.47.255.9/30'), 1).text, '10.47.255.9/30');
});

test('hostInPrefix carries across bytes', (t) => {
  t.is(hostInPrefix(parsePrefix('10.0.0.0/8'), 256 * 256 + 255).text, '10.1.0.255/8');
  t.is(hostInPrefix(parsePrefix('2001:db8::/64'), 2n ** 64n - 1n).text, '2001:db8::ffff:ffff:ffff:ffff/64');
  t.is(hostInPrefix(parsePrefix('::/0'), 2n ** 128n - 1n).text, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/0');
});

test('hostInPrefix rejects hosts outside', (t) => {
  const transit = parsePrefix('10.47.255.0/30');

  const error = t.throws(() => hostInPrefix(transit, 4), { instanceOf: PrefixError });
  t.is(error?.message, 'host 4 is outside 10.47.255.0/30, which contains 4 addresses');
  t.is(error?.text, '10.47.255.0/30');
  t.throws(() => hostInPrefix(transit, -1), { instanceOf: PrefixError, message: /host -1 is outside/ });
  t.throws(() => hostInPrefix(parsePrefix('fd00::1/128'), 1), { instanceOf: PrefixError });
  t.throws(() => hostInPrefix(parsePrefix('::/0'), 2n ** 128n), { instanceOf: PrefixError });
});

// Pairs and whether they overlap; each pair is also checked in the other order.
const overlaps: ReadonlyArray<[string, string, boolean]> = [
  ['10.49.0.0/16', '10.49.0.0/16', true],
  ['10.49.0.0/16', '10.49.128.0/17', true],
  ['10.0.0.0/8', '10.255.255.252/30', true],
  ['0.0.0.0/0', '192.0.2.0/24', true],
  ['10.47.255.0/30', '10.47.255.4/30', false],
  ['10.48.0.0/16', '10.49.0.0/16', false],
  ['10.48.0.0/15', '10.49.0.0/16', true],
  ['172.16.0.1/32', '172.16.0.0/12', true],
  ['172.16.0.1/32', '172.16.0.2/32', false],
  ['2001:db8:a160::/48', '2001:db8:a160:1::/64', true],
  ['2001:db8:a160::/48', '2001:db8:4160::/48', false],
  ['fd47:255::/126', 'fd47:255::4/126', false],
  ['fd00::/8', 'fd00::1/128', true],
  ['::/0', '2001:db8::/32', true],
  ['0.0.0.0/0', '::/0', false],
  ['10.0.0.0/8', '::ffff:10.0.0.0/104', false],
];

for (const [a, b, expected] of overlaps) {
  test(`prefixesOverlap ${a} and ${b} is ${expected}`, (t) => {
    const left = parsePrefix(a);
    const right = parsePrefix(b);

    t.is(prefixesOverlap(left, right), expected);
    t.is(prefixesOverlap(right, left), expected);
  });
}

test('containsAddress checks prefix bits', (t) => {
  const pool = parsePrefix('10.49.0.0/16');

  t.true(containsAddress(pool, parseAddress('10.49.0.1')));
  t.true(containsAddress(pool, parseAddress('10.49.255.255')));
  t.false(containsAddress(pool, parseAddress('10.50.0.1')));
  t.true(containsAddress(pool, parseInterfaceAddress('10.49.7.7/8')));
  t.true(containsAddress(pool, Buffer.from([10, 49, 1, 2])));
  t.false(containsAddress(pool, parseAddress('::ffff:10.49.0.1')));
  t.true(containsAddress(parsePrefix('2001:db8:a160::/48'), parseAddress('2001:db8:a160:ffff::1')));
  t.false(containsAddress(parsePrefix('2001:db8:a160::/48'), parseAddress('2001:db8:a161::1')));
  t.true(containsAddress(parsePrefix('::/0'), parseAddress('fd00::1')));
});
