/**
 * IPv4 and IPv6 addresses and prefixes: parsing, canonical text and prefix arithmetic.
 *
 * Parsing is written here, and strict on purpose: configuration values are read by
 * people, so forms that inet_aton(3) tolerates (octal `010`, short `1.2.3`, surrounding spaces)
 * are rejected instead of being read as an address the operator did not mean.
 */

import { formatAddress as formatIpText } from '../netlink/ip.js';

export type AddressFamily = 4 | 6;

/** Bytes per address of each family. */
const ADDRESS_BYTES = { 4: 4, 6: 16 } as const;

/** Bits per address of each family, the maximum prefix length. */
const ADDRESS_BITS = { 4: 32, 6: 128 } as const;

/** Number of 16-bit groups in an IPv6 address. */
const IPV6_GROUPS = 8;

/** One IP address without a prefix length. */
export interface IpAddress {
  family: AddressFamily;
  /** Network byte order: 4 bytes for IPv4, 16 for IPv6. */
  address: Buffer;
}

/**
 * An address with a prefix length. For a network (`parsePrefix`) the host bits are zero. For an
 * interface address (`parseInterfaceAddress`, `hostInPrefix`) they name the host.
 */
export interface IpPrefix extends IpAddress {
  prefixLength: number;
  /** Canonical text, as `formatAddress` prints the address, then `/` and the length. */
  text: string;
}

/** Invalid address or prefix text, or arithmetic that leaves a prefix. */
export class PrefixError extends Error {
  /** The text that was rejected. */
  readonly text: string;
  /** Description of the fault without the text itself, such as "prefix length 33 is greater than 32". */
  readonly reason: string;

  /** `message` replaces the default "invalid IP address or prefix" wording where the text is valid. */
  constructor(text: string, reason: string, message = `invalid IP address or prefix ${JSON.stringify(text)}: ${reason}`) {
    super(message);
    this.name = 'PrefixError';
    this.text = text;
    this.reason = reason;
  }
}

/** Parses a bare IPv4 or IPv6 address such as `10.49.0.1` or `fd00::1`. */
export function parseAddress(text: string): IpAddress {
  if (text.includes('/')) {
    throw new PrefixError(text, 'expected an address without a prefix length');
  }

  return parseAddressPart(text, text);
}

/**
 * Parses a network such as `10.47.255.0/30` or `2001:db8:a160::/48`. The prefix length is
 * required for both families, and host bits must be zero, as `ip route` requires.
 */
export function parsePrefix(text: string): IpPrefix {
  const prefix = parseWithLength(text);
  const network = networkOf(prefix);

  if (!network.address.equals(prefix.address)) {
    throw new PrefixError(text, `host bits are set; the network is ${network.text}`);
  }

  return prefix;
}

/**
 * Parses an interface address such as `10.49.0.1/16`: a host address and the prefix length of
 * its network, as `ip addr add` takes it. Host bits may be set, and the length is required.
 */
export function parseInterfaceAddress(text: string): IpPrefix {
  return parseWithLength(text);
}

/**
 * Formats an address the way iproute2 prints it, which is glibc's inet_ntop. IPv4 is dotted
 * decimal. IPv6 follows RFC 5952: lower case, with the first longest run of two or more zero
 * groups shortened to `::`. The last 32 bits of `::ffff:1.2.3.4` and `::1.2.3.4` stay dotted.
 */
export function formatAddress(address: Buffer): string {
  // The codec's formatter also prints other lengths as hex; an IP address is only 4 or 16 bytes.
  if (address.length === ADDRESS_BYTES[4] || address.length === ADDRESS_BYTES[6]) {
    return formatIpText(address);
  }

  throw new RangeError(`an IP address is 4 or 16 bytes long, got ${address.length}`);
}

