/**
 * A request/reply session over one rtnetlink transport. Every request gets its own
 * sequence number and replies are routed by it, so concurrent requests and dumps on one
 * socket never mix. Changes always request an acknowledgement and wait for it.
 *
 * The kernel runs at most one dump per socket and rejects a second one with EBUSY, so
 * dumps are queued here and sent one after another. Other requests go out at once.
 */
import {
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSG_NOOP,
  NLMSG_OVERRUN,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_MULTI,
  NLM_F_REQUEST,
} from './constants.js';
import { DumpIterator } from './dump-iterator.js';
import { DecodeError, DumpInterruptedError, NetlinkError, RequestTimeoutError, TransportError } from './errors.js';
import { hexDump, loggerFromEnvironment, type NetlinkLogger } from './log.js';
import { decodeError, encodeMessage, splitDatagram, type Message } from './message.js';
import { messageTypeName } from './names.js';
import { describeRequestOffset } from './request-offset.js';
import type { ChangeRequest } from './request.js';
import type { NetlinkTransport } from './transport.js';

export interface SessionOptions {
  /** Time limit for a request, or for the gap between two replies of a dump. Default 10 s. */
  timeoutMs?: number;
  /** Trace of every request and reply; defaults to the ALGO_NETNS_DEBUG environment variable. */
  log?: NetlinkLogger | null;
  /**
   * Receiver of multicast overruns (ENOBUFS: the kernel dropped notifications because the
   * socket's receive buffer was full). Without it an overrun fails the session like any
   * other socket error. A subscription sets it, because its socket stays usable.
   */
  onOverrun?: (error: Error) => void;
}

export interface DumpOptions {
  /**
   * How many times to run the dump again when the kernel marks it interrupted
   * (NLM_F_DUMP_INTR). Default 0: the first interruption raises DumpInterruptedError.
   */
  retries?: number;
}

/** The caller's action in words, for error messages: "add address 10.49.0.1/16 to wg0 in wireguard-ns". */
export type Description = string;

/** @internal A request waiting for its replies. */
export interface Pending {
  seq: number;
  type: number;
  description: Description;
  /** The request as sent, kept to name the attribute an extended acknowledgement points at. */
  datagram: Buffer;
  /** Messages that are neither acknowledgement nor end of dump. */
  onMessage(message: Message): void;
  /** Called once with the outcome; `interrupted` is set when a dump reply carried NLM_F_DUMP_INTR. */
  onEnd(error: Error | null): void;
  timer: NodeJS.Timeout | null;
  /** performance.now() of the latest reply, so a dump's timer runs from its last message. */
  lastActivity: number;
  isDump: boolean;
  interrupted: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;

// errno 105 on Linux: the receive queue overflowed and the kernel dropped messages.
const OVERRUN_CODE = 'ENOBUFS';

export class RtnlSession {
  readonly transport: NetlinkTransport;
  private readonly timeoutMs: number;
  private readonly log: NetlinkLogger | null;
  private readonly onOverrun: ((error: Error) => void) | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly notificationListeners: ((message: Message) => void)[] = [];
  private nextSeq = 1;
  private failure: Error | null = null;
  private dumpRunning = false;
  private readonly dumpQueue: (() => void)[] = [];

  constructor(transport: NetlinkTransport, options: SessionOptions = {}) {
    this.transport = transport;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.log = options.log === undefined ? loggerFromEnvironment() : options.log;
    this.onOverrun = options.onOverrun;
    transport.onDatagram((datagram) => this.receive(datagram));
    transport.onFailure((error) => this.handleFailure(error));
  }

  /** Namespace of the session's socket, for messages ("root namespace", "wireguard-ns"). */
  get where(): string {
    return this.transport.where;
  }

  /**
   * Sends a change (new, delete, set) with NLM_F_ACK and resolves when the kernel
   * acknowledges it; rejects with NetlinkError if the kernel refuses it.
   */
  async change(type: number, flags: number, body: Buffer, description: Description): Promise<void> {
    await this.exchange(type, flags | NLM_F_ACK, body, description, false, () => undefined);
  }

  /** Sends a change built by a request builder; see `change`. */
  async applyChange(request: ChangeRequest, description: Description): Promise<void> {
    await this.change(request.type, request.flags, request.body, description);
  }

  /** Sends a get request and resolves with the replies that precede the acknowledgement. */
  async get(type: number, body: Buffer, description: Description): Promise<Message[]> {
    const replies: Message[] = [];
    await this.exchange(type, NLM_F_ACK, body, description, false, (message) => replies.push(message));
    return replies;
  }

  /**
   * Sends a dump request and yields each reply as it arrives. Breaking out of the loop is
   * safe: the rest of the dump is read and dropped, so the socket stays usable. A dump the
   * kernel marks as interrupted ends with DumpInterruptedError after its last message.
   */
  dump(type: number, body: Buffer, description: Description): AsyncIterableIterator<Message> {
    return new DumpIterator(this, type, body, description);
  }

