import test from 'ava';

import { decodeAttributes, defineTable, encodeAttributes, keyOf } from '../../src/netlink/attributes.js';
import { Writer } from '../../src/netlink/writer.js';
import { attr, bytes, cstring, ipv4, ipv6Groups, nest, pad, s32, text, u16, u16be, u32, u64, u8 } from './helpers/bytes.js';

const inner = defineTable('test-inner', [{ type: 1, name: 'value', kind: 'u32' }]);

const table = defineTable('test-attrs', [
  { type: 1, name: 'small', kind: 'u8' },
  { type: 2, name: 'short', kind: 'u16' },
  { type: 3, name: 'word', kind: 'u32' },
  { type: 4, name: 'signed', kind: 's32' },
  { type: 5, name: 'wide', kind: 'u64' },
  { type: 6, name: 'port', kind: 'u16be' },
  { type: 7, name: 'name', kind: 'string' },
  { type: 8, name: 'kind', kind: 'string', terminated: false },
  { type: 9, name: 'blob', kind: 'binary' },
  { type: 10, name: 'ip', kind: 'address' },
  { type: 11, name: 'mac', kind: 'hwaddr' },
  { type: 12, name: 'present', kind: 'flag' },
  { type: 13, name: 'inner', kind: 'nested', nested: inner },
  { type: 14, name: 'opaque', kind: 'nested' },
  { type: 15, name: 'tag', kind: 'u32', repeated: true },
  { type: 16, name: 'flagged', kind: 'nested', nested: inner, flagged: true },
  { type: 17, name: 'label', kind: 'u32be' },
  { type: 18, name: 'tunnel', kind: 'u64be' },
]);

function encode(values: Record<string, unknown>): Buffer {
  const writer = new Writer();
  encodeAttributes(writer, table, values);
  return writer.toBuffer();
}

function decode(buffer: Buffer): Record<string, unknown> {
  return decodeAttributes(buffer, 0, buffer.length, table);
}

const ROUND_TRIPS: [string, Record<string, unknown>, Buffer][] = [
  ['u8 0', { small: 0 }, bytes(u16(5), u16(1), u8(0), pad(3))],
  ['u8 255', { small: 255 }, bytes(u16(5), u16(1), u8(255), pad(3))],
  ['u16 65535', { short: 65535 }, bytes(u16(6), u16(2), u16(65535), pad(2))],
  ['u32 0', { word: 0 }, bytes(u16(8), u16(3), u32(0))],
  ['u32 2^32-1', { word: 0xffffffff }, bytes(u16(8), u16(3), u32(0xffffffff))],
  ['s32 -1', { signed: -1 }, bytes(u16(8), u16(4), s32(-1))],
  ['s32 -2^31', { signed: -0x80000000 }, bytes(u16(8), u16(4), s32(-0x80000000))],
  ['s32 2^31-1', { signed: 0x7fffffff }, bytes(u16(8), u16(4), s32(0x7fffffff))],
  ['u64 0', { wide: 0n }, bytes(u16(12), u16(5), u64(0n))],
  ['u64 2^53+1', { wide: 2n ** 53n + 1n }, bytes(u16(12), u16(5), u64(2n ** 53n + 1n))],
  ['u64 2^64-1', { wide: 2n ** 64n - 1n }, bytes(u16(12), u16(5), u64(2n ** 64n - 1n))],
  ['u16be port 51820', { port: 51820 }, bytes(u16(6), u16(6), u16be(51820), pad(2))],
  ['string', { name: 'wireguard-ns' }, bytes(u16(17), u16(7), cstring('wireguard-ns'), pad(3))],
  ['empty string', { name: '' }, bytes(u16(5), u16(7), u8(0), pad(3))],
  ['UTF-8 string', { name: 'ünï' }, bytes(u16(10), u16(7), cstring('ünï'), pad(2))],
  ['unterminated string', { kind: 'veth' }, bytes(u16(8), u16(8), text('veth'))],
  ['binary', { blob: bytes(u8(1), u8(2), u8(3)) }, bytes(u16(7), u16(9), u8(1), u8(2), u8(3), pad(1))],
  ['IPv4 address', { ip: '192.0.2.1' }, bytes(u16(8), u16(10), ipv4('192.0.2.1'))],
  ['IPv4 any', { ip: '0.0.0.0' }, bytes(u16(8), u16(10), ipv4('0.0.0.0'))],
  ['IPv6 address', { ip: '2001:db8::ff00:42:8329' }, bytes(u16(20), u16(10), ipv6Groups(0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329))],
  ['IPv6 any', { ip: '::' }, bytes(u16(20), u16(10), ipv6Groups(0, 0, 0, 0, 0, 0, 0, 0))],
  ['Ethernet address', { mac: '02:00:5e:10:00:01' }, bytes(u16(10), u16(11), [2, 0, 0x5e, 0x10, 0, 1], pad(2))],
  ['InfiniBand-length address', { mac: Array.from({ length: 20 }, (_, i) => (i * 13).toString(16).padStart(2, '0')).join(':') }, bytes(u16(24), u16(11), Array.from({ length: 20 }, (_, i) => i * 13))],
  ['flag', { present: true }, bytes(u16(4), u16(12))],
  ['nested table', { inner: { value: 7 } }, bytes(u16(12), u16(13), u16(8), u16(1), u32(7))],
  ['nested bytes', { opaque: bytes(attr(3, u8(1))) }, bytes(u16(12), u16(14), attr(3, u8(1)))],
  ['nested with NLA_F_NESTED', { flagged: { value: 7 } }, bytes(u16(12), u16(16 | 0x8000), u16(8), u16(1), u32(7))],
  ['u32be flow label', { label: 0xabcde }, bytes(u16(8), u16(17), [0x00, 0x0a, 0xbc, 0xde])],
  ['u64be tunnel id', { tunnel: 0x0102030405060708n }, bytes(u16(12), u16(18), [1, 2, 3, 4, 5, 6, 7, 8])],
  ['repeated', { tag: [1, 2] }, bytes(attr(15, u32(1)), attr(15, u32(2)))],
];

