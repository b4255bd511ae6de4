import test from 'ava';

import {
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_EXCL,
  NLM_F_REQUEST,
  RTM_GETADDR,
  RTM_GETLINK,
  RTM_GETROUTE,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWROUTE,
} from '../../src/netlink/constants.js';
import { DecodeError, DumpInterruptedError, NetlinkError, RequestTimeoutError, TransportError } from '../../src/netlink/errors.js';
import type { Message } from '../../src/netlink/message.js';
import { decodeRoute } from '../../src/netlink/route.js';
import { RtnlSession, type SessionOptions } from '../../src/netlink/session.js';
import { attr, bytes, ipv4, message, text, u16, u32, u8 } from './helpers/bytes.js';
import { ackFor, datagram, doneFor, dumpPart, errorFor, FakeTransport } from './helpers/fake-transport.js';
import { exchangeOf, loadFixture } from './helpers/fixtures.js';

const ADD_ADDRESS = 'add address 10.49.0.1/16 to wg0 in wireguard-ns';
// ifaddrmsg for 10.49.0.1/16 on index 5, then IFA_LOCAL and IFA_ADDRESS.
const ADDRESS_BODY = bytes(u8(2), u8(16), u8(0), u8(0), u32(5), attr(2, ipv4('10.49.0.1')), attr(1, ipv4('10.49.0.1')));
const DUMP_BODY = bytes(u8(0), u8(0), u8(0), u8(0), u32(0), u32(0), u32(0));

function open(options: SessionOptions = {}): { transport: FakeTransport; session: RtnlSession } {
  const transport = new FakeTransport();
  const session = new RtnlSession(transport, { log: null, timeoutMs: 2000, ...options });
  return { transport, session };
}

/** Returns a dump reply whose 4-byte payload is `marker`, so that tests can tell replies apart. */
function markedPart(type: number, seq: number, marker: number, extraFlags = 0): Buffer {
  return dumpPart(type, seq, u32(marker), extraFlags);
}

function markerOf(message: Message): number {
  return message.payload.readUInt32LE(0);
}

test('change resolves on ACK', async (t) => {
  const { transport, session } = open();

  const change = session.change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ADDRESS_BODY, ADD_ADDRESS);
  const request = await transport.nextRequest();
  transport.deliver(ackFor(request));

  await t.notThrowsAsync(change);
  t.is(request.type, RTM_NEWADDR);
  t.is(request.flags, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
  t.is(request.length, 16 + ADDRESS_BODY.length);
  t.deepEqual(request.body, ADDRESS_BODY);
  t.not(request.seq, 0);
  await session.close();
});

test('rejected change raises NetlinkError', async (t) => {
  const { transport, session } = open();

  const change = session.change(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, ADDRESS_BODY, ADD_ADDRESS);
  const request = await transport.nextRequest();
  transport.deliver(errorFor(request, 17));

  const error = await t.throwsAsync(change, { instanceOf: NetlinkError });
  t.is(error?.errno, 17);
  t.is(error?.code, 'EEXIST');
  t.is(error?.operation, 'RTM_NEWADDR');
  t.is(error?.description, ADD_ADDRESS);
  t.is(error?.seq, request.seq);
  t.deepEqual(error?.extendedAck, {});
  t.is(error?.message, 'add address 10.49.0.1/16 to wg0 in wireguard-ns: File exists');
  await session.close();
});

for (const capped of [true, false]) {
  test(`extended ack ${capped ? 'capped' : 'uncapped'}`, async (t) => {
    const { transport, session } = open();

    const change = session.change(RTM_NEWADDR, NLM_F_CREATE, ADDRESS_BODY, ADD_ADDRESS);
    const request = await transport.nextRequest();
    transport.deliver(errorFor(request, 22, { capped, message: 'Invalid prefix length', offset: 17 }));

    const error = await t.throwsAsync(change, { instanceOf: NetlinkError });
    t.is(error?.errno, 22);
    t.is(error?.code, 'EINVAL');
    // Byte 17 of the request is ifa_prefixlen, inside the ifaddrmsg after the 16-byte header.
    t.deepEqual(error?.extendedAck, { message: 'Invalid prefix length', offset: 17, location: 'ifaddrmsg' });
    t.is(
      error?.message,
      'add address 10.49.0.1/16 to wg0 in wireguard-ns: Invalid argument (kernel: Invalid prefix length, at byte 17 of the request: ifaddrmsg)',
    );
    await session.close();
  });
}

