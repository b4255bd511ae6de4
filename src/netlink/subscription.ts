/**
 * A live feed of link, address, route and rule changes from one network namespace, read from
 * a transport of its own. It needs its own socket because the kernel stamps notifications
 * caused by a socket's own requests with that socket's sequence numbers.
 *
 * When notifications are lost, the feed reports it with an "overrun" event and then sends a
 * "snapshot" event with a fresh dump, so that a consumer who applies the events gets back to
 * the kernel's state. Notifications are lost when the kernel finds the socket's receive buffer
 * full (ENOBUFS), when more than `maxQueuedEvents` wait for the consumer, or when the
 * process that reads the socket dies and the feed opens a new one.
 *
 * Order after a loss:
 * - The event after an "overrun" is always the "snapshot" that shows the state after the loss.
 *   Overruns reported before the snapshot's first dump request is sent are folded into the
 *   overrun already sent, because the dump shows their effect.
 * - Before the dumps, the feed reads the socket empty with a short dump. After an overrun the
 *   kernel marks the socket congested and drops every notification for it until its receive
 *   queue is empty, and it reports only the first drop. A dump that started earlier could miss
 *   a change that neither an event nor an overrun shows (seen on Linux 6.18 in the
 *   integration test "no stale event follows a snapshot").
 * - Notifications read after the overrun but before the first reply of the snapshot's first
 *   dump were queued before that dump began, so they are dropped: the snapshot supersedes them.
 * - Notifications that arrive once the dump has begun follow the snapshot. The dump may or may
 *   not already show such a change, and applying a "new" or "del" twice does no harm.
 * - A loss reported after the dump request was sent may have hit changes that the dump misses,
 *   so another "overrun" and "snapshot" follow those events.
 *
 * NOTE: the npm `netlink` package (0.3.0) aborts the process that owns the socket when the
 * kernel reports an overrun: libuv signals the socket error as a poll error, and the
 * package's handler then throws from native code (SIGABRT, "Error in native callback"). Give a
 * subscription a relay process, opened by a function so that it can open a new one, rather
 * than a socket of this process. The Perl relay (the default) passes the overrun on and keeps
 * its socket. The Node relay aborts, and the feed then opens a new one.
 */
import { decodeAddress, encodeAddress, type AddressMessage } from './address.js';
import { AF_INET, AF_UNSPEC, LINK_QUERY_EXT_MASK, NLM_F_MULTI, NLMSG_ERROR, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, RTM_GETRULE } from './constants.js';
import { DecodeError, DumpInterruptedError, TransportError } from './errors.js';
import { decodeChange, EVENT_FAMILIES, EVENT_GROUPS, type ChangeEvent, type EventFamily } from './events.js';
import { decodeLink, encodeLink, linkMessage, type LinkMessage } from './link.js';
import type { Message } from './message.js';
import { decodeRoute, encodeRoute, type RouteMessage } from './route.js';
import { decodeRule, encodeRule, type RuleMessage } from './rule.js';
import { isOverrun, RtnlSession, type SessionOptions } from './session.js';
import type { NetlinkTransport } from './transport.js';

/** Notifications were lost; a snapshot event follows. */
export interface OverrunEvent {
  kind: 'overrun';
  /** Why: "the kernel dropped notifications (ENOBUFS)" or the queue limit. */
  reason: string;
}

/** The state of the subscribed families, dumped after an overrun. */
export interface SnapshotEvent {
  kind: 'snapshot';
  links: LinkMessage[];
  addresses: AddressMessage[];
  routes: RouteMessage[];
  rules: RuleMessage[];
  /** False when a dump was still interrupted after its retries, so a list may miss or repeat entries. */
  consistent: boolean;
}

/** A notification whose bytes did not decode. */
export interface UndecodableEvent {
  kind: 'undecodable';
  messageType: number;
  error: DecodeError;
}

export type SubscriptionEvent = ChangeEvent | OverrunEvent | SnapshotEvent | UndecodableEvent;

export interface SubscriptionOptions extends Omit<SessionOptions, 'onOverrun'> {
  /** Families to follow; default all four. */
  families?: readonly EventFamily[];
  /**
   * How many times the feed opens a new transport after the last one failed, before it gives
   * up and ends with the error. Only a feed opened with a function can reopen. Default 5.
   */
  maxReopens?: number;
  /** Events kept for a slow consumer before the feed counts an overrun. Default 10,000. */
  maxQueuedEvents?: number;
  /** Retries of each snapshot dump that the kernel interrupts. Default 3. */
  snapshotRetries?: number;
}

const DEFAULT_MAX_QUEUED_EVENTS = 10_000;
const DEFAULT_SNAPSHOT_RETRIES = 3;
const DEFAULT_MAX_REOPENS = 5;