for (const [name, values, expected] of ROUND_TRIPS) {
  test(`${name} encodes and decodes`, (t) => {
    const encoded = encode(values);

    t.deepEqual(encoded, expected);
    t.deepEqual(decode(encoded), values);
  });
}

test('string with or without NUL', (t) => {
  const withNul = bytes(u16(7), u16(7), cstring('lo'), pad(1));
  const withoutNul = bytes(u16(6), u16(7), text('lo'), pad(2));
  const withTwoNuls = bytes(u16(8), u16(7), cstring('lo'), u8(0));

  t.is(decode(withNul).name, 'lo');
  t.is(decode(withoutNul).name, 'lo');
  t.is(decode(withTwoNuls).name, 'lo');
});

test('unterminated string stops at its attribute', (t) => {
  // The next attribute's bytes must not leak into the string.
  const buffer = bytes(u16(6), u16(7), text('lo'), pad(2), attr(3, u32(0x41414141)));

  t.deepEqual(decode(buffer), { name: 'lo', word: 0x41414141 });
});

test('longer fixed-size payload is accepted', (t) => {
  // A u8 sent in a u32, as some kernel attributes grew.
  t.is(decode(bytes(attr(1, u32(9)))).small, 9);
});

test('unknown attributes are kept', (t) => {
  const buffer = bytes(attr(3, u32(1)), attr(99, u8(1), u8(2), u8(3)), nest(100, attr(1, u32(5))), attr(101));

  const decoded = decode(buffer);

  t.deepEqual(decoded.unknown, [
    { type: 99, nested: false, data: bytes(u8(1), u8(2), u8(3)) },
    { type: 100, nested: true, data: attr(1, u32(5)) },
    { type: 101, nested: false, data: Buffer.alloc(0) },
  ]);
  t.deepEqual(encode(decoded), buffer);
});

test('NLA_F_NET_BYTEORDER is masked off the type', (t) => {
  const buffer = bytes(u16(8), u16(3 | 0x4000), u32(17));

  t.is(decode(buffer).word, 17);
});

test('last attribute wins when repeated without the flag', (t) => {
  t.is(decode(bytes(attr(3, u32(1)), attr(3, u32(2)))).word, 2);
});

test('trailing bytes shorter than a header are ignored', (t) => {
  // As nla_parse() does, apart from a warning.
  t.deepEqual(decode(bytes(attr(3, u32(4)), pad(3))), { word: 4 });
});

test('attribute keys are camelCase spec names', (t) => {
  t.is(keyOf('link-netnsid'), 'linkNetnsid');
  t.is(keyOf('gso-ipv4-max-size'), 'gsoIpv4MaxSize');
  t.is(keyOf('mtu'), 'mtu');
});

test('duplicate attribute numbers are rejected', (t) => {
  t.throws(
    () =>
      defineTable('broken', [
        { type: 1, name: 'a', kind: 'u8' },
        { type: 1, name: 'b', kind: 'u8' },
      ]),
    { message: /duplicate or reserved attribute b \(1\)/ },
  );
});

test('the key unknown is reserved', (t) => {
  t.throws(() => defineTable('broken', [{ type: 1, name: 'unknown', kind: 'u8' }]), { message: /reserved attribute unknown/ });
});
