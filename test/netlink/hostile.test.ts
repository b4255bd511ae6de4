import { Worker } from 'node:worker_threads';

import test from 'ava';

import { decodeAddress } from '../../src/netlink/address.js';
import { DecodeError } from '../../src/netlink/errors.js';
import { decodeLink } from '../../src/netlink/link.js';
import { decodeError, splitDatagram, type Message } from '../../src/netlink/message.js';
import { decodeRoute } from '../../src/netlink/route.js';
import { decodeRule } from '../../src/netlink/rule.js';
import { attr, bytes, cstring, message, pad, s32, text, u16, u32, u8 } from './helpers/bytes.js';

// Every malformed input must end in DecodeError. Its `offset` is the byte offset, within the
// datagram, of the field that is wrong. That is a message header, an attribute header, or the
// payload of an attribute whose size is wrong for its kind.

const RTM_NEWLINK = 16;
const RTM_NEWADDR = 20;
const RTM_NEWROUTE = 24;
const RTM_NEWRULE = 32;

/** Returns an ifinfomsg as bytes: family, pad, type, index, flags, change. */
function ifinfomsgRow(index = 0): Buffer {
  return bytes(u8(0), u8(0), u16(1), s32(index), u32(0), u32(0));
}

/** Splits and decodes a datagram, returning the DecodeError it must throw. */
function decodeFailure(
  t: import('ava').ExecutionContext,
  datagram: Buffer,
  decode: (message: Message) => unknown = decodeLink,
): DecodeError | undefined {
  return t.throws(
    () => {
      for (const each of splitDatagram(datagram)) decode(each);
    },
    { instanceOf: DecodeError },
  );
}

test('header shorter than 16 bytes', (t) => {
  const error = decodeFailure(t, bytes(u32(16), u16(RTM_NEWLINK), u16(0), u16(0)));

  t.is(error?.offset, 0);
  t.regex(error?.message ?? '', /truncated message header: 10 bytes, expected 16 at byte offset 0/);
});

test('second header truncated', (t) => {
  const first = message({ type: RTM_NEWLINK, seq: 1 }, ifinfomsgRow(1)); // 32 bytes
  const error = decodeFailure(t, bytes(first, u32(32), u16(RTM_NEWLINK), u16(0)));

  t.is(error?.offset, 32);
});

test('nlmsg_len larger than the datagram', (t) => {
  const error = decodeFailure(t, bytes(u32(4096), u16(RTM_NEWLINK), u16(0), u32(1), u32(0), ifinfomsgRow(1)));

  t.is(error?.offset, 0);
  t.is(error?.reason, 'message claims 4096 bytes but 32 remain');
});

test('nlmsg_len larger than the rest of the datagram', (t) => {
  const first = message({ type: RTM_NEWLINK, seq: 1 }, ifinfomsgRow(1));
  const second = bytes(u32(33), u16(RTM_NEWLINK), u16(0), u32(1), u32(0), ifinfomsgRow(2));

  t.is(decodeFailure(t, bytes(first, second))?.offset, 32);
});

for (const length of [0, 1, 15]) {
  test(`nlmsg_len ${length} below the header size`, (t) => {
    const error = decodeFailure(t, bytes(u32(length), u16(RTM_NEWLINK), u16(0), u32(1), u32(0), ifinfomsgRow(1)));

    t.is(error?.offset, 0);
  });
}

test('ifinfomsg shorter than 16 bytes', (t) => {
  const error = decodeFailure(t, message({ type: RTM_NEWLINK }, u32(0), u32(0)));

  t.is(error?.offset, 16);
  t.is(error?.reason, 'ifinfomsg needs 16 bytes, got 8');
});

test('ifaddrmsg, rtmsg, fib_rule_hdr too short', (t) => {
  t.is(decodeFailure(t, message({ type: RTM_NEWADDR }, u32(0)), decodeAddress)?.offset, 16);
  t.is(decodeFailure(t, message({ type: RTM_NEWROUTE }, u32(0), u32(0)), decodeRoute)?.offset, 16);
  t.is(decodeFailure(t, message({ type: RTM_NEWRULE }, u32(0), u32(0)), decodeRule)?.offset, 16);
});

for (const length of [0, 1, 2, 3]) {
  test(`attribute length ${length} below its header`, (t) => {
    // nlmsghdr (0..16), ifinfomsg (16..32), then the bad attribute header at 32.
    const error = decodeFailure(t, message({ type: RTM_NEWLINK }, ifinfomsgRow(1), u16(length), u16(3), u32(0)));

    t.is(error?.offset, 32);
  });
}

