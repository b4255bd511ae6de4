/**
 * The check that the property tests, the mutation test and scripts/fuzz.mjs run on every
 * hostile input: each decoder returns a bounded result made of views, or raises a DecodeError
 * whose offset lies inside the input.
 */
import { decodeAddress } from '../../../src/netlink/address.js';
import { NLMSG_ERROR } from '../../../src/netlink/constants.js';
import { DecodeError } from '../../../src/netlink/errors.js';
import { decodeChange } from '../../../src/netlink/events.js';
import { decodeLink } from '../../../src/netlink/link.js';
import { decodeError, splitDatagram, type Message } from '../../../src/netlink/message.js';
import { decodeRoute } from '../../../src/netlink/route.js';
import { decodeRule } from '../../../src/netlink/rule.js';
import { decodedSize } from './generate.js';

// A decoder may return at most this many units (see decodedSize) per input byte, plus a
// constant. An unknown 4-byte attribute becomes an object of three fields and a Buffer, and a
// 4-byte IPv4 address up to 15 characters of text.
export const UNITS_PER_BYTE = 8;
export const UNITS_CONSTANT = 64;

const DECODERS: [string, (message: Message) => unknown][] = [
  ['decodeLink', decodeLink],
  ['decodeAddress', decodeAddress],
  ['decodeRoute', decodeRoute],
  ['decodeRule', decodeRule],
  ['decodeError', decodeError],
  ['decodeChange', decodeChange],
];

/**
 * Splits and decodes `input` with every decoder, each message as if it were of the decoder's
 * type. Returns a problem in words, or null when each
 * decoder returned a bounded result made of views or raised a DecodeError inside the input.
 */
export function checkHostileInput(input: Buffer): string | null {
  let messages: Message[];
  try {
    messages = splitDatagram(input);
  } catch (error) {
    if (!(error instanceof DecodeError)) return `splitDatagram threw ${String(error)}`;
    return error.offset >= 0 && error.offset <= input.length ? null : `splitDatagram: offset ${error.offset} outside 0..${input.length}`;
  }

  for (const message of messages) {
    const start = message.payloadOffset - 16;
    const end = message.payloadOffset + message.payload.length;
    for (const [name, decode] of DECODERS) {
      let decoded: unknown;
      try {
        // Every field named: a spread would drop `payload`, a getter of splitDatagram's messages.
        const { flags, seq, pid, payload, payloadOffset, datagram, payloadEnd } = message;
        decoded = decode({ type: name === 'decodeError' ? NLMSG_ERROR : message.type, flags, seq, pid, payload, payloadOffset, datagram, payloadEnd });
      } catch (error) {
        if (!(error instanceof DecodeError)) return `${name} threw ${String(error)}`;
        if (!Number.isInteger(error.offset) || error.offset < start || error.offset > end) {
          return `${name}: DecodeError offset ${error.offset} outside its message at ${start}..${end}`;
        }
        continue;
      }
      const size = decodedSize(decoded, input);
      if (size.copiedBytes > 0) return `${name} copied ${size.copiedBytes} bytes instead of returning views`;
      if (size.units > UNITS_PER_BYTE * (end - start) + UNITS_CONSTANT) return `${name} returned ${size.units} units for ${end - start} bytes`;
    }
  }
  return null;
}