test('extended ack with only an offset', async (t) => {
  const { transport, session } = open();

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  const request = await transport.nextRequest();
  transport.deliver(errorFor(request, 22, { capped: true, offset: 24 }));

  const error = await t.throwsAsync(change, { instanceOf: NetlinkError });
  // Header (16 bytes) and ifaddrmsg (8) come first, so byte 24 is the IFA_LOCAL attribute.
  t.deepEqual(error?.extendedAck, { offset: 24, location: 'addr-attrs: local (2)' });
  t.is(error?.message, `${ADD_ADDRESS}: Invalid argument (kernel: rejected the request, at byte 24 of the request: addr-attrs: local (2))`);
  await session.close();
});

test('extended ack offset inside a nest', async (t) => {
  const { transport, session } = open();
  // ifinfomsg, IFLA_IFNAME "br0" (24 bytes so far after the header), then IFLA_LINKINFO
  // at byte 40 with IFLA_INFO_KIND at byte 44.
  const body = bytes(u8(0), u8(0), u16(0), u32(0), u32(0), u32(0), attr(3, text('br0'), u8(0)), attr(18, attr(1, text('bridge'))));

  const change = session.change(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, 'add bridge link br0');
  const request = await transport.nextRequest();
  transport.deliver(errorFor(request, 95, { capped: true, message: 'Unknown device type', offset: 44 }));

  const error = await t.throwsAsync(change, { instanceOf: NetlinkError });
  t.is(error?.extendedAck.location, 'link-attrs: linkinfo (18) > kind (1)');
  t.is(error?.message, 'add bridge link br0: Operation not supported (kernel: Unknown device type, at byte 44 of the request: link-attrs: linkinfo (18) > kind (1))');
  await session.close();
});

test('extended ack offset past the request', async (t) => {
  const { transport, session } = open();

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  const request = await transport.nextRequest();
  transport.deliver(errorFor(request, 22, { capped: true, message: 'Invalid', offset: 4096 }));

  const error = await t.throwsAsync(change, { instanceOf: NetlinkError });
  t.deepEqual(error?.extendedAck, { message: 'Invalid', offset: 4096 });
  t.is(error?.message, `${ADD_ADDRESS}: Invalid argument (kernel: Invalid, at byte 4096 of the request)`);
  await session.close();
});

test('requests answered out of order', async (t) => {
  const { transport, session } = open();
  const count = 20;

  const changes = Array.from({ length: count }, (_, i) => session.change(RTM_NEWADDR, 0, ADDRESS_BODY, `change ${i}`));
  const requests = await Promise.all(changes.map(() => transport.nextRequest()));
  t.is(new Set(requests.map((request) => request.seq)).size, count, 'every request has its own sequence number');

  // Reply from the last to the first. Every third request is rejected, each with its own errno.
  for (const [i, request] of [...requests.entries()].reverse()) {
    transport.deliver(i % 3 === 0 ? errorFor(request, 100 + i) : ackFor(request));
  }

  const outcomes = await Promise.allSettled(changes);
  outcomes.forEach((outcome, i) => {
    if (i % 3 === 0) {
      t.is(outcome.status, 'rejected', `change ${i}`);
      const reason = outcome.status === 'rejected' ? (outcome.reason as NetlinkError) : null;
      t.is(reason?.errno, 100 + i, `change ${i}`);
      t.is(reason?.description, `change ${i}`);
    } else {
      t.is(outcome.status, 'fulfilled', `change ${i}`);
    }
  });
  await session.close();
});

