import test from 'ava';
import {
  encodeMessage,
  FrameDecoder,
  FrameKind,
  MAX_FRAME_LENGTH,
  RelayProtocolError,
  type RelayMessage,
} from '../../src/ops/relay/protocol.js';

/** Little-endian u32. */
function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value);
  return buffer;
}

function u8(value: number): Buffer {
  return Buffer.from([value]);
}

function bytes(...parts: Array<Buffer | string>): Buffer {
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part)));
}

/** A hand-made 20-byte NLMSG_DONE datagram, as a stand-in for kernel output. */
const DONE_DATAGRAM = bytes(
  u32(20), // nlmsg_len
  Buffer.from([0x03, 0x00, 0x02, 0x00]), // nlmsg_type NLMSG_DONE, nlmsg_flags NLM_F_MULTI
  u32(7), // nlmsg_seq
  u32(0), // nlmsg_pid
  u32(0), // payload: the dump's error code
);

const MESSAGES: RelayMessage[] = [
  { type: 'toKernel', datagram: DONE_DATAGRAM },
  { type: 'fromKernel', datagram: DONE_DATAGRAM },
  { type: 'fromKernel', datagram: Buffer.alloc(0) },
  { type: 'joinGroup', id: 1, group: 1 },
  { type: 'readSysctl', id: 2, path: '/proc/sys/net/ipv4/conf/ve-wg/rp_filter' },
  { type: 'writeSysctl', id: 0xffff_ffff, path: '/proc/sys/net/ipv4/conf/eth0.100/rp_filter', value: '2' },
  { type: 'writeSysctl', id: 4, path: '/proc/sys/kernel/domainname', value: '' },
  { type: 'replyOk', id: 5, value: '32768\t60999' },
  { type: 'replyOk', id: 6, value: '' },
  { type: 'replyError', id: 7, errno: 2, message: 'ENOENT: no such file or directory — ünïcödé' },
  { type: 'ready', pid: 4_194_304, port: 0x8000_1234 },
  { type: 'socketError', errno: 105, message: 'ENOBUFS' },
];

test('toKernel frame layout', (t) => {
  const expected = bytes(
    u32(1 + DONE_DATAGRAM.length), // length: kind + body
    u8(FrameKind.toKernel),
    DONE_DATAGRAM,
  );
  t.deepEqual(encodeMessage({ type: 'toKernel', datagram: DONE_DATAGRAM }), expected);
});

test('writeSysctl frame layout', (t) => {
  const expected = bytes(
    u32(1 + 4 + 4 + 25 + 1), // length: kind, id, path length, path, value
    u8(FrameKind.writeSysctl),
    u32(9), // request id
    u32(25), // path byte length
    '/proc/sys/kernel/hostname',
    'x',
  );
  t.deepEqual(encodeMessage({ type: 'writeSysctl', id: 9, path: '/proc/sys/kernel/hostname', value: 'x' }), expected);
});

test('replyError frame layout', (t) => {
  const expected = bytes(
    u32(1 + 4 + 4 + 3), // length
    u8(FrameKind.replyError),
    u32(3), // request id
    u32(13), // errno EACCES
    'bad',
  );
  t.deepEqual(encodeMessage({ type: 'replyError', id: 3, errno: 13, message: 'bad' }), expected);
});

test('ready frame layout', (t) => {
  const expected = bytes(
    u32(1 + 4 + 4), // length
    u8(FrameKind.ready),
    u32(1234), // pid
    u32(0x8000_04d2), // netlink port id
  );
  t.deepEqual(encodeMessage({ type: 'ready', pid: 1234, port: 0x8000_04d2 }), expected);
});

test('every message survives a round trip', (t) => {
  for (const message of MESSAGES) {
    const decoded = new FrameDecoder().push(encodeMessage(message));
    t.deepEqual(decoded, [message], message.type);
  }
});

test('several frames in one chunk', (t) => {
  const stream = Buffer.concat(MESSAGES.map(encodeMessage));
  const decoder = new FrameDecoder();

  t.deepEqual(decoder.push(stream), MESSAGES);
  t.is(decoder.pendingBytes, 0);
});

test('frames split at every byte', (t) => {
  const stream = Buffer.concat(MESSAGES.map(encodeMessage));
  for (let split = 0; split <= stream.length; split++) {
    const decoder = new FrameDecoder();
    const decoded = [...decoder.push(stream.subarray(0, split)), ...decoder.push(stream.subarray(split))];
    t.deepEqual(decoded, MESSAGES, `split at byte ${split}`);
  }
});

