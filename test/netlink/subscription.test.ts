import test from 'ava';

import { DecodeError, TransportError } from '../../src/netlink/errors.js';
import { Subscription, type SubscriptionEvent, type SubscriptionOptions } from '../../src/netlink/subscription.js';
import { attr, bytes, cstring, ipv4, message, s32, u16, u32, u8 } from './helpers/bytes.js';
import { datagram, doneFor, dumpPart, FakeTransport, type SentRequest } from './helpers/fake-transport.js';

// Numbers from include/uapi/linux/rtnetlink.h, written out so that a wrong constant in src shows.
const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
const RTM_GETLINK = 18;
const RTM_NEWADDR = 20;
const RTM_GETADDR = 22;
const RTM_NEWROUTE = 24;
const RTM_GETROUTE = 26;
const RTM_NEWRULE = 32;
const RTM_GETRULE = 34;
const NLM_F_DUMP_INTR = 0x10;
const AF_INET = 2;

/** ifinfomsg and IFLA_IFNAME of a link with `index`. */
function linkBody(index: number, name: string): Buffer {
  return bytes(u8(0), u8(0), u16(1), s32(index), u32(0x1003), u32(0), attr(3, cstring(name)));
}

/** ifaddrmsg and IFA_LOCAL of an IPv4 address. */
function addressBody(index: number, address: string, prefixLength: number): Buffer {
  return bytes(u8(2), u8(prefixLength), u8(0), u8(0), u32(index), attr(2, ipv4(address)));
}

/** Returns a notification as the kernel multicasts it: sequence 0, no NLM_F_MULTI. */
function notification(type: number, body: Buffer): Buffer {
  return message({ type, seq: 0 }, body);
}

async function subscribe(options: SubscriptionOptions = {}): Promise<{ transport: FakeTransport; subscription: Subscription }> {
  const transport = new FakeTransport();
  const subscription = await Subscription.open(transport, { log: null, timeoutMs: 2000, ...options });
  return { transport, subscription };
}

async function take(subscription: Subscription, count: number): Promise<SubscriptionEvent[]> {
  const events: SubscriptionEvent[] = [];
  for (let i = 0; i < count; i++) {
    const next = await subscription.next();
    if (next.done) break;
    events.push(next.value);
  }
  return events;
}

/** Replies to the short dump of IPv4 rules that reads the socket empty before a snapshot. */
async function answerDrain(transport: FakeTransport): Promise<SentRequest> {
  const request = await transport.nextRequest();
  if (request.type !== RTM_GETRULE || request.body[0] !== AF_INET) throw new Error(`expected the drain dump, got type ${request.type}`);
  transport.deliver(doneFor(request.seq));
  return request;
}

/** Replies to the four snapshot dumps in turn, each with the parts that `parts` builds. */
async function answerSnapshot(transport: FakeTransport, parts: (request: SentRequest) => Buffer[] = () => []): Promise<SentRequest[]> {
  const requests: SentRequest[] = [];
  for (let i = 0; i < 4; i++) {
    const request = await transport.nextRequest();
    requests.push(request);
    transport.deliver(datagram(...parts(request), doneFor(request.seq)));
  }
  return requests;
}

const enobufs = (): Error => new TransportError('netlink socket in test-ns failed', { cause: Object.assign(new Error('No buffer space available'), { code: 'ENOBUFS' }) });

test('joins the groups of each family', async (t) => {
  const all = await subscribe();
  const links = await subscribe({ families: ['link'] });
  const routesAndRules = await subscribe({ families: ['route', 'rule'] });

  t.deepEqual(all.transport.groups, [1, 5, 9, 7, 11, 8, 19]);
  t.deepEqual(links.transport.groups, [1]);
  t.deepEqual(routesAndRules.transport.groups, [7, 11, 8, 19]);
  for (const each of [all, links, routesAndRules]) await each.subscription.close();
});

test('notifications become events', async (t) => {
  const { transport, subscription } = await subscribe();

  transport.deliver(
    datagram(notification(RTM_NEWLINK, linkBody(3, 've-wg')), notification(RTM_NEWADDR, addressBody(3, '10.47.255.1', 30))),
    notification(RTM_DELLINK, linkBody(3, 've-wg')),
  );
  const events = await take(subscription, 3);

  t.like(events[0], { kind: 'link', action: 'new', link: { index: 3, attributes: { ifname: 've-wg' } } });
  t.like(events[1], { kind: 'address', action: 'new', address: { index: 3, prefixLength: 30, attributes: { local: '10.47.255.1' } } });
  t.like(events[2], { kind: 'link', action: 'del', link: { index: 3 } });
  await subscription.close();
});