/** Maximum attempts to read the socket empty after an overrun; the snapshot then goes ahead anyway. */
const MAX_DRAIN_ROUNDS = 10;
/**
 * Body of a dump of the IPv4 rules, which is short in any namespace. It has to be a dump,
 * because while the socket is congested the kernel also drops replies to plain requests (an
 * RTM_GETLINK of lo timed out on Linux 6.18), but it still queues dump parts.
 */
const DRAIN_QUERY = encodeRule({ family: AF_INET, dstLength: 0, srcLength: 0, tos: 0, table: 0, action: 0, flags: 0, attributes: {} });

/** Opens the transport of a subscription, again after the last one failed. */
export type OpenTransport = () => Promise<NetlinkTransport>;

/**
 * A snapshot in progress. Phases: "waiting" until the first dump request is sent, "sent" until
 * its first reply arrives (notifications read meanwhile are dropped), then "dumping"
 * (notifications are deferred until after the snapshot).
 */
interface Recovery {
  phase: 'waiting' | 'sent' | 'dumping';
  /** Type and body of the first dump request, to recognize it among the datagrams sent. */
  firstRequest: { type: number; body: Buffer } | null;
  /** Sequence number of that request once sent. */
  seq: number | null;
  /** Notifications that arrived during the dump; they follow the snapshot. */
  deferred: SubscriptionEvent[];
  /** Reason of a loss after the dump request was sent; another overrun and snapshot follow. */
  lostAgain: string | null;
  /** Set by an overrun while the socket is read empty, which then starts over. */
  overrunWhileDraining: boolean;
}

export class Subscription implements AsyncIterableIterator<SubscriptionEvent> {
  readonly families: readonly EventFamily[];
  private current: RtnlSession;
  private readonly openTransport: OpenTransport | null;
  private readonly sessionOptions: SessionOptions;
  private readonly maxQueuedEvents: number;
  private readonly snapshotRetries: number;
  private reopensLeft: number;
  private currentTransport: NetlinkTransport;
  private readonly queue: SubscriptionEvent[] = [];
  /** The snapshot being taken after an overrun; null while the feed is in step with the kernel. */
  private recovery: Recovery | null = null;
  private waiting: { resolve: (result: IteratorResult<SubscriptionEvent>) => void; reject: (error: Error) => void } | null = null;
  private ended = false;
  private endError: Error | null = null;

  private constructor(transport: NetlinkTransport, openTransport: OpenTransport | null, options: SubscriptionOptions) {
    this.families = options.families ?? EVENT_FAMILIES;
    this.maxQueuedEvents = options.maxQueuedEvents ?? DEFAULT_MAX_QUEUED_EVENTS;
    this.snapshotRetries = options.snapshotRetries ?? DEFAULT_SNAPSHOT_RETRIES;
    this.reopensLeft = options.maxReopens ?? DEFAULT_MAX_REOPENS;
    this.openTransport = openTransport;
    const { families: _families, maxQueuedEvents: _max, snapshotRetries: _retries, maxReopens: _reopens, ...sessionOptions } = options;
    this.sessionOptions = sessionOptions;
    this.currentTransport = transport;
    this.current = this.attach(transport);
  }

  /**
   * Joins the multicast groups of `options.families` and returns the feed. Like
   * `ip monitor link address route rule`. The transport must serve no other session. Given a
   * function instead of a transport, the feed opens the transport itself, and opens another
   * one when it fails (an overrun event and a snapshot follow).
   */
  static async open(transport: NetlinkTransport | OpenTransport, options: SubscriptionOptions = {}): Promise<Subscription> {
    const openTransport = typeof transport === 'function' ? transport : null;
    const first = openTransport ? await openTransport() : (transport as NetlinkTransport);
    const subscription = new Subscription(first, openTransport, options);
    try {
      await subscription.join(first);
    } catch (error) {
      await subscription.close();
      throw error;
    }
    return subscription;
  }

  /**
   * The session on the subscription's current socket. Replies to dumps sent through it are
   * routed by sequence number and never show up as events, so a consumer can dump with it.
   */
  get session(): RtnlSession {
    return this.current;
  }

  /** The subscription's current transport. */
  get transport(): NetlinkTransport {
    return this.currentTransport;
  }

  /** Namespace of the transport, for messages. */
  get where(): string {
    return this.transport.where;
  }

  private attach(transport: NetlinkTransport): RtnlSession {
    const session = new RtnlSession(this.observe(transport), {
      ...this.sessionOptions,
      onOverrun: () => this.overrun('the kernel dropped notifications (ENOBUFS)'),
    });
    session.onNotification((message) => this.notification(message));
    transport.onFailure((error) => {
      if (isOverrun(error) || session !== this.current) return;
      void this.transportFailed(error);
    });
    return session;
  }