test('sequence numbers skip 0 and those in flight', async (t) => {
  const { transport, session } = open();

  const early = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, 'early');
  const earlyRequest = await transport.nextRequest();
  t.is(earlyRequest.seq, 2);
  // Reaching the wrap by sending 2^32 requests would take too long, so the counter is set directly.
  (session as unknown as { nextSeq: number }).nextSeq = 0xfffffffe;
  const late = [0, 1, 2].map((i) => session.change(RTM_NEWADDR, 0, ADDRESS_BODY, `late ${i}`));
  const lateRequests = await Promise.all(late.map(() => transport.nextRequest()));

  // 0 is skipped because notifications use it, and 2 because "early" still waits for its reply.
  t.deepEqual(
    lateRequests.map((request) => request.seq),
    [0xffffffff, 1, 3],
  );
  for (const request of [earlyRequest, ...lateRequests]) transport.deliver(ackFor(request));
  await Promise.all([early, ...late]);
  await session.close();
});

test('replies in one datagram reach their callers', async (t) => {
  const { transport, session } = open();

  const first = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, 'first');
  const second = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, 'second');
  const [a, b] = [await transport.nextRequest(), await transport.nextRequest()];
  transport.deliver(datagram(errorFor(b, 2), ackFor(a)));

  await t.notThrowsAsync(first);
  await t.throwsAsync(second, { instanceOf: NetlinkError, message: 'second: No such file or directory' });
  await session.close();
});

test('get collects replies before the ACK', async (t) => {
  const { transport, session } = open();

  const get = session.get(RTM_GETLINK, DUMP_BODY, 'get link wg0');
  const request = await transport.nextRequest();
  transport.deliver(datagram(message({ type: RTM_NEWLINK, seq: request.seq }, u32(7)), ackFor(request)));

  const replies = await get;
  t.is(request.flags, NLM_F_REQUEST | NLM_F_ACK);
  t.is(replies.length, 1);
  t.is(replies[0]?.type, RTM_NEWLINK);
  t.is(markerOf(replies[0]!), 7);
  await session.close();
});

test('notifications and stray replies are ignored', async (t) => {
  const { transport, session } = open();

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  const request = await transport.nextRequest();
  transport.deliver(markedPart(RTM_NEWADDR, 0, 1), errorFor({ ...request, seq: request.seq + 1000 }, 1), ackFor(request));

  await t.notThrowsAsync(change);
  await session.close();
});

test('dump request has NLM_F_DUMP', async (t) => {
  const { transport, session } = open();

  const dump = session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf);
  const request = await transport.nextRequest();
  transport.deliver(doneFor(request.seq));

  t.deepEqual(await dump, []);
  t.is(request.type, RTM_GETLINK);
  t.is(request.flags, NLM_F_REQUEST | NLM_F_DUMP);
  t.deepEqual(request.body, DUMP_BODY);
  await session.close();
});

test('second dump waits for the first DONE', async (t) => {
  const { transport, session } = open();

  const links = session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf);
  const addresses = session.dumpAll(RTM_GETADDR, DUMP_BODY, 'list addresses', markerOf);
  const first = await transport.nextRequest();
  t.is(transport.sent.length, 1, 'the second dump must wait');

  // A change is not a dump, so it goes out at once.
  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  const changeRequest = await transport.nextRequest();
  transport.deliver(ackFor(changeRequest));
  await change;

  transport.deliver(datagram(markedPart(RTM_NEWLINK, first.seq, 1), markedPart(RTM_NEWLINK, first.seq, 2)));
  t.is(transport.sent.length, 2, 'still waiting: the first dump has not ended');

  transport.deliver(doneFor(first.seq));
  const second = await transport.nextRequest();
  t.is(second.type, RTM_GETADDR);
  transport.deliver(datagram(markedPart(RTM_NEWADDR, second.seq, 3), doneFor(second.seq)));

  t.deepEqual(await links, [1, 2]);
  t.deepEqual(await addresses, [3]);
  await session.close();
});

