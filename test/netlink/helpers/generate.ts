/**
 * Seeded generators for property tests and the fuzzer: random but valid messages built from
 * the attribute tables, byte-level mutations of any input, and a measure of how much a
 * decoder returned for the bytes it was given.
 */
import type { AddressMessage } from '../../../src/netlink/address.js';
import { addressTable } from '../../../src/netlink/address-table.js';
import { NLMSG_HDRLEN } from '../../../src/netlink/align.js';
import type { AttributeSpec, AttributeTable, RawAttribute } from '../../../src/netlink/attributes.js';
import { bridgeInfoTable, linkTable } from '../../../src/netlink/link-table.js';
import type { LinkInfo, LinkMessage } from '../../../src/netlink/link.js';
import { formatAddress, formatHardwareAddress } from '../../../src/netlink/ip.js';
import { splitDatagram } from '../../../src/netlink/message.js';
import { routeTable } from '../../../src/netlink/route-table.js';
import type { RouteMessage } from '../../../src/netlink/route.js';
import { ruleTable } from '../../../src/netlink/rule-table.js';
import type { RuleMessage } from '../../../src/netlink/rule.js';
import { randomInteger } from './random.js';

export type Random = () => number;

function bytesOf(random: Random, length: number): Buffer {
  return Buffer.from(Array.from({ length }, () => randomInteger(random, 256)));
}

function u32(random: Random): number {
  return randomInteger(random, 0x1_0000_0000);
}

function bigU64(random: Random): bigint {
  return (BigInt(u32(random)) << 32n) | BigInt(u32(random));
}

// Printable ASCII without NUL, so that a decoded string equals the encoded one.
function text(random: Random, maxLength: number): string {
  return String.fromCharCode(...Array.from({ length: randomInteger(random, maxLength + 1) }, () => 0x20 + randomInteger(random, 0x5f)));
}

/** Returns a random value of the spec's kind, as the decoder returns it. */
function randomValue(spec: AttributeSpec, random: Random, depth: number): unknown {
  switch (spec.kind) {
    case 'u8':
      return randomInteger(random, 0x100);
    case 'u16':
    case 'u16be':
      return randomInteger(random, 0x10000);
    case 'u32':
    case 'u32be':
      return u32(random);
    case 's32':
      return u32(random) | 0;
    case 'u64':
    case 'u64be':
      return bigU64(random);
    case 'string':
      return text(random, 24);
    case 'binary':
      return bytesOf(random, randomInteger(random, 24));
    case 'address':
      return formatAddress(bytesOf(random, random() < 0.5 ? 4 : 16));
    case 'hwaddr':
      return formatHardwareAddress(bytesOf(random, 1 + randomInteger(random, 20)));
    case 'flag':
      return true;
    case 'nested':
      if (spec.nested && depth < 3) return randomAttributes(spec.nested, random, depth + 1);
      return Buffer.alloc(0);
  }
}

/**
 * Returns values for a random subset of `table`, plus a few attributes the table lacks,
 * which decode into `unknown`.
 */
export function randomAttributes(table: AttributeTable, random: Random, depth = 0, skip: readonly string[] = []): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const spec of table.specs) {
    const key = table.byType.get(spec.type)?.key ?? spec.name;
    if (skip.includes(key) || random() < 0.6) continue;
    const value = randomValue(spec, random, depth);
    values[key] = spec.repeated ? [value, randomValue(spec, random, depth)] : value;
  }

  const unknown: RawAttribute[] = [];
  for (let i = randomInteger(random, 3); i > 0; i--) {
    // Numbers above every table's range, with NLA_F_NESTED on some.
    unknown.push({ type: 1000 + randomInteger(random, 1000), nested: random() < 0.3, data: bytesOf(random, randomInteger(random, 12)) });
  }
  if (unknown.length > 0) values.unknown = unknown;
  return values;
}