  /**
   * Wraps `transport` so that the feed observes, in stream order, when the snapshot's first dump
   * request goes out and when its first reply comes back. The session's own callbacks cannot
   * tell: an empty dump reaches the caller only through a promise, after later datagrams.
   */
  private observe(transport: NetlinkTransport): NetlinkTransport {
    return {
      get where() {
        return transport.where;
      },
      send: (datagram) => {
        this.requestSent(datagram);
        transport.send(datagram);
      },
      onDatagram: (listener) =>
        transport.onDatagram((datagram) => {
          this.datagramReceived(datagram);
          listener(datagram);
        }),
      onFailure: (listener) => transport.onFailure(listener),
      addMembership: (group) => transport.addMembership(group),
      close: () => transport.close(),
    };
  }

  private requestSent(datagram: Buffer): void {
    const recovery = this.recovery;
    if (recovery?.phase !== 'waiting' || recovery.firstRequest === null || datagram.length < 16) return;
    const { type, body } = recovery.firstRequest;
    if (datagram.readUInt16LE(4) !== type || !datagram.subarray(16, datagram.readUInt32LE(0)).equals(body)) return;
    recovery.phase = 'sent';
    recovery.seq = datagram.readUInt32LE(8);
  }

  private datagramReceived(datagram: Buffer): void {
    const recovery = this.recovery;
    if (recovery?.phase !== 'sent' || datagram.length < 16 || datagram.readUInt32LE(8) !== recovery.seq) return;
    // A notification can carry the same sequence number (another socket counts its own), but
    // only dump replies have NLM_F_MULTI, and a dump that fails at once replies with an error.
    const isReply = (datagram.readUInt16LE(6) & NLM_F_MULTI) !== 0 || datagram.readUInt16LE(4) === NLMSG_ERROR;
    if (isReply) recovery.phase = 'dumping';
  }

  private async join(transport: NetlinkTransport): Promise<void> {
    for (const family of this.families) {
      for (const group of EVENT_GROUPS[family]) await transport.addMembership(group);
    }
  }

  private async transportFailed(error: Error): Promise<void> {
    const failure = new TransportError(`subscription in ${this.where} failed: ${error.message}`, { cause: error });
    if (this.ended) return;
    if (!this.openTransport || this.reopensLeft <= 0) {
      this.end(failure);
      return;
    }

    this.reopensLeft--;
    const old = this.current;
    try {
      const transport = await this.openTransport();
      if (this.ended) {
        await transport.close();
        return;
      }
      this.currentTransport = transport;
      this.current = this.attach(transport);
      await this.join(transport);
    } catch (reopenError) {
      this.end(new TransportError(`${failure.message}; opening a new socket failed: ${(reopenError as Error).message}`, { cause: reopenError }));
      return;
    } finally {
      await old.close().catch(() => undefined);
    }
    this.overrun(`the socket's reader failed and was replaced (${firstLine(error.message)})`);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<SubscriptionEvent>> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.ended) return this.endError ? Promise.reject(this.endError) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Called when the consumer breaks out of its loop: the subscription closes. */
  async return(): Promise<IteratorResult<SubscriptionEvent>> {
    await this.close();
    return { value: undefined, done: true };
  }

  /** Leaves the groups by closing the transport; a waiting `next()` ends. */
  async close(): Promise<void> {
    this.end(null);
    await this.current.close();
  }

  private notification(message: Message): void {
    let event: SubscriptionEvent | null;
    try {
      event = decodeChange(message);
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error;
      event = { kind: 'undecodable', messageType: message.type, error };
    }
    if (event === null) return;

    const recovery = this.recovery;
    if (recovery === null) {
      this.push(event);
      return;
    }
    // Queued before the snapshot's dump began, so the snapshot supersedes it.
    if (recovery.phase !== 'dumping') return;
    if (recovery.deferred.length >= this.maxQueuedEvents) {
      recovery.deferred.length = 0;
      recovery.lostAgain ??= `more than ${this.maxQueuedEvents} events arrived while a snapshot was taken`;
      return;
    }
    recovery.deferred.push(event);
  }

