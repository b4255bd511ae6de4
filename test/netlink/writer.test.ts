import test from 'ava';

import { linkMessage, encodeLink } from '../../src/netlink/link.js';
import { Writer } from '../../src/netlink/writer.js';
import { bytes, pad, s32, u16, u16be, u32, u64, u8 } from './helpers/bytes.js';

test('writer writes every width little-endian', (t) => {
  const writer = new Writer();
  writer.u8(0x01).u16(0x0302).u16be(0x0405).u32(0x09080706).s32(-2).u64(0x1122334455667788n).bytes(Buffer.from([0xaa]));

  t.is(writer.offset, 1 + 2 + 2 + 4 + 4 + 8 + 1);
  t.deepEqual(writer.toBuffer(), bytes(u8(1), u16(0x0302), u16be(0x0405), u32(0x09080706), s32(-2), u64(0x1122334455667788n), u8(0xaa)));
});

test('writer pads to an alignment', (t) => {
  const writer = new Writer();
  writer.u8(7).alignTo(4).u8(8).alignTo(4).alignTo(4);

  t.deepEqual(writer.toBuffer(), bytes(u8(7), pad(3), u8(8), pad(3)));
});

test('writer fills lengths of nested attributes', (t) => {
  const writer = new Writer();
  writer.nested(1, (outer) => outer.nested(2, (inner) => inner.attribute(3, (w) => w.u8(0xee))));

  t.deepEqual(writer.toBuffer(), bytes(u16(16), u16(1 | 0x8000), u16(12), u16(2 | 0x8000), u16(5), u16(3), u8(0xee), pad(3)));
});

test('writer sets a u32 in place', (t) => {
  const writer = new Writer();
  writer.u32(0).u32(5);
  writer.setU32At(0, 0xffffffff);

  t.deepEqual(writer.toBuffer(), bytes(u32(0xffffffff), u32(5)));
});

test('writer grows for bytes', (t) => {
  const writer = new Writer(2);
  writer.bytes(Buffer.alloc(5, 1)).bytes(Buffer.alloc(600, 2));

  t.deepEqual(writer.toBuffer(), bytes(Buffer.alloc(5, 1), Buffer.alloc(600, 2)));
});

test('writer grows for a u32', (t) => {
  const writer = new Writer(4);
  writer.u32(1).u32(2);

  t.deepEqual(writer.toBuffer(), bytes(u32(1), u32(2)));
});

test('writer grows for a u8', (t) => {
  const writer = new Writer(1);
  writer.u8(1).u8(2);

  t.deepEqual(writer.toBuffer(), bytes(u8(1), u8(2)));
});

// The same bug through the public codec: with the default 256-byte writer, a 230-byte
// IFLA_IFALIAS puts IFLA_GROUP's header at offset 252 and its u32 at 256, where the writer grows.
test('link body crossing 256 bytes in a u32', (t) => {
  const link = linkMessage({ index: 3, attributes: { ifalias: 'a'.repeat(230), group: 1 } });

  const encoded = encodeLink(link);

  t.is(encoded.length, 16 + 236 + 8);
  t.deepEqual(encoded.subarray(252), bytes(u16(8), u16(27), u32(1)));
});
