/**
 * A fake kernel endpoint for session tests: it records every datagram the session sends and
 * lets the test deliver replies, in any order and split as it likes. Replies are built with
 * the byte builder, not with the code under test.
 */
import type { NetlinkTransport } from '../../../src/netlink/transport.js';
import { attr, bytes, cstring, message, pad, s32, u32, type Part } from './bytes.js';

// Numbers from include/uapi/linux/netlink.h, written out so that a wrong constant in src shows.
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_MULTI = 0x02;
const NLM_F_CAPPED = 0x100;
const NLM_F_ACK_TLVS = 0x200;
const NLMSGERR_ATTR_MSG = 1;
const NLMSGERR_ATTR_OFFS = 2;

/** A request as the fake kernel received it: the header fields, the body and the whole datagram. */
export interface SentRequest {
  length: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
  body: Buffer;
  datagram: Buffer;
}

export class FakeTransport implements NetlinkTransport {
  readonly where = 'test-ns';
  /** Every datagram sent, in order. */
  readonly sent: SentRequest[] = [];
  readonly groups: number[] = [];
  closed = false;
  /** When set, `send` throws it, as a socket that failed synchronously would. */
  sendError: Error | null = null;

  private datagramListener: ((datagram: Buffer) => void) | null = null;
  private readonly failureListeners: ((error: Error) => void)[] = [];
  private requestsTaken = 0;
  private readonly waiters: ((request: SentRequest) => void)[] = [];

  send(datagram: Buffer): void {
    if (this.sendError) throw this.sendError;
    const copy = Buffer.from(datagram);
    const request: SentRequest = {
      length: copy.readUInt32LE(0),
      type: copy.readUInt16LE(4),
      flags: copy.readUInt16LE(6),
      seq: copy.readUInt32LE(8),
      pid: copy.readUInt32LE(12),
      body: copy.subarray(16, copy.readUInt32LE(0)),
      datagram: copy,
    };
    this.sent.push(request);
    this.waiters.shift()?.(request);
  }

  onDatagram(listener: (datagram: Buffer) => void): void {
    this.datagramListener = listener;
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  async addMembership(group: number): Promise<void> {
    this.groups.push(group);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /**
   * Returns the next request not yet taken, waiting for it if the session has not sent it.
   * Requests are taken in the order they were sent.
   */
  nextRequest(): Promise<SentRequest> {
    const index = this.requestsTaken++;
    const ready = this.sent[index];
    if (ready) return Promise.resolve(ready);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Delivers datagrams to the session, each as one read from the socket. */
  deliver(...datagrams: Buffer[]): void {
    if (!this.datagramListener) throw new Error('the session has not registered a datagram listener');
    for (const datagram of datagrams) this.datagramListener(datagram);
  }

  /** Reports a fatal transport failure, as a socket error or a relay exit would. */
  fail(error: Error): void {
    for (const listener of this.failureListeners) listener(error);
  }
}

/** Returns an NLMSG_ERROR that acknowledges `request` (errno 0), capped as the kernel sends a success. */
export function ackFor(request: SentRequest): Buffer {
  return message({ type: NLMSG_ERROR, flags: NLM_F_CAPPED, seq: request.seq, pid: 0 }, s32(0), request.datagram.subarray(0, 16));
}

/**
 * Returns an NLMSG_ERROR that rejects `request` with `errno`. Without options the whole request
 * is echoed after the code and no extended-ack attributes follow, as the kernel replies on a
 * socket without NETLINK_EXT_ACK and NETLINK_CAP_ACK.
 */
export function errorFor(
  request: SentRequest,
  errno: number,
  options: { capped?: boolean; message?: string; offset?: number } = {},
): Buffer {
  const echoed = options.capped ? request.datagram.subarray(0, 16) : request.datagram.subarray(0, request.length);
  const tlvs: Buffer[] = [];
  if (options.message !== undefined) tlvs.push(attr(NLMSGERR_ATTR_MSG, cstring(options.message)));
  if (options.offset !== undefined) tlvs.push(attr(NLMSGERR_ATTR_OFFS, u32(options.offset)));

  let flags = options.capped ? NLM_F_CAPPED : 0;
  if (tlvs.length > 0) flags |= NLM_F_ACK_TLVS;
  // The kernel pads the echoed request to 4 bytes before the attributes.
  const echoPadding = tlvs.length > 0 ? pad((4 - (echoed.length % 4)) % 4) : pad(0);
  return message({ type: NLMSG_ERROR, flags, seq: request.seq }, s32(-errno), echoed, echoPadding, ...tlvs);
}

/** Returns an NLMSG_DONE that ends the dump of sequence `seq`, with the dump's result code. */
export function doneFor(seq: number, code = 0, flags = NLM_F_MULTI): Buffer {
  return message({ type: NLMSG_DONE, flags, seq }, s32(code));
}

/** Returns one part of a dump reply: a message of `type` with NLM_F_MULTI and `extraFlags`. */
export function dumpPart(type: number, seq: number, payload: Part, extraFlags = 0): Buffer {
  return message({ type, flags: NLM_F_MULTI | extraFlags, seq }, payload);
}

/** Concatenates messages into one datagram. */
export function datagram(...messages: Buffer[]): Buffer {
  return bytes(...messages);
}