test('route and rule notifications', async (t) => {
  const { transport, subscription } = await subscribe();
  const rtmsg = bytes(u8(2), u8(16), u8(0), u8(0), u8(254), u8(3), u8(0), u8(7), u32(0), attr(1, ipv4('10.63.0.0')));
  const ruleHeader = bytes(u8(2), u8(0), u8(0), u8(0), u8(0), u8(0), u8(0), u8(8), u32(0), attr(6, u32(10400)));

  transport.deliver(notification(RTM_NEWROUTE, rtmsg), notification(RTM_NEWRULE + 1, ruleHeader));
  const events = await take(subscription, 2);

  t.like(events[0], { kind: 'route', action: 'new', route: { type: 7, dstLength: 16, attributes: { dst: '10.63.0.0' } } });
  t.like(events[1], { kind: 'rule', action: 'del', rule: { action: 8, attributes: { priority: 10400 } } });
  await subscription.close();
});

test('other message types make no event', async (t) => {
  const { transport, subscription } = await subscribe();

  // RTM_NEWNSID (88), then a link: only the link comes out.
  transport.deliver(notification(88, bytes(u8(0), u8(0), u8(0), u8(0))), notification(RTM_NEWLINK, linkBody(2, 'uplink')));

  const [event] = await take(subscription, 1);
  t.like(event, { kind: 'link', link: { index: 2 } });
  await subscription.close();
});

test('undecodable notification is an event', async (t) => {
  const { transport, subscription } = await subscribe();

  // IFLA_MTU with 2 bytes: nlmsghdr (16) and ifinfomsg (16), so its payload starts at 36.
  transport.deliver(notification(RTM_NEWLINK, bytes(u8(0), u8(0), u16(1), s32(4), u32(0), u32(0), attr(4, u16(1500)))));
  const [event] = await take(subscription, 1);

  t.is(event?.kind, 'undecodable');
  const error = event?.kind === 'undecodable' ? event.error : null;
  t.true(error instanceof DecodeError);
  t.is(error?.offset, 36);
  await subscription.close();
});

test('overrun is followed by a snapshot', async (t) => {
  const { transport, subscription } = await subscribe();

  transport.deliver(notification(RTM_NEWLINK, linkBody(2, 'before')));
  transport.fail(enobufs());
  await answerDrain(transport);
  const requests = answerSnapshot(transport, (request) => {
    // A change that happens while the snapshot is taken arrives between its parts.
    if (request.type === RTM_GETADDR) transport.deliver(notification(RTM_NEWLINK, linkBody(9, 'during')));
    if (request.type === RTM_GETLINK) return [dumpPart(RTM_NEWLINK, request.seq, linkBody(1, 'lo')), dumpPart(RTM_NEWLINK, request.seq, linkBody(2, 'before'))];
    if (request.type === RTM_GETADDR) return [dumpPart(RTM_NEWADDR, request.seq, addressBody(1, '127.0.0.1', 8))];
    return [];
  });
  const events = await take(subscription, 4);

  t.deepEqual(
    (await requests).map((request) => request.type),
    [RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETRULE],
  );
  t.like(events[0], { kind: 'link', link: { attributes: { ifname: 'before' } } });
  t.deepEqual(events[1], { kind: 'overrun', reason: 'the kernel dropped notifications (ENOBUFS)' });
  t.is(events[2]?.kind, 'snapshot');
  if (events[2]?.kind === 'snapshot') {
    t.deepEqual(
      events[2].links.map((link) => link.attributes.ifname),
      ['lo', 'before'],
    );
    t.is(events[2].addresses.length, 1);
    t.true(events[2].consistent);
  }
  t.like(events[3], { kind: 'link', link: { attributes: { ifname: 'during' } } }, 'held events follow the snapshot');
  await subscription.close();
});

test('events queued before the snapshot dump are dropped', async (t) => {
  const { transport, subscription } = await subscribe({ families: ['link'] });

  transport.fail(enobufs());
  await answerDrain(transport);
  const request = await transport.nextRequest();
  // Read from the socket after the overrun but queued before the dump began: the snapshot
  // already shows link 5 deleted, so replaying its "new" after the snapshot would be wrong.
  transport.deliver(notification(RTM_NEWLINK, linkBody(5, 'gone')));
  transport.deliver(datagram(dumpPart(RTM_NEWLINK, request.seq, linkBody(1, 'lo'))));
  transport.deliver(notification(RTM_NEWLINK, linkBody(6, 'during')));
  transport.deliver(doneFor(request.seq));
  transport.deliver(notification(RTM_DELLINK, linkBody(6, 'during')));
  const events = await take(subscription, 4);

  t.deepEqual(
    events.map((event) => event.kind),
    ['overrun', 'snapshot', 'link', 'link'],
  );
  t.like(events[2], { kind: 'link', action: 'new', link: { index: 6 } }, 'an event during the dump follows the snapshot');
  t.like(events[3], { kind: 'link', action: 'del', link: { index: 6 } });
  await subscription.close();
});

