/**
 * Subscriptions on the real kernel, through a relay in a namespace of the test's own:
 * changes made with `ip` arrive as events, and an overrun (ENOBUFS) is reported and
 * followed by a snapshot of the whole state.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';

import { Subscription, type SubscriptionEvent } from '../../src/netlink/subscription.js';
import type { NetnsHandle } from '../../src/ops/handle.js';
import { getLink } from '../../src/ops/links.js';
import { startRelay, type RelayTransport } from '../../src/ops/relay/client.js';
import { addressLines, ip, ipBatch, ipJson, throwawayNamespace } from './namespaces.js';

const sandboxed = process.env['ALGO_NETNS_SANDBOX'] === '1';
const test: TestFn = sandboxed ? anyTest : (anyTest.skip as TestFn);
if (!sandboxed) console.log('Skipping events.test.js: not inside the integration sandbox; run npm run test:integration');

const EVENT_TIMEOUT_MS = 20_000;

/** Reads events in the background and lets a test wait for the one it expects. */
class EventLog {
  readonly events: SubscriptionEvent[] = [];
  private readonly waiters: { match: (event: SubscriptionEvent) => boolean; resolve: (event: SubscriptionEvent) => void }[] = [];
  readonly finished: Promise<void>;

  constructor(subscription: Subscription) {
    this.finished = (async () => {
      for await (const event of subscription) {
        this.events.push(event);
        for (const waiter of [...this.waiters]) {
          if (!waiter.match(event)) continue;
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    })();
  }

  /** Kinds of the last ten events, for failure messages. */
  lastKinds(): string {
    return this.events
      .slice(-10)
      .map((event) => (event.kind === 'overrun' ? `overrun (${event.reason})` : event.kind))
      .join(', ');
  }

  /** Resolves with the first event, seen or to come, that `match` accepts. */
  waitFor(what: string, match: (event: SubscriptionEvent) => boolean): Promise<SubscriptionEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} event within ${EVENT_TIMEOUT_MS} ms; got ${this.events.length} events, the last ones: ${this.lastKinds()}`)), EVENT_TIMEOUT_MS);
      this.waiters.push({ match, resolve: (event) => (clearTimeout(timer), resolve(event)) });
    });
  }
}

async function subscribeTo(t: ExecutionContext, ns: NetnsHandle): Promise<{ subscription: Subscription; log: EventLog }> {
  const subscription = await Subscription.open(() => startRelay(ns.label), { log: null });
  const log = new EventLog(subscription);
  t.teardown(async () => {
    await subscription.close();
    await log.finished.catch(() => undefined);
  });
  return { subscription, log };
}

test('changes made with ip arrive as events', async (t) => {
  const ns = await throwawayNamespace(t, 'events');
  const { log } = await subscribeTo(t, ns);

  await ip(ns.label, ['link', 'add', 'ev0', 'type', 'bridge']);
  await ip(ns.label, ['link', 'set', 'ev0', 'up']);
  await ip(ns.label, ['address', 'add', '10.77.0.1/24', 'dev', 'ev0']);
  await ip(ns.label, ['route', 'add', '10.78.0.0/16', 'via', '10.77.0.2', 'table', '100']);
  await ip(ns.label, ['rule', 'add', 'from', '10.79.0.0/16', 'prohibit', 'priority', '150']);
  await ip(ns.label, ['-6', 'rule', 'add', 'from', '2001:db8:79::/48', 'unreachable', 'priority', '151']);
  await ip(ns.label, ['link', 'del', 'ev0']);

  const added = await log.waitFor('link ev0 new', (e) => e.kind === 'link' && e.action === 'new' && e.link.attributes.ifname === 'ev0');
  const address = await log.waitFor('address new', (e) => e.kind === 'address' && e.action === 'new' && e.address.attributes.local === '10.77.0.1');
  const route = await log.waitFor('route new', (e) => e.kind === 'route' && e.action === 'new' && e.route.attributes.dst === '10.78.0.0');
  const rule = await log.waitFor('rule new', (e) => e.kind === 'rule' && e.action === 'new' && e.rule.attributes.priority === 150);
  const rule6 = await log.waitFor('IPv6 rule new', (e) => e.kind === 'rule' && e.action === 'new' && e.rule.attributes.priority === 151);
  const removed = await log.waitFor('address del', (e) => e.kind === 'address' && e.action === 'del' && e.address.attributes.local === '10.77.0.1');
  const deleted = await log.waitFor('link ev0 del', (e) => e.kind === 'link' && e.action === 'del' && e.link.attributes.ifname === 'ev0');

  t.like(added, { link: { attributes: { linkinfo: { kind: 'bridge' } } } });
  t.like(address, { address: { prefixLength: 24 } });
  t.like(route, { route: { dstLength: 16, table: 100, attributes: { gateway: '10.77.0.2' } } });
  t.like(rule, { rule: { action: 8, srcLength: 16, attributes: { src: '10.79.0.0' } } });
  t.like(rule6, { rule: { action: 7, srcLength: 48, attributes: { src: '2001:db8:79::' } } });
  t.is(removed.kind === 'address' && added.kind === 'link' ? removed.address.index : -1, added.kind === 'link' ? added.link.index : -2);
  t.is(deleted.kind, 'link');
  t.false(log.events.some((event) => event.kind === 'overrun' || event.kind === 'undecodable'));
});

test('link moved away names the new namespace id', async (t) => {
  const from = await throwawayNamespace(t, 'from');
  const to = await throwawayNamespace(t, 'to');
  await ip(from.label, ['link', 'add', 'mv0', 'type', 'veth', 'peer', 'name', 'mv1']);
  const { log } = await subscribeTo(t, from);

  await ip(from.label, ['link', 'set', 'mv0', 'netns', to.label]);

  const event = await log.waitFor('link mv0 del', (e) => e.kind === 'link' && e.action === 'del' && e.link.attributes.ifname === 'mv0');
  const ids = await ipJson<{ nsid: number; name?: string }[]>(from.label, ['netns', 'list-id']);
  const newNetnsid = event.kind === 'link' ? event.link.attributes.newNetnsid : undefined;
  t.is(typeof newNetnsid, 'number');
  t.true((newNetnsid ?? -1) >= 0, 'an assigned id is not -1');
  t.true(ids.some((entry) => entry.nsid === newNetnsid), `ip lists ids ${JSON.stringify(ids)}`);
  // The peer left behind now points at the same namespace id.
  t.is((await getLink(from, 'mv1'))?.attributes.linkNetnsid, newNetnsid);
});

test('overrun is reported and followed by a snapshot', async (t) => {
  const ns = await throwawayNamespace(t, 'overrun');
  await ip(ns.label, ['link', 'add', 'br0', 'type', 'bridge']);
  const { subscription, log } = await subscribeTo(t, ns);
  const relay = subscription.transport as RelayTransport;

  // A stopped relay reads nothing, so 10,000 new addresses and their local routes overflow
  // its socket's receive buffer (8 MiB at most: net.core.rmem_max caps SO_RCVBUF).
  process.kill(relay.pid, 'SIGSTOP');
  try {
    await ipBatch(ns.label, addressLines('add', 'br0', 10_000));
  } finally {
    process.kill(relay.pid, 'SIGCONT');
  }

  // With the netlink package 0.3.0 the overrun aborts the relay (see Subscription), and the
  // feed replaces it; a relay that survived would report ENOBUFS instead. Both are overruns.
  const overrun = await log.waitFor('overrun', (e) => e.kind === 'overrun');
  const snapshot = await log.waitFor('snapshot', (e) => e.kind === 'snapshot');
  t.log(`${log.events.indexOf(snapshot)} events before the snapshot; overrun: ${overrun.kind === 'overrun' ? overrun.reason : ''}`);
  t.true(log.events.indexOf(overrun) < log.events.indexOf(snapshot));
  if (snapshot.kind === 'snapshot') {
    const bridge = snapshot.links.find((link) => link.attributes.ifname === 'br0');
    t.is(snapshot.addresses.filter((address) => address.index === bridge?.index).length, 10_000);
    t.true(snapshot.rules.length >= 3, 'the default rules of both families');
  }

  // The feed goes on after the snapshot.
  await ip(ns.label, ['link', 'add', 'after0', 'type', 'bridge']);
  await t.notThrowsAsync(log.waitFor('link after0', (e) => e.kind === 'link' && e.link.attributes.ifname === 'after0'));
});

test('no stale event follows a snapshot', async (t) => {
  const ns = await throwawayNamespace(t, 'order');
  const { subscription, log } = await subscribeTo(t, ns);
  const relay = subscription.transport as RelayTransport;

  // Every route of the churn is added and deleted while the relay is stopped, so all of it
  // happens before any snapshot's dump can begin. A route event for it after a snapshot would
  // be older than that snapshot, and a "new" would bring back a route the kernel has deleted.
  const count = 20_000;
  const destination = (n: number): string => `10.90.${n >> 8}.${n & 0xff}`;
  const churn = Array.from({ length: count }, (_, n) => `route add blackhole ${destination(n)}/32`);
  churn.push(...Array.from({ length: count }, (_, n) => `route del blackhole ${destination(n)}/32`));
  const isChurn = (event: SubscriptionEvent): boolean => event.kind === 'route' && (event.route.attributes.dst ?? '').startsWith('10.90.');
  process.kill(relay.pid, 'SIGSTOP');
  try {
    await ipBatch(ns.label, churn);
  } finally {
    process.kill(relay.pid, 'SIGCONT');
  }

  await log.waitFor('overrun', (e) => e.kind === 'overrun');
  await ip(ns.label, ['link', 'add', 'after0', 'type', 'bridge']);
  // A change made before the snapshot's dump began shows up in the snapshot, not as an event.
  const isAfter0 = (e: SubscriptionEvent): boolean =>
    (e.kind === 'link' && e.link.attributes.ifname === 'after0') || (e.kind === 'snapshot' && e.links.some((link) => link.attributes.ifname === 'after0'));
  await log.waitFor('link after0 as an event or in a snapshot', isAfter0);
  const lastOverrun = log.events.map((event) => event.kind).lastIndexOf('overrun');
  await log.waitFor('snapshot after the last overrun', (e) => e.kind === 'snapshot' && log.events.indexOf(e) > lastOverrun);

  const events = [...log.events];
  const kinds = events.map((event) => event.kind);
  const firstSnapshot = kinds.indexOf('snapshot');
  t.log(`${events.length} events, overruns at ${JSON.stringify(kinds.flatMap((kind, i) => (kind === 'overrun' ? [i] : [])))}, first snapshot at ${firstSnapshot}`);
  kinds.forEach((kind, index) => {
    if (kind === 'overrun') t.is(kinds[index + 1], 'snapshot', `event ${index} is an overrun, so event ${index + 1} must be a snapshot`);
  });
  for (const event of events) {
    if (event.kind === 'snapshot') t.false(event.routes.some((route) => (route.attributes.dst ?? '').startsWith('10.90.')), 'the churn is over before a snapshot begins');
  }
  const stale = events.slice(firstSnapshot).filter(isChurn);
  t.is(stale.length, 0, `churn route events after the first snapshot: ${stale.length}`);
});