test('attribute past the end of the message', (t) => {
  const error = decodeFailure(t, message({ type: RTM_NEWLINK }, ifinfomsgRow(1), u16(12), u16(3), text('eth0')));

  t.is(error?.offset, 32);
  t.is(error?.reason, 'attribute 3 of link-attrs claims 12 bytes but 8 remain');
});

test('attribute past the end of its nest', (t) => {
  const body = bytes(
    ifinfomsgRow(1),
    attr(3, cstring('eth0')), // 32..44 IFLA_IFNAME
    u16(12), u16(18), // 44 IFLA_LINKINFO, 8 bytes of children
    u16(12), u16(1), text('veth'), // 48 IFLA_INFO_KIND claims 12, but its nest ends at 56
    attr(4, u32(1500)), // 56 IFLA_MTU, outside the nest
  );

  t.is(decodeFailure(t, message({ type: RTM_NEWLINK }, body))?.offset, 48);
});

test('bad attribute in the second message', (t) => {
  const first = message({ type: RTM_NEWLINK, seq: 1 }, ifinfomsgRow(1), attr(4, u32(1500))); // 40 bytes
  const second = message({ type: RTM_NEWLINK, seq: 1 }, ifinfomsgRow(2), attr(4, u16(1500)));

  // The second message's IFLA_MTU payload: 40 + 16 + 16 + 4.
  t.is(decodeFailure(t, bytes(first, second))?.offset, 76);
});

test('address attribute of 5 bytes', (t) => {
  const rtmsgRow = bytes(u8(2), u8(16), u8(0), u8(0), u8(254), u8(4), u8(0), u8(1), u32(0));
  // nlmsghdr (0..16), rtmsg (16..28), RTA_DST header (28..32), its 5-byte payload at 32.
  const error = decodeFailure(t, message({ type: RTM_NEWROUTE }, rtmsgRow, attr(1, u8(10), u8(49), u8(0), u8(0), u8(0))), decodeRoute);

  t.is(error?.offset, 32);
  t.regex(error?.reason ?? '', /attribute dst \(1\) has 5 bytes, expected an IPv4 \(4\) or IPv6 \(16\) address/);
});

test('IPv6 address attribute of 15 bytes', (t) => {
  const ifaddrmsgRow = bytes(u8(10), u8(64), u8(0), u8(0), u32(2));
  const error = decodeFailure(t, message({ type: RTM_NEWADDR }, ifaddrmsgRow, attr(1, pad(15))), decodeAddress);

  t.is(error?.offset, 28);
});

test('u32 attribute with 2 bytes', (t) => {
  // IFLA_MTU header at 32, payload at 36.
  const error = decodeFailure(t, message({ type: RTM_NEWLINK }, ifinfomsgRow(1), attr(4, u16(1500))));

  t.is(error?.offset, 36);
  t.is(error?.reason, 'attribute mtu (4) has 2 bytes, expected 4');
});

test('u8, s32 and u64 attributes too short', (t) => {
  t.is(decodeFailure(t, message({ type: RTM_NEWLINK }, ifinfomsgRow(1), attr(16)))?.offset, 36); // IFLA_OPERSTATE empty
  t.is(decodeFailure(t, message({ type: RTM_NEWLINK }, ifinfomsgRow(1), attr(37, u16(0))))?.offset, 36); // IFLA_LINK_NETNSID
  const fibRuleHdr = bytes(u8(2), u8(0), u8(0), u8(0), u8(254), u8(0), u8(0), u8(1), u32(0));
  t.is(decodeFailure(t, message({ type: RTM_NEWRULE }, fibRuleHdr, attr(12, u32(0))), decodeRule)?.offset, 32); // FRA_TUN_ID
});

test('bad attribute inside a veth peer', (t) => {
  const body = bytes(
    ifinfomsgRow(1), // 16..32
    u16(40), u16(18), // 32 IFLA_LINKINFO
    attr(1, text('veth')), // 36 IFLA_INFO_KIND
    u16(28), u16(2), // 44 IFLA_INFO_DATA
    u16(24), u16(1), // 48 VETH_INFO_PEER
    ifinfomsgRow(2), // 52..68 the peer's ifinfomsg
    u16(4), u16(4), // 68 the peer's IFLA_MTU with no payload; its payload offset is 72
  );

  t.is(decodeFailure(t, message({ type: RTM_NEWLINK }, body))?.offset, 72);
});