test('empty first dump still marks the dump start', async (t) => {
  const { transport, subscription } = await subscribe({ families: ['address'] });

  transport.fail(enobufs());
  await answerDrain(transport);
  const request = await transport.nextRequest();
  transport.deliver(notification(RTM_NEWADDR, addressBody(1, '192.0.2.1', 32)));
  transport.deliver(doneFor(request.seq));
  transport.deliver(notification(RTM_NEWADDR, addressBody(1, '192.0.2.2', 32)));
  const events = await take(subscription, 3);

  t.deepEqual(
    events.map((event) => event.kind),
    ['overrun', 'snapshot', 'address'],
  );
  t.like(events[2], { kind: 'address', address: { attributes: { local: '192.0.2.2' } } });
  await subscription.close();
});

test('queue overrun during the flush gets a snapshot', async (t) => {
  const { transport, subscription } = await subscribe({ families: ['link'], maxQueuedEvents: 3 });

  transport.fail(enobufs());
  await answerDrain(transport);
  const first = await transport.nextRequest();
  transport.deliver(datagram(dumpPart(RTM_NEWLINK, first.seq, linkBody(1, 'lo'))));
  for (let index = 10; index < 16; index++) transport.deliver(notification(RTM_NEWLINK, linkBody(index, `if${index}`)));
  transport.deliver(doneFor(first.seq));
  await answerDrain(transport);
  const second = await transport.nextRequest();
  transport.deliver(doneFor(second.seq));
  const events: SubscriptionEvent[] = [];
  for (;;) {
    const next = await Promise.race([subscription.next(), new Promise<null>((resolve) => setTimeout(() => resolve(null), 200))]);
    if (next === null || next.done) break;
    events.push(next.value);
  }

  const kinds = events.map((event) => event.kind);
  t.is(kinds.at(-1), 'snapshot', 'the last event is a snapshot, not an overrun');
  kinds.forEach((kind, index) => {
    if (kind === 'overrun') t.is(kinds[index + 1], 'snapshot', `event ${index + 1} is a snapshot after an overrun`);
  });
  await subscription.close();
});

test('overrun while draining drains again', async (t) => {
  const { transport, subscription } = await subscribe({ families: ['link'] });

  transport.fail(enobufs());
  const firstDrain = await transport.nextRequest();
  // The kernel kept dropping, so one read of the queue to empty is not known to be enough.
  transport.fail(enobufs());
  transport.deliver(doneFor(firstDrain.seq));
  await answerDrain(transport);
  const dump = await transport.nextRequest();
  transport.deliver(doneFor(dump.seq));
  const events = await take(subscription, 2);

  t.is(dump.type, RTM_GETLINK, 'the snapshot comes only after the second drain');
  t.deepEqual(
    events.map((event) => event.kind),
    ['overrun', 'snapshot'],
  );
  await subscription.close();
});

test('overrun during a snapshot takes another', async (t) => {
  const { transport, subscription } = await subscribe({ families: ['link'] });

  transport.fail(enobufs());
  await answerDrain(transport);
  const first = await transport.nextRequest();
  transport.fail(enobufs());
  transport.deliver(doneFor(first.seq));
  await answerDrain(transport);
  const second = await transport.nextRequest();
  transport.deliver(doneFor(second.seq));
  const events = await take(subscription, 4);

  // The first snapshot may miss what the second overrun lost, so the second one follows it.
  t.deepEqual(
    events.map((event) => event.kind),
    ['overrun', 'snapshot', 'overrun', 'snapshot'],
  );
  t.is(second.type, RTM_GETLINK);
  await subscription.close();
});