test('dump across several datagrams', async (t) => {
  const { transport, session } = open();

  const seen: number[] = [];
  const consumer = (async () => {
    for await (const message of session.dump(RTM_GETROUTE, DUMP_BODY, 'list routes')) seen.push(markerOf(message));
  })();
  const request = await transport.nextRequest();
  transport.deliver(datagram(markedPart(RTM_NEWROUTE, request.seq, 1), markedPart(RTM_NEWROUTE, request.seq, 2)));
  transport.deliver(datagram(markedPart(RTM_NEWROUTE, request.seq, 3)));
  transport.deliver(datagram(markedPart(RTM_NEWROUTE, request.seq, 4), markedPart(RTM_NEWROUTE, request.seq, 5), doneFor(request.seq)));

  await consumer;
  t.deepEqual(seen, [1, 2, 3, 4, 5]);
  await session.close();
});

test('consumer slower than the dump', async (t) => {
  const { transport, session } = open();

  const iterator = session.dump(RTM_GETROUTE, DUMP_BODY, 'list routes');
  const firstNext = iterator.next();
  const request = await transport.nextRequest();
  transport.deliver(datagram(markedPart(RTM_NEWROUTE, request.seq, 1), markedPart(RTM_NEWROUTE, request.seq, 2), doneFor(request.seq)));

  const first = await firstNext;
  t.is(first.done, false);
  t.is(markerOf(first.value as Message), 1);
  const second = await iterator.next();
  t.is(markerOf(second.value as Message), 2);
  t.deepEqual(await iterator.next(), { value: undefined, done: true });
  await session.close();
});

for (const where of ['a middle part', 'NLMSG_DONE'] as const) {
  test(`NLM_F_DUMP_INTR on ${where}`, async (t) => {
    const { transport, session } = open();

    const seen: number[] = [];
    const consumer = (async () => {
      for await (const message of session.dump(RTM_GETROUTE, DUMP_BODY, 'list routes')) seen.push(markerOf(message));
    })();
    const request = await transport.nextRequest();
    const flagsOnPart = where === 'a middle part' ? NLM_F_DUMP_INTR : 0;
    transport.deliver(datagram(markedPart(RTM_NEWROUTE, request.seq, 1), markedPart(RTM_NEWROUTE, request.seq, 2, flagsOnPart)));
    transport.deliver(
      datagram(markedPart(RTM_NEWROUTE, request.seq, 3), doneFor(request.seq, 0, 0x2 | (where === 'NLMSG_DONE' ? NLM_F_DUMP_INTR : 0))),
    );

    const error = await t.throwsAsync(consumer, { instanceOf: DumpInterruptedError });
    t.deepEqual(seen, [1, 2, 3], 'every message is yielded before the error');
    t.is(error?.description, 'list routes');
    t.regex(error?.message ?? '', /^list routes: the kernel interrupted the dump/);
    await session.close();
  });
}

test('dumpAll keeps the partial results', async (t) => {
  const { transport, session } = open();

  const dump = session.dumpAll(RTM_GETROUTE, DUMP_BODY, 'list routes', (message) => `route ${markerOf(message)}`);
  const request = await transport.nextRequest();
  transport.deliver(
    datagram(markedPart(RTM_NEWROUTE, request.seq, 1, NLM_F_DUMP_INTR), markedPart(RTM_NEWROUTE, request.seq, 2), doneFor(request.seq)),
  );

  const error = await t.throwsAsync(dump, { instanceOf: DumpInterruptedError });
  t.deepEqual(error?.partial, ['route 1', 'route 2']);
  await session.close();
});

