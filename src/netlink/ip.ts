/**
 * IPv4 and IPv6 addresses as text and bytes, formatted the way inet_ntop() and so
 * iproute2 print them.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Raised for text that is not an IPv4 or IPv6 address. */
export class AddressSyntaxError extends Error {
  override name = 'AddressSyntaxError';
  readonly value: string;

  constructor(value: string, expected: string) {
    super(`invalid address "${value}": expected ${expected}`);
    this.value = value;
  }
}

/** Returns 4 for IPv4 text, 6 for IPv6 text, 0 for anything else. */
export function addressFamilyOf(text: string): 0 | 4 | 6 {
  if (isIPv4(text)) return 4;
  if (isIPv6(text)) return 6;
  return 0;
}

/** Parses IPv4 or IPv6 text (no prefix length, no zone) into 4 or 16 bytes. */
export function parseAddress(text: string): Buffer {
  if (isIPv4(text)) return parseIPv4(text);
  if (isIPv6(text) && !text.includes('%')) return parseIPv6(text);
  throw new AddressSyntaxError(text, 'an IPv4 or IPv6 address such as 10.49.0.1 or fd00::1');
}

function parseIPv4(text: string): Buffer {
  return Buffer.from(text.split('.').map((part) => Number(part)));
}

function parseIPv6(text: string): Buffer {
  const bytes = Buffer.alloc(16);
  let head = text;
  let tailIPv4: Buffer | null = null;

  // An embedded IPv4 tail ("::ffff:1.2.3.4") stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailIPv4 = parseIPv4(text.slice(lastColon + 1));
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }

  const [left = '', right] = head.split('::');
  const leftGroups = left === '' ? [] : left.split(':');
  const rightGroups = right === undefined || right === '' ? [] : right.split(':');
  const groups =
    right === undefined
      ? leftGroups
      : [...leftGroups, ...new Array<string>(8 - leftGroups.length - rightGroups.length).fill('0'), ...rightGroups];

  groups.forEach((group, index) => bytes.writeUInt16BE(parseInt(group, 16), index * 2));
  if (tailIPv4) tailIPv4.copy(bytes, 12);
  return bytes;
}

// Decimal text of every byte value, with and without the dot that follows it. Joining four of
// these took about half the time of a template literal of four numbers (Node 20, measured).
const OCTETS = Array.from({ length: 256 }, (_, value) => String(value));
const OCTETS_DOT = OCTETS.map((text) => `${text}.`);

/** Formats the 4 bytes at `buffer[offset]` as dotted IPv4 text, without making a view of them. */
export function formatIPv4At(buffer: Uint8Array, offset: number): string {
  // A byte indexes a 256-entry table, so none of these reads is undefined for a valid offset.
  return OCTETS_DOT[buffer[offset]!]! + OCTETS_DOT[buffer[offset + 1]!]! + OCTETS_DOT[buffer[offset + 2]!]! + OCTETS[buffer[offset + 3]!]!;
}

/** Formats 4 or 16 bytes as address text; any other length is returned as colon-separated hex. */
export function formatAddress(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIPv4At(bytes, 0);
  if (bytes.length === 16) return formatIPv6(bytes);
  return formatHardwareAddress(bytes);
}

// The zero-run and embedded-IPv4 rules follow glibc's inet_ntop(), which iproute2 prints with.
function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));

  let bestBase = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && words[end] === 0) end++;
    if (end - i > bestLength) {
      bestBase = i;
      bestLength = end - i;
    }
    i = end;
  }
  if (bestLength < 2) bestBase = -1;

  const embedsIPv4 =
    bestBase === 0 && (bestLength === 6 || (bestLength === 7 && words[7] !== 1) || (bestLength === 5 && words[5] === 0xffff));

  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestBase) {
      text += i === 0 ? '::' : ':';
      i += bestLength - 1;
      continue;
    }
    if (i === 6 && embedsIPv4) {
      text += `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
      break;
    }
    text += (words[i] ?? 0).toString(16);
    if (i < 7) text += ':';
  }
  return text;
}

/** Formats a hardware address as lower-case colon-separated hex ("02:00:00:00:00:01"). */
export function formatHardwareAddress(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(':');
}

/** Parses colon-separated hex ("02:00:00:00:00:01") of any length. */
export function parseHardwareAddress(text: string): Buffer {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})*$/.test(text)) {
    throw new AddressSyntaxError(text, 'a hardware address such as 02:00:5e:10:00:01');
  }
  return Buffer.from(text.split(':').map((part) => parseInt(part, 16)));
}

/** An address with a prefix length, as `ip` writes it: "10.49.0.1/16". */
export interface AddressWithPrefix {
  family: 4 | 6;
  /** Canonical address text. */
  address: string;
  prefixLength: number;
}

/** Parses "ADDRESS/LENGTH"; the length is required and must fit the family. */
export function parseAddressWithPrefix(text: string): AddressWithPrefix {
  const slash = text.indexOf('/');
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const lengthText = slash === -1 ? '' : text.slice(slash + 1);
  const family = addressFamilyOf(addressText);
  const prefixLength = /^[0-9]{1,3}$/.test(lengthText) ? Number(lengthText) : NaN;
  const maxLength = family === 4 ? 32 : 128;
  if (family === 0 || !(prefixLength <= maxLength)) {
    throw new AddressSyntaxError(text, 'an address with a prefix length such as 10.49.0.1/16 or fd00::1/128');
  }
  return { family, address: formatAddress(parseAddress(addressText)), prefixLength };
}