test('veth peer shorter than ifinfomsg', (t) => {
  const body = bytes(ifinfomsgRow(1), attr(18, attr(1, text('veth')), attr(2, attr(1, u32(0), u32(0)))));

  // The peer's payload starts at 16 + 16 + 4 + 8 + 4 + 4.
  t.is(decodeFailure(t, message({ type: RTM_NEWLINK }, body))?.offset, 52);
});

/** Returns a link body whose veth peer contains a veth peer, `depth` levels deep. */
function nestedVethPeers(depth: number): Buffer {
  let body = ifinfomsgRow(depth + 1);
  for (let level = depth; level > 0; level--) {
    body = bytes(ifinfomsgRow(level), attr(18, attr(1, text('veth')), attr(2, attr(1, body))));
  }
  return body;
}

test('veth peers nested 100 levels deep', (t) => {
  const datagram = message({ type: RTM_NEWLINK }, nestedVethPeers(100));

  decodeFailure(t, datagram);
});

// The same gap at the deepest nesting a 16-bit attribute length allows (36 bytes per level).
// With Node's default stack the recursion happens to fit.
test('veth peers nested 1800 levels deep', (t) => {
  const body = nestedVethPeers(1800);
  t.true(body.length < 0xffff);
  const datagram = message({ type: RTM_NEWLINK }, body);

  try {
    decodeLink(splitDatagram(datagram)[0]!);
    t.pass('decoded without error');
  } catch (error) {
    t.true(error instanceof DecodeError, `threw ${String(error)}`);
  }
});

// The worker decodes the same 1800-level chain with a 1 MB stack and reports what it threw.
const DEEP_DECODE_WORKER = `
  const { parentPort, workerData } = require('node:worker_threads');
  Promise.all([import(workerData.link), import(workerData.message), import(workerData.errors)]).then(([link, message, errors]) => {
    try {
      link.decodeLink(message.splitDatagram(Buffer.from(workerData.datagram))[0]);
      parentPort.postMessage('decoded');
    } catch (error) {
      parentPort.postMessage(error instanceof errors.DecodeError ? 'DecodeError' : String(error));
    }
  });
`;

test('veth peers 1800 deep on a 1 MB stack', async (t) => {
  const datagram = message({ type: RTM_NEWLINK }, nestedVethPeers(1800));
  const worker = new Worker(DEEP_DECODE_WORKER, {
    eval: true,
    resourceLimits: { stackSizeMb: 1 },
    workerData: {
      datagram,
      link: new URL('../../src/netlink/link.js', import.meta.url).href,
      message: new URL('../../src/netlink/message.js', import.meta.url).href,
      errors: new URL('../../src/netlink/errors.js', import.meta.url).href,
    },
  });

  const outcome = await new Promise<string>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();

  t.true(outcome === 'decoded' || outcome === 'DecodeError', `the decoder threw ${outcome}`);
});

test('bad extended-ack attribute offset', (t) => {
  const requestHeader = bytes(u32(16), u16(RTM_NEWADDR), u16(5), u32(9), u32(0));
  // nlmsghdr (0..16), error (16..20), echoed header (20..36), the bad attribute at 36.
  const datagram = message({ type: 2, flags: 0x300, seq: 9 }, s32(-22), requestHeader, u16(64), u16(1), text('abcd'));

  const error = decodeFailure(t, datagram, decodeError);

  t.is(error?.offset, 36);
});

test('bad extended-ack attribute raises DecodeError', (t) => {
  const requestHeader = bytes(u32(16), u16(RTM_NEWADDR), u16(5), u32(9), u32(0));
  const datagram = message({ type: 2, flags: 0x300, seq: 9 }, s32(-22), requestHeader, u16(2), u16(1));

  decodeFailure(t, datagram, decodeError);
});

test('echoed request longer than the error', (t) => {
  // The echoed header claims 400 bytes but the reply carries only 16 of them: no attributes.
  const requestHeader = bytes(u32(400), u16(RTM_NEWADDR), u16(5), u32(9), u32(0));
  const [reply] = splitDatagram(message({ type: 2, flags: 0x200, seq: 9 }, s32(-22), requestHeader, attr(1, cstring('ignored'))));

  t.deepEqual(decodeError(reply!).extendedAck, {});
});