test('breaking out of a dump drops the rest', async (t) => {
  const { transport, session } = open();

  const seen: number[] = [];
  const consumer = (async () => {
    for await (const message of session.dump(RTM_GETROUTE, DUMP_BODY, 'list routes')) {
      seen.push(markerOf(message));
      break;
    }
  })();
  const abandoned = await transport.nextRequest();
  transport.deliver(datagram(markedPart(RTM_NEWROUTE, abandoned.seq, 1), markedPart(RTM_NEWROUTE, abandoned.seq, 2)));
  await consumer;

  // A new dump must wait until the kernel has finished the abandoned one.
  const next = session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf);
  await Promise.resolve();
  t.is(transport.sent.length, 1);
  transport.deliver(datagram(markedPart(RTM_NEWROUTE, abandoned.seq, 3), doneFor(abandoned.seq)));

  const request = await transport.nextRequest();
  t.is(request.type, RTM_GETLINK);
  transport.deliver(datagram(markedPart(RTM_NEWLINK, request.seq, 9), doneFor(request.seq)));

  t.deepEqual(seen, [1]);
  t.deepEqual(await next, [9]);

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  transport.deliver(ackFor(await transport.nextRequest()));
  await t.notThrowsAsync(change);
  await session.close();
});

test('withdrawn dump is never sent', async (t) => {
  const { transport, session } = open();

  const running = session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf);
  const first = await transport.nextRequest();
  const queued = session.dump(RTM_GETROUTE, DUMP_BODY, 'list routes');
  void queued.next(); // queues the dump behind the running one
  await queued.return?.();

  transport.deliver(doneFor(first.seq));
  t.deepEqual(await running, []);
  const after = session.dumpAll(RTM_GETADDR, DUMP_BODY, 'list addresses', markerOf);
  const next = await transport.nextRequest();
  t.is(next.type, RTM_GETADDR, 'the withdrawn RTM_GETROUTE dump is skipped');
  transport.deliver(doneFor(next.seq));
  t.deepEqual(await after, []);
  t.is(transport.sent.length, 2);
  await session.close();
});

test('return settles a waiting next', async (t) => {
  const { transport, session } = open();

  const running = session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf);
  const first = await transport.nextRequest();
  const queued = session.dump(RTM_GETROUTE, DUMP_BODY, 'list routes');
  const waitingNext = queued.next();
  await queued.return?.();
  const outcome = await Promise.race([waitingNext, new Promise((resolve) => setTimeout(() => resolve('still pending after 200 ms'), 200))]);

  transport.deliver(doneFor(first.seq));
  await running;
  await session.close();
  t.deepEqual(outcome, { value: undefined, done: true });
});

test('NLMSG_DONE with an error code', async (t) => {
  const { transport, session } = open();

  const dump = session.dumpAll(RTM_GETROUTE, DUMP_BODY, 'list routes', markerOf);
  const request = await transport.nextRequest();
  transport.deliver(datagram(markedPart(RTM_NEWROUTE, request.seq, 1), doneFor(request.seq, -22)));

  const error = await t.throwsAsync(dump, { instanceOf: NetlinkError });
  t.is(error?.errno, 22);
  t.is(error?.code, 'EINVAL');
  t.is(error?.operation, 'RTM_GETROUTE');
  t.is(error?.message, 'list routes: Invalid argument');
  await session.close();
});

test('dump rejected with NLMSG_ERROR', async (t) => {
  const { transport, session } = open();

  const dump = session.dumpAll(RTM_GETROUTE, DUMP_BODY, 'list routes', markerOf);
  const request = await transport.nextRequest();
  transport.deliver(errorFor(request, 95));

  await t.throwsAsync(dump, { instanceOf: NetlinkError, message: 'list routes: Operation not supported' });
  await session.close();
});

test('request without an answer times out', async (t) => {
  const { transport, session } = open({ timeoutMs: 30 });

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  const request = await transport.nextRequest();

  const error = await t.throwsAsync(change, { instanceOf: RequestTimeoutError });
  t.is(error?.description, ADD_ADDRESS);
  t.is(error?.timeoutMs, 30);
  t.is(error?.operation, 'RTM_NEWADDR');
  t.is(error?.seq, request.seq);
  t.is(error?.message, `${ADD_ADDRESS}: no answer from the kernel in test-ns after 30 ms (RTM_NEWADDR, seq ${request.seq})`);

  // A reply that arrives too late is dropped.
  t.notThrows(() => transport.deliver(ackFor(request)));
  await session.close();
});