  /**
   * Collects a whole dump into an array, decoding each message with `decode`. An
   * interrupted dump runs again up to `options.retries` times; after that it raises
   * DumpInterruptedError with the last attempt's results in `partial`.
   */
  async dumpAll<T>(
    type: number,
    body: Buffer,
    description: Description,
    decode: (message: Message) => T,
    options: DumpOptions = {},
  ): Promise<T[]> {
    const retries = options.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new TypeError(`Expected the dump option \`retries\` to be an integer of 0 or more, got ${String(retries)}`);
    }

    for (let attempt = 1; ; attempt++) {
      const results: T[] = [];
      try {
        await this.collect(type, body, description, decode, results);
        return results;
      } catch (error) {
        if (!(error instanceof DumpInterruptedError)) throw error;
        if (attempt > retries) throw new DumpInterruptedError(description, results, attempt);
        this.trace('retry', type, 0, 0, null, `${description}: interrupted, attempt ${attempt + 1} of ${retries + 1}`);
      }
    }
  }

  // One dump into `results`, with messages handed over as they are split from the datagram:
  // a promise per message, as the async iterator needs, cost more than decoding a route.
  private collect<T>(type: number, body: Buffer, description: Description, decode: (message: Message) => T, results: T[]): Promise<void> {
    return new Promise((resolve, reject) => {
      let pending: Pending | null = null;
      let failed = false;
      const onMessage = (message: Message): void => {
        if (failed) return;
        try {
          results.push(decode(message));
        } catch (error) {
          // The rest of the dump is read and dropped, so the socket stays usable.
          failed = true;
          if (pending) this.abandon(pending);
          reject(error as Error);
        }
      };
      const onEnd = (error: Error | null): void => {
        if (failed) return;
        if (error) reject(error);
        else resolve();
      };
      this.whenDumpSlotFree(() => {
        try {
          pending = this.start(type, NLM_F_DUMP, body, description, true, onMessage, onEnd);
        } catch (error) {
          reject(error as Error);
        }
      });
    });
  }

  /**
   * Registers a receiver for messages that reply to no request of this session, such as
   * multicast notifications on a socket that joined groups. Without one they are dropped.
   */
  onNotification(listener: (message: Message) => void): void {
    this.notificationListeners.push(listener);
  }

  /** Closes the transport; pending requests fail with TransportError. */
  async close(): Promise<void> {
    this.fail(new TransportError(`netlink session in ${this.where} was closed`));
    await this.transport.close();
  }

  /**
   * @internal Runs `begin` when no other dump is in flight on this socket. Returns a
   * function that withdraws it if it has not started yet.
   */
  whenDumpSlotFree(begin: () => void): () => void {
    if (!this.dumpRunning) {
      this.dumpRunning = true;
      begin();
      return () => undefined;
    }
    this.dumpQueue.push(begin);
    return () => {
      const index = this.dumpQueue.indexOf(begin);
      if (index !== -1) this.dumpQueue.splice(index, 1);
    };
  }

  private releaseDumpSlot(): void {
    const next = this.dumpQueue.shift();
    if (next) next();
    else this.dumpRunning = false;
  }

  /** @internal Starts a request; used by the dump iterator and the methods above. */
  start(
    type: number,
    flags: number,
    body: Buffer,
    description: Description,
    isDump: boolean,
    onMessage: (message: Message) => void,
    onEnd: (error: Error | null) => void,
  ): Pending {
    if (this.failure) {
      if (isDump) this.releaseDumpSlot();
      throw this.failure;
    }

    const seq = this.allocateSeq();
    const end = isDump
      ? (error: Error | null) => {
          this.releaseDumpSlot();
          onEnd(error);
        }
      : onEnd;
    const datagram = encodeMessage(type, flags | NLM_F_REQUEST, seq, body);
    const pending: Pending = { seq, type, description, datagram, onMessage, onEnd: end, timer: null, lastActivity: performance.now(), isDump, interrupted: false };
    this.pending.set(seq, pending);
    this.armTimer(pending);

    this.trace('send', type, flags | NLM_F_REQUEST, seq, datagram, description);
    try {
      this.transport.send(datagram);
    } catch (error) {
      this.finish(pending, new TransportError(`${description}: sending to the kernel in ${this.where} failed`, { cause: error }));
    }
    return pending;
  }

