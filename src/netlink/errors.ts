/**
 * Errors of the netlink layer. A failure the kernel reports is a NetlinkError, and bytes that
 * cannot be decoded are a DecodeError. The other errors name the request they belong to.
 */
import { errnoName, errnoMessage } from './errno.js';

/** Details the kernel adds to an error when extended acknowledgements are on. */
export interface ExtendedAck {
  message?: string;
  /** Byte offset of the offending attribute within the request, counted from its nlmsghdr. */
  offset?: number;
  /** The part of the request at `offset`, such as "link-attrs: linkinfo (18) > kind (1)" or "ifaddrmsg". */
  location?: string;
}

/** Formats the kernel's part of an error message: " (kernel: TEXT, at byte N: LOCATION)", or "". */
function describeExtendedAck(ack: ExtendedAck | undefined): string {
  if (!ack || (ack.message === undefined && ack.offset === undefined)) return '';
  const text = ack.message ?? 'rejected the request';
  if (ack.offset === undefined) return ` (kernel: ${text})`;
  const location = ack.location ? `: ${ack.location}` : '';
  return ` (kernel: ${text}, at byte ${ack.offset} of the request${location})`;
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
    super(`${options.description}: ${errnoMessage(options.errno)}${describeExtendedAck(options.extendedAck)}`);
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
  /** The results of the last attempt, as far as they came. */
  readonly partial: T[];
  /** Number of times the dump ran, each time interrupted. */
  readonly attempts: number;

  constructor(description: string, partial: T[], attempts = 1) {
    const tries = attempts > 1 ? ` on each of ${attempts} attempts` : '';
    super(`${description}: the kernel interrupted the dump${tries} because the table changed while it was read; retry the dump`);
    this.description = description;
    this.partial = partial;
    this.attempts = attempts;
  }
}

/** A request that got no complete reply within its time limit. */
export class RequestTimeoutError extends Error {
  override name = 'RequestTimeoutError';
  readonly description: string;
  readonly timeoutMs: number;
  /** Short name of the request's message type, such as "RTM_NEWADDR". */
  readonly operation: string;
  readonly seq: number;

  constructor(options: { description: string; timeoutMs: number; where: string; operation: string; seq: number }) {
    super(`${options.description}: no answer from the kernel in ${options.where} after ${options.timeoutMs} ms (${options.operation}, seq ${options.seq})`);
    this.description = options.description;
    this.timeoutMs = options.timeoutMs;
    this.operation = options.operation;
    this.seq = options.seq;
  }
}

/** The socket or relay under a session failed or was closed while requests were pending. */
export class TransportError extends Error {
  override name = 'TransportError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
