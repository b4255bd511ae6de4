/**
 * Errors of the netlink layer. A failure the kernel reports is a NetlinkError, and bytes that
 * cannot be decoded are a DecodeError. The other errors name the request they belong to.
 */
import { errnoName, errnoMessage } from './errno.js';

/** Details the kernel adds to an error when extended acknowledgements are on. */
export interface ExtendedAck {
  message?: string;
  /** Byte offset of the offending attribute within the request. */
  offset?: number;
}

/** A request the kernel rejected with NLMSG_ERROR. */
export class NetlinkError extends Error {
  override name = 'NetlinkError';
  /** Positive errno, such as 17 for EEXIST. */
  readonly errno: number;
  /** Symbolic errno name, such as "EEXIST". */
  readonly code: string;
  /** Short name of the operation, such as "RTM_NEWADDR". */
  readonly operation: string;
  /** The failed action in words: "add address 10.49.0.1/16 to wg0 in wireguard-ns". */
  readonly description: string;
  readonly seq: number;
  readonly extendedAck: ExtendedAck;

  constructor(options: {
    errno: number;
    operation: string;
    description: string;
    seq: number;
    extendedAck?: ExtendedAck;
  }) {
    const extended = options.extendedAck?.message ? ` (kernel: ${options.extendedAck.message})` : '';
    super(`${options.description}: ${errnoMessage(options.errno)}${extended}`);
    this.errno = options.errno;
    this.code = errnoName(options.errno);
    this.operation = options.operation;
    this.description = options.description;
    this.seq = options.seq;
    this.extendedAck = options.extendedAck ?? {};
  }
}

/** Bytes that do not form a valid message. `offset` counts from the start of the datagram or buffer given. */
export class DecodeError extends Error {
  override name = 'DecodeError';
  /** The problem, without the offset. */
  readonly reason: string;
  readonly offset: number;

  constructor(reason: string, offset: number) {
    super(`${reason} at byte offset ${offset}`);
    this.reason = reason;
    this.offset = offset;
  }

  /** Returns the same error with its offset counted from `base` bytes earlier. */
  shifted(base: number): DecodeError {
    return new DecodeError(this.reason, this.offset + base);
  }
}

/**
 * A dump the kernel marked with NLM_F_DUMP_INTR: the table changed while it was read, so
 * the results may miss or repeat entries. The messages received are kept in `partial`.
 */
export class DumpInterruptedError<T = unknown> extends Error {
  override name = 'DumpInterruptedError';
  readonly description: string;
  readonly partial: T[];

  constructor(description: string, partial: T[]) {
    super(`${description}: the kernel interrupted the dump because the table changed while it was read; retry the dump`);
    this.description = description;
    this.partial = partial;
  }
}

/** A request that got no complete reply within its time limit. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
  readonly description: string;
  readonly timeoutMs: number;

  constructor(description: string, timeoutMs: number, where: string) {
    super(`${description}: no answer from the kernel in ${where} after ${timeoutMs} ms`);
    this.description = description;
    this.timeoutMs = timeoutMs;
  }
}

/** The socket or relay under a session failed or was closed while requests were pending. */
export class TransportError extends Error {
  override name = 'TransportError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