  private exchange(
    type: number,
    flags: number,
    body: Buffer,
    description: Description,
    isDump: boolean,
    onMessage: (message: Message) => void,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      try {
        this.start(type, flags, body, description, isDump, onMessage, (error) => (error ? reject(error) : resolve()));
      } catch (error) {
        reject(error);
      }
    });
  }

  private allocateSeq(): number {
    // The kernel sends unsolicited notifications with sequence 0, so skip it. After a wrap,
    // skip any number still in flight too.
    do {
      this.nextSeq = (this.nextSeq + 1) >>> 0;
    } while (this.nextSeq === 0 || this.pending.has(this.nextSeq));
    return this.nextSeq;
  }

  // One timer per request. A dump's replies only record when they arrived, and the timer
  // re-arms itself for the rest of the window. Re-arming it for every message of a large dump
  // was a measurable share of the decode time.
  private armTimer(pending: Pending, delayMs = this.timeoutMs): void {
    if (pending.timer) clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      const quietMs = performance.now() - pending.lastActivity;
      if (quietMs < this.timeoutMs) {
        this.armTimer(pending, this.timeoutMs - quietMs);
        return;
      }
      const error = new RequestTimeoutError({
        description: pending.description,
        timeoutMs: this.timeoutMs,
        where: this.where,
        operation: messageTypeName(pending.type),
        seq: pending.seq,
      });
      this.finish(pending, error);
    }, delayMs);
  }

  private receive(datagram: Buffer): void {
    let messages: Message[];
    try {
      messages = splitDatagram(datagram);
    } catch (error) {
      // A datagram whose framing is broken cannot be routed to its request; every request
      // waiting on this socket may have lost its reply.
      const reason = error instanceof DecodeError ? error.message : String(error);
      this.fail(new TransportError(`malformed datagram from the kernel in ${this.where}: ${reason}`, { cause: error }));
      return;
    }

    // One clock reading per datagram serves every dump reply in it.
    const now = performance.now();
    for (const message of messages) {
      this.trace('recv', message.type, message.flags, message.seq, null, '');
      const pending = this.pending.get(message.seq);
      if (pending && answers(pending, message)) this.dispatch(pending, message, now);
      else for (const listener of this.notificationListeners) listener(message);
    }
    if (this.log) this.log(hexDump(datagram), 2);
  }

  private dispatch(pending: Pending, message: Message, now: number): void {
    if (message.flags & NLM_F_DUMP_INTR) pending.interrupted = true;

    switch (message.type) {
      case NLMSG_NOOP:
      case NLMSG_OVERRUN:
        return;
      case NLMSG_ERROR:
        this.finish(pending, this.errorFrom(pending, message));
        return;
      case NLMSG_DONE:
        this.finish(pending, this.doneError(pending, message));
        return;
      default:
        if (pending.isDump) pending.lastActivity = now;
        pending.onMessage(message);
    }
  }

  private errorFrom(pending: Pending, message: Message): Error | null {
    let decoded;
    try {
      decoded = decodeError(message);
    } catch (error) {
      return error as Error;
    }
    if (decoded.errno === 0) return pending.interrupted ? new DumpInterruptedError(pending.description, []) : null;

    const extendedAck = { ...decoded.extendedAck };
    const location = extendedAck.offset === undefined ? undefined : describeRequestOffset(pending.datagram, extendedAck.offset);
    if (location !== undefined) extendedAck.location = location;
    return new NetlinkError({
      errno: decoded.errno,
      operation: messageTypeName(pending.type),
      description: pending.description,
      seq: pending.seq,
      extendedAck,
    });
  }

  private doneError(pending: Pending, message: Message): Error | null {
    // NLMSG_DONE carries an int: a negative errno when the dump itself failed.
    if (message.payload.length >= 4) {
      const code = message.payload.readInt32LE(0);
      if (code < 0) {
        return new NetlinkError({ errno: -code, operation: messageTypeName(pending.type), description: pending.description, seq: pending.seq });
      }
    }
    return pending.interrupted ? new DumpInterruptedError(pending.description, []) : null;
  }

  private finish(pending: Pending, error: Error | null): void {
    if (this.pending.get(pending.seq) !== pending) return;
    this.pending.delete(pending.seq);
    if (pending.timer) clearTimeout(pending.timer);
    pending.onEnd(error);
  }

  /** @internal Stops routing replies to a request (an abandoned dump or a timeout). */
  abandon(pending: Pending): void {
    pending.onMessage = () => undefined;
  }

  private handleFailure(error: Error): void {
    if (this.onOverrun && isOverrun(error)) {
      this.trace('overrun', 0, 0, 0, null, error.message);
      this.onOverrun(error);
      return;
    }
    this.fail(error);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of [...this.pending.values()]) this.finish(pending, error);
  }

  private trace(direction: string, type: number, flags: number, seq: number, datagram: Buffer | null, description: string): void {
    if (!this.log) return;
    const what = description ? ` (${description})` : '';
    this.log(`${direction} ${this.where} seq=${seq} ${messageTypeName(type)} flags=0x${flags.toString(16)}${what}`, 1);
    if (datagram) this.log(hexDump(datagram), 2);
  }
}

/**
 * Returns whether `message`, which carries the sequence number of `pending`, is a reply to
 * it. A notification caused by another socket can carry the same number, because each socket
 * counts on its own. Notifications never have NLM_F_MULTI, which every dump reply has.
 */
function answers(pending: Pending, message: Message): boolean {
  if (!pending.isDump) return true;
  return message.type === NLMSG_ERROR || message.type === NLMSG_DONE || (message.flags & NLM_F_MULTI) !== 0;
}

/** Returns whether a transport failure is a multicast overrun (ENOBUFS), here or in its causes. */
export function isOverrun(error: unknown): boolean {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; current = current.cause, depth++) {
    if ((current as NodeJS.ErrnoException).code === OVERRUN_CODE) return true;
  }
  return false;
}