  private push(event: SubscriptionEvent): void {
    if (this.ended) return;
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve({ value: event, done: false });
      return;
    }
    if (this.queue.length >= this.maxQueuedEvents && event.kind !== 'snapshot' && event.kind !== 'overrun') {
      // The snapshot that follows supersedes what the consumer has not read yet.
      this.queue.length = 0;
      this.overrun(`more than ${this.maxQueuedEvents} events waited for the consumer`);
      return;
    }
    this.queue.push(event);
  }

  private overrun(reason: string): void {
    if (this.ended) return;
    const recovery = this.recovery;
    if (recovery !== null) {
      // Before the dump request goes out, the snapshot shows what this loss hit. After that,
      // the loss may have hit changes that the dump misses, so another round follows.
      if (recovery.phase === 'waiting') recovery.overrunWhileDraining = true;
      else recovery.lostAgain ??= reason;
      return;
    }
    this.push({ kind: 'overrun', reason });
    void this.recover();
  }

  /** Takes a snapshot after an overrun, then sends it and the notifications deferred during its dump. */
  private async recover(): Promise<void> {
    let snapshot: SnapshotEvent | null = null;
    let recovery: Recovery;
    do {
      const session = this.current;
      recovery = { phase: 'waiting', firstRequest: null, seq: null, deferred: [], lostAgain: null, overrunWhileDraining: false };
      this.recovery = recovery;
      try {
        await this.drain(session, recovery);
        snapshot = await this.snapshot(session, recovery);
      } catch (error) {
        // A transport replaced during the dumps: take the snapshot again on the new one.
        if (session !== this.current && !this.ended) continue;
        this.recovery = null;
        this.end(error as Error);
        return;
      }
    } while (snapshot === null);

    this.recovery = null;
    this.push(snapshot);
    for (const event of recovery.deferred) {
      this.push(event);
      // A queue overrun here started a new round, whose snapshot supersedes the rest.
      if (this.recovery !== null || this.ended) return;
    }
    if (recovery.lostAgain !== null) this.overrun(recovery.lostAgain);
  }

  /**
   * Runs a short dump, whose end the kernel queues behind everything already waiting in the
   * socket. Once the relay has read the end, the queue was empty at least once, so the kernel
   * delivers notifications again.
   */
  private async drain(session: RtnlSession, recovery: Recovery): Promise<void> {
    for (let round = 1; ; round++) {
      recovery.overrunWhileDraining = false;
      await session.dumpAll(RTM_GETRULE, DRAIN_QUERY, `list IPv4 rules in ${this.where} to read the socket empty after an overrun`, () => null, { retries: this.snapshotRetries }).catch((error: unknown) => {
        // An interrupted dump still read the queue to its end.
        if (!(error instanceof DumpInterruptedError)) throw error;
      });
      if (!recovery.overrunWhileDraining) return;
      if (round >= MAX_DRAIN_ROUNDS) {
        // Notifications keep overflowing the socket. Go ahead, and let another round follow.
        recovery.lostAgain ??= `the kernel kept dropping notifications (ENOBUFS) for ${MAX_DRAIN_ROUNDS} reads of the socket`;
        return;
      }
    }
  }

  private async snapshot(session: RtnlSession, recovery: Recovery): Promise<SnapshotEvent> {
    const snapshot: SnapshotEvent = { kind: 'snapshot', links: [], addresses: [], routes: [], rules: [], consistent: true };
    const dump = async <T>(type: number, body: Buffer, what: string, decode: (message: Message) => T): Promise<T[]> => {
      // The first dump of the snapshot is the one whose start the transport wrapper watches for.
      recovery.firstRequest ??= { type, body };
      try {
        return await session.dumpAll(type, body, `list ${what} in ${this.where} after an overrun`, decode, { retries: this.snapshotRetries });
      } catch (error) {
        if (!(error instanceof DumpInterruptedError)) throw error;
        snapshot.consistent = false;
        return error.partial as T[];
      }
    };

    if (this.families.includes('link')) {
      const body = encodeLink(linkMessage({ attributes: { extMask: LINK_QUERY_EXT_MASK } }));
      snapshot.links = await dump(RTM_GETLINK, body, 'links', decodeLink);
    }
    if (this.families.includes('address')) {
      const body = encodeAddress({ family: AF_UNSPEC, prefixLength: 0, flags: 0, scope: 0, index: 0, attributes: {} });
      snapshot.addresses = await dump(RTM_GETADDR, body, 'addresses', decodeAddress);
    }
    if (this.families.includes('route')) {
      const body = encodeRoute({ family: AF_UNSPEC, dstLength: 0, srcLength: 0, tos: 0, table: 0, protocol: 0, scope: 0, type: 0, flags: 0, attributes: {} });
      snapshot.routes = await dump(RTM_GETROUTE, body, 'routes', decodeRoute);
    }
    if (this.families.includes('rule')) {
      const body = encodeRule({ family: AF_UNSPEC, dstLength: 0, srcLength: 0, tos: 0, table: 0, action: 0, flags: 0, attributes: {} });
      snapshot.rules = await dump(RTM_GETRULE, body, 'rules', decodeRule);
    }
    return snapshot;
  }

  private end(error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = error;
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      if (error) waiting.reject(error);
      else waiting.resolve({ value: undefined, done: true });
    }
  }
}

function firstLine(text: string): string {
  const end = text.indexOf('\n');
  return end === -1 ? text : text.slice(0, end);
}