/** Returns the prefix with its host bits cleared. */
export function networkOf(prefix: IpPrefix): IpPrefix {
  const address = Buffer.from(prefix.address);

  for (let bit = prefix.prefixLength; bit < address.length * 8; bit++) {
    const index = bit >> 3;
    address[index] = (address[index] ?? 0) & ~(0x80 >> (bit & 7));
  }

  return makePrefix(prefix.family, address, prefix.prefixLength);
}

/**
 * Returns the interface address `network + n` with the prefix's length (`hostInPrefix(
 * 10.47.255.0/30, 1)` is 10.47.255.1/30). Throws a `PrefixError` when `n` lies outside the prefix.
 */
export function hostInPrefix(prefix: IpPrefix, n: number | bigint): IpPrefix {
  const offset = BigInt(n);
  const hostBits = ADDRESS_BITS[prefix.family] - prefix.prefixLength;
  const size = 1n << BigInt(hostBits);

  if (offset < 0n || offset >= size) {
    const reason = `host ${offset} is outside the prefix, which contains ${size} addresses`;
    throw new PrefixError(prefix.text, reason, `host ${offset} is outside ${prefix.text}, which contains ${size} addresses`);
  }

  const network = toBigInt(networkOf(prefix).address);
  const address = fromBigInt(network + offset, ADDRESS_BYTES[prefix.family]);
  return makePrefix(prefix.family, address, prefix.prefixLength);
}

/** Reports whether two prefixes share any address. Prefixes of different families never do. */
export function prefixesOverlap(a: IpPrefix, b: IpPrefix): boolean {
  if (a.family !== b.family) {
    return false;
  }

  const shorter = Math.min(a.prefixLength, b.prefixLength);
  return samePrefixBits(a.address, b.address, shorter);
}

/** Reports whether `address` (a bare address or the address part of a prefix) lies inside `prefix`. */
export function containsAddress(prefix: IpPrefix, address: IpAddress | Buffer): boolean {
  const bytes = Buffer.isBuffer(address) ? address : address.address;

  if (bytes.length !== prefix.address.length) {
    return false;
  }

  return samePrefixBits(prefix.address, bytes, prefix.prefixLength);
}

function samePrefixBits(a: Buffer, b: Buffer, bits: number): boolean {
  for (let bit = 0; bit < bits; bit++) {
    const index = bit >> 3;
    const mask = 0x80 >> (bit & 7);

    if (((a[index] ?? 0) & mask) !== ((b[index] ?? 0) & mask)) {
      return false;
    }
  }

  return true;
}

function parseWithLength(text: string): IpPrefix {
  const slash = text.indexOf('/');

  if (slash === -1) {
    throw new PrefixError(text, 'the prefix length is missing; write it after a slash, as in 10.0.0.0/8 or fd00::/64');
  }

  const { family, address } = parseAddressPart(text.slice(0, slash), text);
  const prefixLength = parsePrefixLength(text.slice(slash + 1), family, text);
  return makePrefix(family, address, prefixLength);
}

function parsePrefixLength(lengthText: string, family: AddressFamily, text: string): number {
  // Decimal digits only: iproute2 reads the length with strtoul(base 0), so `010` would be octal there.
  if (!/^(0|[1-9][0-9]*)$/.test(lengthText)) {
    throw new PrefixError(text, `prefix length ${JSON.stringify(lengthText)} is not a decimal number without leading zeros`);
  }

  const prefixLength = Number(lengthText);
  const maxLength = ADDRESS_BITS[family];

  if (prefixLength > maxLength) {
    throw new PrefixError(text, `prefix length ${prefixLength} is greater than ${maxLength}, the maximum for IPv${family}`);
  }

  return prefixLength;
}

function parseAddressPart(part: string, text: string): IpAddress {
  if (part.length === 0) {
    throw new PrefixError(text, 'the address is empty');
  }

  if (/\s/.test(part)) {
    throw new PrefixError(text, 'the address contains whitespace');
  }

  if (part.includes(':')) {
    return { family: 6, address: parseIPv6(part, text) };
  }

  return { family: 4, address: parseIPv4(part, text) };
}