test('dump timeout frees the dump slot', async (t) => {
  const { transport, session } = open({ timeoutMs: 30 });

  const stuck = session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf);
  const waiting = session.dumpAll(RTM_GETADDR, DUMP_BODY, 'list addresses', markerOf);
  await transport.nextRequest();

  await t.throwsAsync(stuck, { instanceOf: RequestTimeoutError, message: /^list links: no answer/ });
  const second = await transport.nextRequest();
  t.is(second.type, RTM_GETADDR);
  transport.deliver(doneFor(second.seq));
  t.deepEqual(await waiting, []);
  await session.close();
});

test('dump timeout restarts with each reply', async (t) => {
  const { transport, session } = open({ timeoutMs: 400 });

  const dump = session.dumpAll(RTM_GETROUTE, DUMP_BODY, 'list routes', markerOf);
  const request = await transport.nextRequest();
  // Three gaps of 200 ms: 600 ms in all, more than the limit, but no gap reaches it.
  for (const marker of [1, 2, 3]) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    transport.deliver(markedPart(RTM_NEWROUTE, request.seq, marker));
  }
  transport.deliver(doneFor(request.seq));

  t.deepEqual(await dump, [1, 2, 3]);
  await session.close();
});

test('malformed datagram fails pending requests', async (t) => {
  const { transport, session } = open();

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  const dump = session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf);
  await transport.nextRequest();
  transport.deliver(bytes(u32(4096), u32(0), u32(0), u32(0)));

  const error = await t.throwsAsync(change, { instanceOf: TransportError });
  t.is(error?.message, 'malformed datagram from the kernel in test-ns: message claims 4096 bytes but 16 remain at byte offset 0');
  t.true(error?.cause instanceof DecodeError);
  await t.throwsAsync(dump, { instanceOf: TransportError });
  // The socket's framing can no longer be trusted, so later requests fail too.
  await t.throwsAsync(session.change(RTM_NEWADDR, 0, ADDRESS_BODY, 'later'), { instanceOf: TransportError });
  await session.close();
});

test('malformed NLMSG_ERROR fails its request', async (t) => {
  const { transport, session } = open();

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  const request = await transport.nextRequest();
  // An NLMSG_ERROR with a 4-byte payload: too short for struct nlmsgerr.
  transport.deliver(bytes(u32(20), u32(2), u32(request.seq), u32(0), u32(0)));

  await t.throwsAsync(change, { instanceOf: DecodeError });
  await session.close();
});

test('transport failure fails pending requests', async (t) => {
  const { transport, session } = open();

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  const dump = session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf);
  const queuedDump = session.dumpAll(RTM_GETADDR, DUMP_BODY, 'list addresses', markerOf);
  await transport.nextRequest();
  const failure = new TransportError('relay for test-ns exited with code 1');
  transport.fail(failure);

  t.is(await t.throwsAsync(change), failure);
  t.is(await t.throwsAsync(dump), failure);
  t.is(await t.throwsAsync(queuedDump), failure);
  t.is(await t.throwsAsync(session.change(RTM_NEWADDR, 0, ADDRESS_BODY, 'later')), failure);
  await session.close();
});

test('send failure rejects the request', async (t) => {
  const { transport, session } = open();
  const cause = new Error('EBADF');
  transport.sendError = cause;

  const error = await t.throwsAsync(session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS), { instanceOf: TransportError });

  t.is(error?.message, `${ADD_ADDRESS}: sending to the kernel in test-ns failed`);
  t.is(error?.cause, cause);
  await session.close();
});