function randomLinkInfo(random: Random, depth: number): LinkInfo {
  const choice = randomInteger(random, 4);
  if (choice === 0) return { kind: 'bridge', data: randomAttributes(bridgeInfoTable, random, 2) };
  if (choice === 1 && depth < 2) return { kind: 'veth', data: { peer: randomLinkMessage(random, depth + 1) } };
  // Kinds without a table; "x" so that the random text is never "veth" or "bridge".
  if (choice === 2) return { kind: `x${text(random, 10)}`, data: Buffer.alloc(0) };
  return { kind: `x${text(random, 10)}` };
}

/** Returns a random link message whose every attribute survives an encode and a decode. */
export function randomLinkMessage(random: Random, depth = 0): LinkMessage {
  const attributes = randomAttributes(linkTable, random, depth, ['linkinfo']);
  if (random() < 0.6) attributes.linkinfo = randomLinkInfo(random, depth);
  return {
    family: randomInteger(random, 256),
    deviceType: randomInteger(random, 0x10000),
    index: u32(random) | 0,
    flags: u32(random),
    change: u32(random),
    attributes,
  };
}

export function randomAddressMessage(random: Random): AddressMessage {
  const attributes = randomAttributes(addressTable, random, 0, ['cacheinfo']);
  if (random() < 0.5) attributes.cacheinfo = { preferred: u32(random), valid: u32(random), created: u32(random), updated: u32(random) };
  return {
    family: randomInteger(random, 256),
    prefixLength: randomInteger(random, 256),
    flags: randomInteger(random, 256),
    scope: randomInteger(random, 256),
    index: u32(random),
    attributes,
  };
}

export function randomRouteMessage(random: Random): RouteMessage {
  return {
    family: randomInteger(random, 256),
    dstLength: randomInteger(random, 256),
    srcLength: randomInteger(random, 256),
    tos: randomInteger(random, 256),
    table: randomInteger(random, 256),
    protocol: randomInteger(random, 256),
    scope: randomInteger(random, 256),
    type: randomInteger(random, 256),
    flags: u32(random),
    attributes: randomAttributes(routeTable, random),
  };
}

export function randomRuleMessage(random: Random): RuleMessage {
  return {
    family: randomInteger(random, 256),
    dstLength: randomInteger(random, 256),
    srcLength: randomInteger(random, 256),
    tos: randomInteger(random, 256),
    table: randomInteger(random, 256),
    action: randomInteger(random, 256),
    flags: u32(random),
    attributes: randomAttributes(ruleTable, random),
  };
}

// Values that hit length checks: zero, just below and above a header, and the maximum.
const INTERESTING_U16 = [0, 1, 3, 4, 5, 8, 15, 16, 17, 20, 0x7fff, 0x8000, 0x8004, 0xffff];
const INTERESTING_U32 = [0, 4, 15, 16, 17, 20, 0x7fffffff, 0x80000000, 0xffffffff];

export type Mutation = (input: Buffer, random: Random, donors: readonly Buffer[]) => Buffer;