test('frames fed one byte at a time', (t) => {
  const stream = Buffer.concat(MESSAGES.map(encodeMessage));
  const decoder = new FrameDecoder();
  const decoded: RelayMessage[] = [];
  for (let offset = 0; offset < stream.length; offset++) {
    decoded.push(...decoder.push(stream.subarray(offset, offset + 1)));
  }
  t.deepEqual(decoded, MESSAGES);
  t.is(decoder.pendingBytes, 0);
});

test('large frame split over many chunks', (t) => {
  const datagram = Buffer.alloc(1024 * 1024, 0xab);
  const stream = encodeMessage({ type: 'fromKernel', datagram });
  const decoder = new FrameDecoder();
  const chunkSize = 65_536;
  const decoded: RelayMessage[] = [];
  for (let offset = 0; offset < stream.length; offset += chunkSize) {
    decoded.push(...decoder.push(stream.subarray(offset, offset + chunkSize)));
  }
  t.deepEqual(decoded, [{ type: 'fromKernel', datagram }]);
});

test('incomplete frame stays pending', (t) => {
  const frame = encodeMessage({ type: 'readSysctl', id: 1, path: '/proc/sys/net/ipv4/ip_forward' });
  const decoder = new FrameDecoder();

  t.deepEqual(decoder.push(frame.subarray(0, frame.length - 1)), []);
  t.is(decoder.pendingBytes, frame.length - 1);
});

test('oversized length is rejected', (t) => {
  const decoder = new FrameDecoder();
  const error = t.throws(() => decoder.push(bytes(u32(MAX_FRAME_LENGTH + 1), u8(FrameKind.fromKernel))), {
    instanceOf: RelayProtocolError,
  });
  t.regex(error.message, new RegExp(`length ${MAX_FRAME_LENGTH + 1} at stream offset 0`));
});

test('largest allowed length is accepted', (t) => {
  const decoder = new FrameDecoder();
  t.deepEqual(decoder.push(bytes(u32(MAX_FRAME_LENGTH), u8(FrameKind.fromKernel))), []);
});

test('stray text is rejected as a length', (t) => {
  const decoder = new FrameDecoder();
  const valid = encodeMessage({ type: 'replyOk', id: 1, value: '1' });
  const error = t.throws(() => decoder.push(bytes(valid, 'Error: oops\n')), { instanceOf: RelayProtocolError });
  t.regex(error.message, new RegExp(`at stream offset ${valid.length} is out of range`));
});

test('zero length is rejected', (t) => {
  const error = t.throws(() => new FrameDecoder().push(u32(0)), { instanceOf: RelayProtocolError });
  t.regex(error.message, /length 0 .* expected 1 to/);
});

test('unknown kind is rejected', (t) => {
  const error = t.throws(() => new FrameDecoder().push(bytes(u32(2), u8(200), u8(0))), {
    instanceOf: RelayProtocolError,
  });
  t.is(error.message, 'Unknown relay frame kind 200 (1-byte body)');
});

test('short bodies are rejected', (t) => {
  const cases: Array<[number, Buffer, RegExp]> = [
    [FrameKind.joinGroup, u32(1), /joinGroup frame has a 4-byte body, expected 8/],
    [FrameKind.ready, bytes(u32(1), u32(2), u8(3)), /ready frame has a 9-byte body, expected 8/],
    [FrameKind.readSysctl, Buffer.from([1, 2]), /readSysctl frame has a 2-byte body, expected at least 4/],
    [FrameKind.writeSysctl, u32(1), /writeSysctl frame has a 4-byte body, expected at least 8/],
    [FrameKind.replyOk, Buffer.alloc(0), /replyOk frame has a 0-byte body, expected at least 4/],
    [FrameKind.replyError, u32(1), /replyError frame has a 4-byte body, expected at least 8/],
    [FrameKind.socketError, u8(1), /socketError frame has a 1-byte body, expected at least 4/],
  ];
  for (const [kind, body, message] of cases) {
    const frame = bytes(u32(1 + body.length), u8(kind), body);
    const error = t.throws(() => new FrameDecoder().push(frame), { instanceOf: RelayProtocolError });
    t.regex(error.message, message);
  }
});

test('writeSysctl path length past the body is rejected', (t) => {
  const body = bytes(u32(1), u32(10), 'abc');
  const error = t.throws(() => new FrameDecoder().push(bytes(u32(1 + body.length), u8(FrameKind.writeSysctl), body)), {
    instanceOf: RelayProtocolError,
  });
  t.is(error.message, 'Relay writeSysctl frame declares a path ending at byte 18 of a 11-byte body');
});

test('encoding an oversized datagram throws', (t) => {
  const datagram = Buffer.alloc(MAX_FRAME_LENGTH);
  t.throws(() => encodeMessage({ type: 'toKernel', datagram }), { instanceOf: RangeError, message: /exceeds the maximum/ });
});