test('close rejects pending and later requests', async (t) => {
  const { transport, session } = open();

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  await transport.nextRequest();
  await session.close();

  await t.throwsAsync(change, { instanceOf: TransportError, message: 'netlink session in test-ns was closed' });
  await t.throwsAsync(session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS), { instanceOf: TransportError });
  await t.throwsAsync(session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf), { instanceOf: TransportError });
  t.true(transport.closed);
  t.is(transport.sent.length, 1);
});

test('session logs each request and reply', async (t) => {
  const lines: [string, number][] = [];
  const transport = new FakeTransport();
  const session = new RtnlSession(transport, { log: (line, level) => lines.push([line, level]) });

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  const request = await transport.nextRequest();
  transport.deliver(ackFor(request));
  await change;

  const levelOne = lines.filter(([, level]) => level === 1).map(([line]) => line);
  t.deepEqual(levelOne, [
    `send test-ns seq=${request.seq} RTM_NEWADDR flags=0x5 (${ADD_ADDRESS})`,
    `recv test-ns seq=${request.seq} NLMSG_ERROR flags=0x100`,
  ]);
  t.true(lines.some(([line, level]) => level === 2 && line.startsWith('  0000  ')), 'hex dumps at level 2');
  await session.close();
});

test('captured route dump through the session', async (t) => {
  const fixture = loadFixture();
  const captured = exchangeOf(fixture, 'route-dump');
  const { transport, session } = open();

  const dump = session.dumpAll(RTM_GETROUTE, DUMP_BODY, 'list routes', decodeRoute);
  const request = await transport.nextRequest();
  for (const reply of captured.replies) transport.deliver(withSequence(reply, request.seq));

  const routes = await dump;
  t.is(routes.length, fixture.ip.route4.length + fixture.ip.route6.length);
  await session.close();
});

/** Returns a copy of a captured datagram with every message's nlmsg_seq set to `seq`. */
function withSequence(captured: Buffer, seq: number): Buffer {
  const copy = Buffer.from(captured);
  for (let offset = 0; offset + 16 <= copy.length; ) {
    const length = copy.readUInt32LE(offset);
    copy.writeUInt32LE(seq, offset + 8);
    offset += Math.ceil(length / 4) * 4;
  }
  return copy;
}

test('dumpAll retries an interrupted dump', async (t) => {
  const retries: string[] = [];
  const transport = new FakeTransport();
  const session = new RtnlSession(transport, { timeoutMs: 2000, log: (line) => void (line.startsWith('retry') && retries.push(line)) });

  const dump = session.dumpAll(RTM_GETROUTE, DUMP_BODY, 'list routes', markerOf, { retries: 3 });
  const first = await transport.nextRequest();
  transport.deliver(datagram(markedPart(RTM_NEWROUTE, first.seq, 1, NLM_F_DUMP_INTR), doneFor(first.seq)));
  const second = await transport.nextRequest();
  transport.deliver(datagram(markedPart(RTM_NEWROUTE, second.seq, 2), markedPart(RTM_NEWROUTE, second.seq, 3), doneFor(second.seq)));

  t.deepEqual(await dump, [2, 3], 'only the clean attempt counts');
  t.not(first.seq, second.seq);
  t.is(second.type, RTM_GETROUTE);
  t.is(retries.length, 1);
  await session.close();
});

test('dumpAll gives up after its retries', async (t) => {
  const { transport, session } = open();

  const dump = session.dumpAll(RTM_GETROUTE, DUMP_BODY, 'list routes', markerOf, { retries: 2 });
  for (const marker of [1, 2, 3]) {
    const request = await transport.nextRequest();
    transport.deliver(datagram(markedPart(RTM_NEWROUTE, request.seq, marker, NLM_F_DUMP_INTR), doneFor(request.seq)));
  }

  const error = await t.throwsAsync(dump, { instanceOf: DumpInterruptedError });
  t.is(error?.attempts, 3);
  t.deepEqual(error?.partial, [3], 'the partial results of the last attempt');
  t.regex(error?.message ?? '', /^list routes: the kernel interrupted the dump on each of 3 attempts/);
  t.is(transport.sent.length, 3);

  // The socket stays usable.
  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  transport.deliver(ackFor(await transport.nextRequest()));
  await t.notThrowsAsync(change);
  await session.close();
});