function parseIPv4(part: string, text: string): Buffer {
  const octets = part.split('.');

  if (octets.length !== 4) {
    throw new PrefixError(text, `an IPv4 address has 4 decimal parts separated by dots, got ${octets.length}`);
  }

  return Buffer.from(octets.map((octet) => parseOctet(octet, text)));
}

function parseOctet(octet: string, text: string): number {
  // inet_aton(3) reads `010` as octal 8, so leading zeros are rejected to avoid that ambiguity.
  if (!/^(0|[1-9][0-9]{0,2})$/.test(octet)) {
    throw new PrefixError(text, `IPv4 part ${JSON.stringify(octet)} is not a decimal number from 0 to 255 without leading zeros`);
  }

  const value = Number(octet);

  if (value > 255) {
    throw new PrefixError(text, `IPv4 part ${value} is greater than 255`);
  }

  return value;
}

function parseIPv6(part: string, text: string): Buffer {
  if (part.includes('%')) {
    throw new PrefixError(text, 'zone indexes such as %eth0 are not accepted');
  }

  const halves = part.split('::');

  if (halves.length > 2) {
    throw new PrefixError(text, '"::" may appear only once in an IPv6 address');
  }

  const compressed = halves.length === 2;
  const head = parseGroups(halves[0] ?? '', !compressed, text);
  const tail = compressed ? parseGroups(halves[1] ?? '', true, text) : [];
  const written = head.length + tail.length;

  if (!compressed && written !== IPV6_GROUPS) {
    throw new PrefixError(text, `an IPv6 address without "::" has 8 groups, got ${written}`);
  }

  // "::" stands for at least one zero group (RFC 4291 section 2.2), so 8 written groups leave none for it.
  if (compressed && written >= IPV6_GROUPS) {
    throw new PrefixError(text, `"::" must stand for at least one zero group, but ${written} groups are written`);
  }

  const groups = [...head, ...new Array<number>(IPV6_GROUPS - written).fill(0), ...tail];
  const address = Buffer.alloc(ADDRESS_BYTES[6]);
  groups.forEach((group, index) => address.writeUInt16BE(group, index * 2));
  return address;
}

/** Parses colon-separated groups. The last one may be a dotted IPv4 address, which counts as two groups. */
function parseGroups(section: string, mayEndInIPv4: boolean, text: string): number[] {
  if (section.length === 0) {
    return [];
  }

  const pieces = section.split(':');
  const groups: number[] = [];

  pieces.forEach((piece, index) => {
    const isLast = index === pieces.length - 1;

    if (piece.includes('.')) {
      if (!isLast || !mayEndInIPv4) {
        throw new PrefixError(text, 'an embedded IPv4 address may only form the last 32 bits of an IPv6 address');
      }

      const embedded = parseIPv4(piece, text);
      groups.push(embedded.readUInt16BE(0), embedded.readUInt16BE(2));
      return;
    }

    if (!/^[0-9A-Fa-f]{1,4}$/.test(piece)) {
      throw new PrefixError(text, `IPv6 group ${JSON.stringify(piece)} is not 1 to 4 hexadecimal digits`);
    }

    groups.push(parseInt(piece, 16));
  });

  return groups;
}

function makePrefix(family: AddressFamily, address: Buffer, prefixLength: number): IpPrefix {
  return { family, address, prefixLength, text: `${formatAddress(address)}/${prefixLength}` };
}

function toBigInt(bytes: Buffer): bigint {
  return bytes.reduce((value, byte) => (value << 8n) | BigInt(byte), 0n);
}

function fromBigInt(value: bigint, length: number): Buffer {
  const bytes = Buffer.alloc(length);
  let rest = value;

  for (let index = length - 1; index >= 0; index--) {
    bytes[index] = Number(rest & 0xffn);
    rest >>= 8n;
  }

  return bytes;
}
