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
  NLM_F_REQUEST,
} from './constants.js';
import { DecodeError, DumpInterruptedError, NetlinkError, RequestTimeoutError, TransportError } from './errors.js';
import { hexDump, loggerFromEnvironment, type NetlinkLogger } from './log.js';
import { decodeError, encodeMessage, splitDatagram, type Message } from './message.js';
import { messageTypeName } from './names.js';
import type { NetlinkTransport } from './transport.js';

export interface SessionOptions {
  /** Time limit for a request, or for the gap between two replies of a dump. Default 10 s. */
  timeoutMs?: number;
  /** Trace of every request and reply; defaults to the ALGO_NETNS_DEBUG environment variable. */
  log?: NetlinkLogger | null;
}

/** The caller's action in words, for error messages: "add address 10.49.0.1/16 to wg0 in wireguard-ns". */
export type Description = string;

interface Pending {
  seq: number;
  type: number;
  description: Description;
  /** Messages that are neither acknowledgement nor end of dump. */
  onMessage(message: Message): void;
  /** Called once with the outcome; `interrupted` is set when a dump reply carried NLM_F_DUMP_INTR. */
  onEnd(error: Error | null): void;
  timer: NodeJS.Timeout | null;
  isDump: boolean;
  interrupted: boolean;
}

const DEFAULT_TIMEOUT_MS = 10_000;

export class RtnlSession {
  readonly transport: NetlinkTransport;
  private readonly timeoutMs: number;
  private readonly log: NetlinkLogger | null;
  private readonly pending = new Map<number, Pending>();
  private nextSeq = 1;
  private failure: Error | null = null;
  private dumpRunning = false;
  private readonly dumpQueue: (() => void)[] = [];

  constructor(transport: NetlinkTransport, options: SessionOptions = {}) {
    this.transport = transport;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.log = options.log === undefined ? loggerFromEnvironment() : options.log;
    transport.onDatagram((datagram) => this.receive(datagram));
    transport.onFailure((error) => this.fail(error));
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

  /** Collects a whole dump into an array, decoding each message with `decode`. */
  async dumpAll<T>(type: number, body: Buffer, description: Description, decode: (message: Message) => T): Promise<T[]> {
    const results: T[] = [];
    try {
      for await (const message of this.dump(type, body, description)) results.push(decode(message));
    } catch (error) {
      if (error instanceof DumpInterruptedError) throw new DumpInterruptedError(description, results);
      throw error;
    }
    return results;
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
    const pending: Pending = { seq, type, description, onMessage, onEnd: end, timer: null, isDump, interrupted: false };
    this.pending.set(seq, pending);
    this.armTimer(pending);

    const datagram = encodeMessage(type, flags | NLM_F_REQUEST, seq, body);
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

  private armTimer(pending: Pending): void {
    if (pending.timer) clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      this.finish(pending, new RequestTimeoutError(pending.description, this.timeoutMs, this.where));
    }, this.timeoutMs);
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

    for (const message of messages) {
      this.trace('recv', message.type, message.flags, message.seq, null, '');
      const pending = this.pending.get(message.seq);
      if (!pending) continue; // A late reply to a request that timed out or was abandoned.
      this.dispatch(pending, message);
    }
    if (this.log) this.log(hexDump(datagram), 2);
  }

  private dispatch(pending: Pending, message: Message): void {
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
        if (pending.isDump) this.armTimer(pending);
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
    return new NetlinkError({
      errno: decoded.errno,
      operation: messageTypeName(pending.type),
      description: pending.description,
      seq: pending.seq,
      extendedAck: decoded.extendedAck,
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

/** The async iterator behind `RtnlSession.dump`, with a queue between socket and consumer. */
class DumpIterator implements AsyncIterableIterator<Message> {
  private readonly queue: Message[] = [];
  private waiting: { resolve: (result: IteratorResult<Message>) => void; reject: (error: Error) => void } | null = null;
  private ended = false;
  private endError: Error | null = null;
  private pending: Pending | null = null;
  private requested = false;
  private withdraw: () => void = () => undefined;

  constructor(
    private readonly session: RtnlSession,
    private readonly type: number,
    private readonly body: Buffer,
    private readonly description: Description,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Message>> {
    if (!this.requested && !this.ended) {
      this.requested = true;
      this.withdraw = this.session.whenDumpSlotFree(() => this.begin());
    }

    const queued = this.queue.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.ended) return this.endError ? Promise.reject(this.takeError()) : Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  /** Called when the consumer breaks out: the rest of the dump is drained and dropped. */
  return(): Promise<IteratorResult<Message>> {
    this.queue.length = 0;
    this.withdraw();
    if (this.pending && !this.ended) this.session.abandon(this.pending);
    this.ended = true;
    this.endError = null;
    // A next() still waiting (possible with manual iteration) ends too.
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve({ value: undefined, done: true });
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  private begin(): void {
    try {
      this.pending = this.session.start(
        this.type,
        NLM_F_DUMP,
        this.body,
        this.description,
        true,
        (message) => this.push(message),
        (error) => this.end(error),
      );
    } catch (error) {
      this.end(error as Error);
    }
  }

  private push(message: Message): void {
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      waiting.resolve({ value: message, done: false });
    } else {
      this.queue.push(message);
    }
  }

  private end(error: Error | null): void {
    if (this.ended) return;
    this.ended = true;
    this.endError = error;
    if (this.waiting) {
      const waiting = this.waiting;
      this.waiting = null;
      if (error) waiting.reject(this.takeError());
      else waiting.resolve({ value: undefined, done: true });
    }
  }

  private takeError(): Error {
    const error = this.endError ?? new TransportError('dump ended');
    this.endError = null;
    return error;
  }
}