test('interrupted snapshot is marked inconsistent', async (t) => {
  const { transport, subscription } = await subscribe({ families: ['link'], snapshotRetries: 1 });

  transport.fail(enobufs());
  await answerDrain(transport);
  for (const marker of [1, 2]) {
    const request = await transport.nextRequest();
    transport.deliver(datagram(dumpPart(RTM_NEWLINK, request.seq, linkBody(marker, `if${marker}`), NLM_F_DUMP_INTR), doneFor(request.seq)));
  }
  const [, snapshot] = await take(subscription, 2);

  t.like(snapshot, { kind: 'snapshot', consistent: false });
  if (snapshot?.kind === 'snapshot') t.deepEqual(snapshot.links.map((link) => link.index), [2], 'the partial results of the last attempt');
  await subscription.close();
});

test('a slow consumer overruns the queue', async (t) => {
  const { transport, subscription } = await subscribe({ families: ['link'], maxQueuedEvents: 3 });

  for (let index = 1; index <= 5; index++) transport.deliver(notification(RTM_NEWLINK, linkBody(index, `if${index}`)));
  await answerDrain(transport);
  const request = await transport.nextRequest();
  transport.deliver(doneFor(request.seq));
  transport.deliver(notification(RTM_NEWLINK, linkBody(6, 'if6')));
  const events = await take(subscription, 3);

  t.deepEqual(events[0], { kind: 'overrun', reason: 'more than 3 events waited for the consumer' });
  t.is(events[1]?.kind, 'snapshot');
  t.like(events[2], { kind: 'link', link: { index: 6 } }, 'link 5 came before the dump began, link 6 after it');
  await subscription.close();
});

test('transport failure ends the feed', async (t) => {
  const { transport, subscription } = await subscribe();

  transport.deliver(notification(RTM_NEWLINK, linkBody(2, 'uplink')));
  transport.fail(new Error('relay for test-ns exited with code 1'));

  t.like((await subscription.next()).value, { kind: 'link' }, 'queued events come first');
  const error = await t.throwsAsync(subscription.next(), { instanceOf: TransportError });
  t.regex(error?.message ?? '', /^subscription in test-ns failed: relay for test-ns exited with code 1/);
  await subscription.close();
});

test('failed transport is reopened', async (t) => {
  const transports = [new FakeTransport(), new FakeTransport()];
  let opened = 0;
  const subscription = await Subscription.open(async () => transports[opened++]!, { log: null, timeoutMs: 2000, families: ['link'] });
  const [first, second] = transports as [FakeTransport, FakeTransport];

  first.fail(new Error('relay for test-ns was killed by signal SIGABRT: terminate called\nmore text'));
  await answerDrain(second);
  const request = await second.nextRequest();
  second.deliver(datagram(dumpPart(RTM_NEWLINK, request.seq, linkBody(1, 'lo')), doneFor(request.seq)));
  second.deliver(notification(RTM_NEWLINK, linkBody(7, 'later')));
  const events = await take(subscription, 3);

  t.is(opened, 2);
  t.true(first.closed);
  t.deepEqual(second.groups, [1], 'the new transport joins the groups');
  t.deepEqual(events[0], { kind: 'overrun', reason: "the socket's reader failed and was replaced (relay for test-ns was killed by signal SIGABRT: terminate called)" });
  t.like(events[1], { kind: 'snapshot', links: [{ index: 1 }] });
  t.like(events[2], { kind: 'link', link: { index: 7 } });
  t.is(subscription.transport, second);
  await subscription.close();
});

test('reopening stops after maxReopens', async (t) => {
  const transports: FakeTransport[] = [];
  const subscription = await Subscription.open(
    async () => {
      const transport = new FakeTransport();
      transports.push(transport);
      return transport;
    },
    { log: null, families: ['link'], maxReopens: 1 },
  );

  transports[0]!.fail(new Error('first death'));
  await transports[1]!.nextRequest();
  transports[1]!.fail(new Error('second death'));
  const events: SubscriptionEvent[] = [];
  const error = await t.throwsAsync(
    (async () => {
      for await (const event of subscription) events.push(event);
    })(),
    { instanceOf: TransportError },
  );

  t.is(transports.length, 2);
  t.regex(error?.message ?? '', /^subscription in test-ns failed: second death/);
  t.is(events[0]?.kind, 'overrun');
});

test('close ends a waiting next', async (t) => {
  const { transport, subscription } = await subscribe();

  const waiting = subscription.next();
  await subscription.close();

  t.deepEqual(await waiting, { value: undefined, done: true });
  t.true(transport.closed);
});

test('breaking out of the loop closes it', async (t) => {
  const { transport, subscription } = await subscribe();
  transport.deliver(notification(RTM_NEWLINK, linkBody(2, 'uplink')));

  for await (const event of subscription) {
    t.is(event.kind, 'link');
    break;
  }

  t.true(transport.closed);
});
