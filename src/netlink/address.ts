/**
 * Address messages: RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR. The body is an ifaddrmsg
 * followed by IFA_* attributes.
 */
import { type RawAttribute } from './attributes.js';
import { addressTable } from './address-table.js';
import { encodeBody, structMessageDecoder } from './fixed.js';
import type { Message } from './message.js';
import { ifaCacheinfo, ifaddrmsg, type IfaCacheInfo } from './structs.js';

/** IFA_* attributes by key. */
export interface AddressAttributes {
  /** The peer address on point-to-point links, else the same as `local`. */
  address?: string;
  local?: string;
  label?: string;
  broadcast?: string;
  anycast?: string;
  /** Lifetimes in seconds (0xffffffff is forever) and timestamps in hundredths of a second. */
  cacheinfo?: IfaCacheInfo;
  multicast?: string;
  /** IFA_F_* flags, all 32 bits (ifaddrmsg holds only the low 8). */
  flags?: number;
  rtPriority?: number;
  targetNetnsid?: number;
  proto?: number;
  unknown?: RawAttribute[];
  [key: string]: unknown;
}

/** An address message: ifaddrmsg fields and attributes. */
export interface AddressMessage {
  family: number;
  prefixLength: number;
  /** The low 8 bits of IFA_F_*; the `flags` attribute has all of them. */
  flags: number;
  scope: number;
  /** Index of the interface the address is on. */
  index: number;
  attributes: AddressAttributes;
}

/** Encodes the body of an address message. */
export function encodeAddress(message: AddressMessage): Buffer {
  const { cacheinfo, ...rest } = message.attributes;
  const values: Record<string, unknown> = { ...rest };
  if (cacheinfo) {
    const bytes = Buffer.alloc(ifaCacheinfo.span);
    ifaCacheinfo.encode(cacheinfo, bytes, 0);
    values.cacheinfo = bytes;
  }
  const { attributes: _attributes, ...fixed } = message;
  return encodeBody(ifaddrmsg, fixed, addressTable, values);
}

const decodeFields = structMessageDecoder(ifaddrmsg, 'ifaddrmsg', addressTable);

/** Decodes an address message. */
export function decodeAddress(message: Message): AddressMessage {
  // ifaddrmsg's fields are the message's own, so the decoded struct is the message object.
  const decoded = decodeFields(message) as AddressMessage;
  const attributes = decoded.attributes;
  const cacheinfo = attributes.cacheinfo as unknown as Buffer | undefined;
  if (cacheinfo !== undefined) {
    if (cacheinfo.length >= ifaCacheinfo.span) attributes.cacheinfo = ifaCacheinfo.decode(cacheinfo, 0);
    else delete attributes.cacheinfo;
  }
  return decoded;
}
