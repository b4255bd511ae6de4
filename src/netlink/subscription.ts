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
 * NOTE: the npm `netlink` package (0.3.0) aborts the process that owns the socket when the
 * kernel reports an overrun: libuv signals the socket error as a poll error, and the
 * package's handler then throws from native code (SIGABRT, "Error in native callback"). Give a
 * subscription a relay process, opened by a function so that it can open a new one, rather
 * than a socket of this process. The Perl relay (the default) passes the overrun on and keeps
 * its socket. The Node relay aborts, and the feed then opens a new one.
 */
import { decodeAddress, encodeAddress, type AddressMessage } from './address.js';
import { AF_UNSPEC, LINK_QUERY_EXT_MASK, RTM_GETADDR, RTM_GETLINK, RTM_GETROUTE, RTM_GETRULE } from './constants.js';
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

/** Opens the transport of a subscription, again after the last one failed. */
export type OpenTransport = () => Promise<NetlinkTransport>;

export class Subscription implements AsyncIterableIterator<SubscriptionEvent> {
  readonly families: readonly EventFamily[];
  private current: RtnlSession;
  private readonly openTransport: OpenTransport | null;
  private readonly sessionOptions: SessionOptions;
  private readonly maxQueuedEvents: number;
  private readonly snapshotRetries: number;
  private reopensLeft: number;
  private readonly queue: SubscriptionEvent[] = [];
  /** Notifications that arrive while a snapshot is dumped; they follow the snapshot. */
  private held: SubscriptionEvent[] | null = null;
  private snapshotAgain = false;
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
    return this.current.transport;
  }

  /** Namespace of the transport, for messages. */
  get where(): string {
    return this.transport.where;
  }

  private attach(transport: NetlinkTransport): RtnlSession {
    const session = new RtnlSession(transport, {
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

    if (this.held) this.held.push(event);
    else this.push(event);
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
    const event: OverrunEvent = { kind: 'overrun', reason };
    if (this.held) {
      // The snapshot being taken may miss what was lost, so another one follows it.
      this.held.push(event);
      this.snapshotAgain = true;
      return;
    }
    this.push(event);
    void this.takeSnapshots();
  }

  private async takeSnapshots(): Promise<void> {
    // `held` stays a list until the end, so an overrun during the flush below joins it and
    // requests one more round instead of starting a second loop.
    this.held = [];
    do {
      this.snapshotAgain = false;
      let snapshot: SnapshotEvent | null = null;
      while (snapshot === null) {
        const session = this.current;
        try {
          snapshot = await this.snapshot(session);
        } catch (error) {
          // A transport replaced during the dumps: take the snapshot again on the new one.
          if (session !== this.current && !this.ended) continue;
          this.end(error as Error);
          return;
        }
      }
      const held = this.held;
      this.held = [];
      this.push(snapshot);
      for (const event of held) this.push(event);
    } while (this.snapshotAgain && !this.ended);
    this.held = null;
  }

  private async snapshot(session: RtnlSession): Promise<SnapshotEvent> {
    const snapshot: SnapshotEvent = { kind: 'snapshot', links: [], addresses: [], routes: [], rules: [], consistent: true };
    const dump = async <T>(type: number, body: Buffer, what: string, decode: (message: Message) => T): Promise<T[]> => {
      try {
        return await session.dumpAll(type, body, `list ${what} in ${this.where} after an overrun`, decode, { retries: this.snapshotRetries });
      } catch (error) {
        if (!(error instanceof DumpInterruptedError)) throw error;
        snapshot.consistent = false;
        return error.partial as T[];
      }
    };

    if (this.families.includes('link')) snapshot.links = await dump(RTM_GETLINK, encodeLink(linkMessage({ attributes: { extMask: LINK_QUERY_EXT_MASK } })), 'links', decodeLink);
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
