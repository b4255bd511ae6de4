/**
 * Netlink message framing: the header, splitting a datagram into messages, and the
 * NLMSG_ERROR payload.
 */
import { NLMSG_HDRLEN, nlmsgAlign } from './align.js';
import { decodeAttributes, defineTable } from './attributes.js';
import { NLMSG_ERROR, NLM_F_ACK_TLVS, NLM_F_CAPPED, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS } from './constants.js';
import { DecodeError, type ExtendedAck } from './errors.js';
import { shiftDecodeErrors } from './fixed.js';
import { nlmsgerr, nlmsghdr } from './structs.js';

/**
 * One netlink message: the header fields and a view of its payload. In the messages that
 * splitDatagram returns, `payload` is a getter: copy one field by field, not with a spread.
 */
export interface Message {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The payload after the header (a view into the datagram, not a copy). */
  readonly payload: Buffer;
  /** Offset of the payload within the datagram, for error offsets. */
  payloadOffset: number;
  /** The datagram that contains the message: the payload is `datagram[payloadOffset, payloadEnd)`. */
  readonly datagram: Buffer;
  payloadEnd: number;
}

// The payload view is made on first use. Decoders of the hot message types read the datagram
// at absolute offsets instead, and a subarray per message was a measurable share of a dump.
class DatagramMessage implements Message {
  private view: Buffer | null = null;

  constructor(
    readonly type: number,
    readonly flags: number,
    readonly seq: number,
    readonly pid: number,
    readonly datagram: Buffer,
    readonly payloadOffset: number,
    readonly payloadEnd: number,
  ) {}

  get payload(): Buffer {
    this.view ??= this.datagram.subarray(this.payloadOffset, this.payloadEnd);
    return this.view;
  }
}

/** Encodes a header around `payload`. */
export function encodeMessage(type: number, flags: number, seq: number, payload: Buffer, pid = 0): Buffer {
  const length = NLMSG_HDRLEN + payload.length;
  const message = Buffer.alloc(nlmsgAlign(length));
  nlmsghdr.encode({ length, type, flags, seq, pid }, message, 0);
  payload.copy(message, NLMSG_HDRLEN);
  return message;
}

/** Splits one datagram into its messages, checking every length against the bytes present. */
export function splitDatagram(datagram: Buffer): Message[] {
  const messages: Message[] = [];
  let offset = 0;
  while (offset < datagram.length) {
    if (datagram.length - offset < NLMSG_HDRLEN) {
      throw new DecodeError(`truncated message header: ${datagram.length - offset} bytes, expected ${NLMSG_HDRLEN}`, offset);
    }
    const length = datagram.readUInt32LE(offset);
    if (length < NLMSG_HDRLEN || length > datagram.length - offset) {
      throw new DecodeError(`message claims ${length} bytes but ${datagram.length - offset} remain`, offset);
    }
    messages.push(
      new DatagramMessage(
        datagram.readUInt16LE(offset + 4),
        datagram.readUInt16LE(offset + 6),
        datagram.readUInt32LE(offset + 8),
        datagram.readUInt32LE(offset + 12),
        datagram,
        offset + NLMSG_HDRLEN,
        offset + length,
      ),
    );
    offset += nlmsgAlign(length);
  }
  return messages;
}

/** The payload of an NLMSG_ERROR: errno 0 is an acknowledgement. */
export interface ErrorPayload {
  /** Positive errno, or 0 for success. */
  errno: number;
  /** Header fields of the request this message acknowledges or rejects. */
  requestType: number;
  requestSeq: number;
  extendedAck: ExtendedAck;
}

const extendedAckTable = defineTable('nlmsgerr-attrs', [
  { type: NLMSGERR_ATTR_MSG, name: 'msg', kind: 'string' },
  { type: NLMSGERR_ATTR_OFFS, name: 'offs', kind: 'u32' },
]);

/** Decodes the payload of an NLMSG_ERROR message, with extended-ack attributes when present. */
export function decodeError(message: Message): ErrorPayload {
  if (message.type !== NLMSG_ERROR) throw new DecodeError(`expected NLMSG_ERROR, got type ${message.type}`, message.payloadOffset);
  if (message.payload.length < nlmsgerr.span) {
    throw new DecodeError(`NLMSG_ERROR payload has ${message.payload.length} bytes, expected at least ${nlmsgerr.span}`, message.payloadOffset);
  }

  const fixed = nlmsgerr.decode(message.payload, 0);
  const result: ErrorPayload = {
    errno: fixed.error === 0 ? 0 : -fixed.error,
    requestType: fixed.request.type,
    requestSeq: fixed.request.seq,
    extendedAck: {},
  };

  if (message.flags & NLM_F_ACK_TLVS) {
    // Without NLM_F_CAPPED the whole request is echoed before the attributes.
    const echoed = message.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : fixed.request.length;
    const start = 4 + nlmsgAlign(Math.min(echoed, message.payload.length - 4));
    if (start < message.payload.length) {
      const attributes = shiftDecodeErrors(message.payloadOffset, () =>
        decodeAttributes(message.payload, start, message.payload.length, extendedAckTable),
      );
      if (typeof attributes.msg === 'string') result.extendedAck.message = attributes.msg;
      if (typeof attributes.offs === 'number') result.extendedAck.offset = attributes.offs;
    }
  }
  return result;
}