/** Byte-level mutations, each returning a new buffer. */
export const MUTATORS: readonly [string, Mutation][] = [
  [
    'flip a bit',
    (input, random) => {
      const output = Buffer.from(input);
      const at = randomInteger(random, output.length);
      output[at] = (output[at] ?? 0) ^ (1 << randomInteger(random, 8));
      return output;
    },
  ],
  [
    'randomize bytes',
    (input, random) => {
      const output = Buffer.from(input);
      const count = 1 + randomInteger(random, 8);
      for (let i = 0; i < count; i++) output[randomInteger(random, output.length)] = randomInteger(random, 256);
      return output;
    },
  ],
  [
    'write a length-like u16',
    (input, random) => {
      const output = Buffer.from(input);
      if (output.length < 2) return output;
      output.writeUInt16LE(INTERESTING_U16[randomInteger(random, INTERESTING_U16.length)] ?? 0, randomInteger(random, output.length - 1));
      return output;
    },
  ],
  [
    'write a length-like u32',
    (input, random) => {
      const output = Buffer.from(input);
      if (output.length < 4) return output;
      output.writeUInt32LE(INTERESTING_U32[randomInteger(random, INTERESTING_U32.length)] ?? 0, randomInteger(random, output.length - 3));
      return output;
    },
  ],
  ['truncate', (input, random) => input.subarray(0, randomInteger(random, input.length))],
  [
    'splice from another input',
    (input, random, donors) => {
      const donor = donors[randomInteger(random, donors.length)] ?? input;
      const from = randomInteger(random, donor.length);
      const chunk = donor.subarray(from, from + 1 + randomInteger(random, 64));
      const at = randomInteger(random, input.length);
      const replace = random() < 0.5;
      return Buffer.concat([input.subarray(0, at), chunk, input.subarray(replace ? at + chunk.length : at)]);
    },
  ],
  [
    'duplicate a range',
    (input, random) => {
      const from = randomInteger(random, input.length);
      const chunk = input.subarray(from, from + 1 + randomInteger(random, 128));
      return Buffer.concat([input.subarray(0, from), chunk, input.subarray(from)]);
    },
  ],
];

/** Applies 1 to 3 random mutations; returns the result and their names. */
export function mutate(input: Buffer, random: Random, donors: readonly Buffer[]): { output: Buffer; applied: string[] } {
  let output = input;
  const applied: string[] = [];
  const steps = 1 + randomInteger(random, 3);
  for (let step = 0; step < steps && output.length > 0; step++) {
    const [name, mutation] = MUTATORS[randomInteger(random, MUTATORS.length)] ?? MUTATORS[0]!;
    output = mutation(output, random, donors);
    applied.push(name);
  }
  return { output, applied };
}

/**
 * Applies `change` to the payload of one message of `datagram` and rewrites that message's
 * nlmsg_len, so that the framing stays intact and the change reaches a decoder.
 */
export function mutateOneMessage(datagram: Buffer, random: Random, change: (payload: Buffer) => Buffer): Buffer {
  const messages = splitDatagram(datagram);
  const chosen = randomInteger(random, messages.length);
  const parts = messages.map((message, index) => {
    const payload = index === chosen ? change(message.payload) : message.payload;
    const header = Buffer.from(datagram.subarray(message.payloadOffset - NLMSG_HDRLEN, message.payloadOffset));
    header.writeUInt32LE(NLMSG_HDRLEN + payload.length, 0);
    return Buffer.concat([header, payload, Buffer.alloc((4 - (payload.length % 4)) % 4)]);
  });
  return Buffer.concat(parts);
}

/** What a decoder returned for an input: a size in units and the Buffers that are not views of the input. */
export interface DecodedSize {
  /** One unit per object key, array element, number, bigint or boolean, and per character of text. */
  units: number;
  /** Total length of Buffers in the output that do not share the input's memory (copies). */
  copiedBytes: number;
}

// Small Buffers share Node's allocation pool, so sharing `buffer` is not enough: a view lies
// within the input's bytes.
function isViewOf(item: Buffer, input: Buffer): boolean {
  return item.buffer === input.buffer && item.byteOffset >= input.byteOffset && item.byteOffset + item.length <= input.byteOffset + input.length;
}

/** Measures `value`, the output of decoding `input`. */
export function decodedSize(value: unknown, input: Buffer): DecodedSize {
  const size: DecodedSize = { units: 0, copiedBytes: 0 };
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const item = stack.pop();
    if (Buffer.isBuffer(item)) {
      size.units++;
      if (!isViewOf(item, input)) size.copiedBytes += item.length;
    } else if (typeof item === 'string') {
      size.units += item.length;
    } else if (Array.isArray(item)) {
      size.units += item.length;
      stack.push(...item);
    } else if (typeof item === 'object' && item !== null) {
      const entries = Object.values(item);
      size.units += entries.length;
      stack.push(...entries);
    } else {
      size.units++;
    }
  }
  return size;
}
