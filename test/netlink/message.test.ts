import test from 'ava';

import { NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST, RTM_NEWADDR, RTM_NEWLINK } from '../../src/netlink/constants.js';
import { DecodeError } from '../../src/netlink/errors.js';
import { decodeError, encodeMessage, splitDatagram } from '../../src/netlink/message.js';
import { attr, bytes, cstring, message, pad, s32, u16, u32, u8 } from './helpers/bytes.js';

test('encodeMessage writes the header', (t) => {
  const body = bytes(u32(0xaabbccdd), u32(0x11223344), u32(0), u32(0), u32(7));

  const encoded = encodeMessage(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 42, body);

  t.deepEqual(
    encoded,
    bytes(
      u32(36), // nlmsg_len: 16 + 20
      u16(16), // nlmsg_type RTM_NEWLINK
      u16(0x0605), // nlmsg_flags NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
      u32(42), // nlmsg_seq
      u32(0), // nlmsg_pid: 0, the kernel fills in the sender's port
      body,
    ),
  );
});

test('encodeMessage pads an odd payload', (t) => {
  const encoded = encodeMessage(RTM_NEWADDR, NLM_F_REQUEST, 1, bytes(u8(2)), 99);

  t.deepEqual(
    encoded,
    bytes(
      u32(17), // nlmsg_len counts the payload without padding
      u16(20), // nlmsg_type RTM_NEWADDR
      u16(0x0001), // nlmsg_flags NLM_F_REQUEST
      u32(1), // nlmsg_seq
      u32(99), // nlmsg_pid
      u8(2), // payload
      pad(3), // NLMSG_ALIGN padding
    ),
  );
});

test('splitDatagram finds every message', (t) => {
  const first = message({ type: 16, flags: 2, seq: 5, pid: 7 }, u8(1), u8(2), u8(3));
  const second = message({ type: 3, flags: 2, seq: 5, pid: 7 }, s32(0));

  const messages = splitDatagram(bytes(first, second));

  t.is(messages.length, 2);
  t.like(messages[0], { type: 16, flags: 2, seq: 5, pid: 7, payloadOffset: 16 });
  t.deepEqual(messages[0]?.payload, bytes(u8(1), u8(2), u8(3)));
  t.like(messages[1], { type: 3, flags: 2, seq: 5, pid: 7, payloadOffset: 20 + 16 });
  t.deepEqual(messages[1]?.payload, s32(0));
});

test('splitDatagram of nothing is empty', (t) => {
  t.deepEqual(splitDatagram(Buffer.alloc(0)), []);
});

test('splitDatagram keeps a last message without padding', (t) => {
  // The kernel pads every message, but the last message's padding may be cut by a relay.
  const unpadded = message({ type: 16, seq: 1 }, u8(9)).subarray(0, 17);

  const messages = splitDatagram(unpadded);

  t.is(messages.length, 1);
  t.deepEqual(messages[0]?.payload, u8(9));
});

const REQUEST_HEADER = bytes(
  u32(40), // nlmsg_len of the rejected request
  u16(20), // nlmsg_type RTM_NEWADDR
  u16(0x0605), // nlmsg_flags
  u32(9), // nlmsg_seq
  u32(0), // nlmsg_pid
);
const REQUEST_BODY = bytes(u8(2), u8(16), u8(0), u8(0), u32(3), attr(2, u8(10), u8(49), u8(0), u8(1)), attr(1, u8(10), u8(49), u8(0), u8(1)));

test('decodeError reads an acknowledgement', (t) => {
  const [ack] = splitDatagram(message({ type: 2, flags: 0x100, seq: 9 }, s32(0), REQUEST_HEADER));

  const decoded = decodeError(ack!);

  t.true(decoded.errno === 0);
  t.like(decoded, { requestType: 20, requestSeq: 9, extendedAck: {} });
});

test('acknowledgement errno is not negative zero', (t) => {
  const [ack] = splitDatagram(message({ type: 2, flags: 0x100, seq: 9 }, s32(0), REQUEST_HEADER));

  t.is(decodeError(ack!).errno, 0);
});

test('decodeError reads an uncapped error', (t) => {
  const [error] = splitDatagram(message({ type: 2, flags: 0, seq: 9 }, s32(-17), REQUEST_HEADER, REQUEST_BODY));

  t.deepEqual(decodeError(error!), { errno: 17, requestType: 20, requestSeq: 9, extendedAck: {} });
});

test('decodeError reads capped extended-ack attributes', (t) => {
  const reply = message(
    { type: 2, flags: 0x100 | 0x200, seq: 9 }, // NLM_F_CAPPED | NLM_F_ACK_TLVS
    s32(-22), // error -EINVAL
    REQUEST_HEADER, // only the header is echoed
    attr(1, cstring('Invalid prefix for given prefix length')), // NLMSGERR_ATTR_MSG
    attr(2, u32(24)), // NLMSGERR_ATTR_OFFS
  );

  const decoded = decodeError(splitDatagram(reply)[0]!);

  t.is(decoded.errno, 22);
  t.deepEqual(decoded.extendedAck, { message: 'Invalid prefix for given prefix length', offset: 24 });
});

test('decodeError reads uncapped extended-ack attributes', (t) => {
  // A request whose length is not a multiple of 4: the kernel pads the echo before the attributes.
  const oddRequest = bytes(u32(21), u16(20), u16(0x0005), u32(9), u32(0), u8(2), u8(0), u8(0), u8(0), u8(0));
  const reply = message(
    { type: 2, flags: 0x200, seq: 9 }, // NLM_F_ACK_TLVS
    s32(-95), // error -EOPNOTSUPP
    oddRequest.subarray(0, 21), // the whole request, nlmsg_len bytes
    pad(3), // padding to 4 bytes
    attr(1, cstring('Operation not supported here')), // NLMSGERR_ATTR_MSG
    attr(2, u32(16)), // NLMSGERR_ATTR_OFFS
  );

  const decoded = decodeError(splitDatagram(reply)[0]!);

  t.is(decoded.errno, 95);
  t.is(decoded.requestSeq, 9);
  t.deepEqual(decoded.extendedAck, { message: 'Operation not supported here', offset: 16 });
});

test('decodeError rejects a short payload', (t) => {
  const [short] = splitDatagram(message({ type: 2, seq: 9 }, s32(-1), u32(0)));

  const error = t.throws(() => decodeError(short!), { instanceOf: DecodeError });

  t.is(error?.offset, 16);
});

test('decodeError rejects another message type', (t) => {
  const [done] = splitDatagram(message({ type: 3, seq: 9 }, s32(0), pad(16)));

  t.throws(() => decodeError(done!), { instanceOf: DecodeError, message: /expected NLMSG_ERROR, got type 3/ });
});