for (const retries of [-1, 1.5, Number.NaN]) {
  test(`dumpAll rejects retries ${retries}`, async (t) => {
    const { transport, session } = open();

    await t.throwsAsync(session.dumpAll(RTM_GETROUTE, DUMP_BODY, 'list routes', markerOf, { retries }), {
      instanceOf: TypeError,
      message: `Expected the dump option \`retries\` to be an integer of 0 or more, got ${retries}`,
    });
    t.is(transport.sent.length, 0);
    await session.close();
  });
}

test('notifications reach the notification listener', async (t) => {
  const { transport, session } = open();
  const notified: number[] = [];
  session.onNotification((message) => notified.push(markerOf(message)));

  const dump = session.dumpAll(RTM_GETLINK, DUMP_BODY, 'list links', markerOf);
  const request = await transport.nextRequest();
  // A notification from the kernel (seq 0), and one caused by another socket whose own
  // counter happens to match this dump's sequence number: it lacks NLM_F_MULTI.
  transport.deliver(
    datagram(
      message({ type: RTM_NEWLINK, seq: 0 }, u32(100)),
      markedPart(RTM_NEWLINK, request.seq, 1),
      message({ type: RTM_NEWLINK, seq: request.seq, pid: 4242 }, u32(101)),
      doneFor(request.seq),
    ),
  );

  t.deepEqual(await dump, [1]);
  t.deepEqual(notified, [100, 101]);
  await session.close();
});

test('overrun is reported when a listener is set', async (t) => {
  const overruns: Error[] = [];
  const { transport, session } = open({ onOverrun: (error) => overruns.push(error) });
  const enobufs = Object.assign(new Error('Error when receiving Netlink message: No buffer space available'), { code: 'ENOBUFS', errno: 105 });

  transport.fail(new TransportError('netlink socket in test-ns failed', { cause: enobufs }));
  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  transport.deliver(ackFor(await transport.nextRequest()));

  await t.notThrowsAsync(change, 'the session still works');
  t.is(overruns.length, 1);
  await session.close();
});

test('overrun fails a session without a listener', async (t) => {
  const { transport, session } = open();
  const enobufs = Object.assign(new Error('No buffer space available'), { code: 'ENOBUFS' });

  const change = session.change(RTM_NEWADDR, 0, ADDRESS_BODY, ADD_ADDRESS);
  await transport.nextRequest();
  transport.fail(enobufs);

  t.is(await t.throwsAsync(change), enobufs);
  await session.close();
});

test('1000 requests in flight each get their own reply', async (t) => {
  const { transport, session } = open();
  const count = 1000;

  const gets = Array.from({ length: count }, (_, i) => session.get(RTM_GETLINK, DUMP_BODY, `get ${i}`));
  const requests = await Promise.all(gets.map(() => transport.nextRequest()));

  // Every request gets a reply with a marker of its own, in a shuffled order and several
  // replies to a datagram. A third of them are rejected instead.
  const order = [...requests.keys()].sort((a, b) => ((a * 7919) % count) - ((b * 7919) % count));
  for (let start = 0; start < order.length; start += 7) {
    const messages = order.slice(start, start + 7).flatMap((i) => {
      const request = requests[i]!;
      if (i % 3 === 0) return [errorFor(request, 19)];
      return [message({ type: RTM_NEWLINK, seq: request.seq }, u32(i)), ackFor(request)];
    });
    transport.deliver(datagram(...messages));
  }

  const outcomes = await Promise.allSettled(gets);
  outcomes.forEach((outcome, i) => {
    if (i % 3 === 0) {
      t.is(outcome.status === 'rejected' ? (outcome.reason as NetlinkError).description : null, `get ${i}`);
    } else {
      t.deepEqual(outcome.status === 'fulfilled' ? outcome.value.map(markerOf) : null, [i]);
    }
  });
  await session.close();
});
