/**
 * Attribute tables as data, and the generic walk that decodes and encodes attributes
 * through them. Each table mirrors one attribute set of the kernel's YAML netlink specs.
 */
import { NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK, nlaAlign } from './align.js';
import { DecodeError } from './errors.js';
import { formatAddress, formatHardwareAddress, formatIPv4At, parseAddress, parseHardwareAddress } from './ip.js';
import type { Writer } from './writer.js';

/** Encoding of an attribute's payload. */
export type AttributeKind =
  | 'u8'
  | 'u16'
  | 'u32'
  | 's32'
  | 'u64'
  /** Unsigned 64 bits in network byte order, such as a tunnel id. */
  | 'u64be'
  /** Unsigned 16 bits in network byte order, such as a port. */
  | 'u16be'
  /** Unsigned 32 bits in network byte order, such as an IPv6 flow label. */
  | 'u32be'
  /** Text; decoding stops at the first NUL, so a trailing NUL is optional on input. */
  | 'string'
  /** Raw bytes, kept as a Buffer. */
  | 'binary'
  /** An IPv4 or IPv6 address, as text. */
  | 'address'
  /** A hardware address, as colon-separated hex. */
  | 'hwaddr'
  /** Present or absent, with no payload. */
  | 'flag'
  /** Attributes inside, decoded through `nested`. */
  | 'nested';

export interface AttributeSpec {
  /** Attribute number, as in the kernel's enum. */
  type: number;
  /** Name as in the kernel's YAML spec, without its prefix ("ifname" for IFLA_IFNAME). */
  name: string;
  kind: AttributeKind;
  /** Table of the attributes inside, for kind "nested". */
  nested?: AttributeTable;
  /** For strings: whether encoding appends a NUL (default true; iproute2 sends IFLA_INFO_KIND without one). */
  terminated?: boolean;
  /** Whether the attribute may repeat; its decoded value is then an array. */
  repeated?: boolean;
  /**
   * For nested attributes: whether encoding sets NLA_F_NESTED. Off by default, as iproute2
   * sends the rtnetlink nests the kernel parses with nla_parse_nested_deprecated(), which
   * accepts either form.
   */
  flagged?: boolean;
  /**
   * Reason why this attribute's kind deliberately differs from the type in the kernel's YAML
   * spec. The spec test accepts a difference only where this is set.
   */
  differsFromSpec?: string;
}

/** Attributes of a set that the table does not decode, by spec name, each with the reason. */
export type KeptRaw = Readonly<Record<string, string>>;

/** One attribute set: its specs by number and by the camelCase key used in decoded objects. */
export interface AttributeTable {
  /** Name of the attribute set in the kernel's YAML spec ("link-attrs"). */
  setName: string;
  specs: readonly AttributeSpec[];
  byType: ReadonlyMap<number, AttributeSpec & { key: string }>;
  byKey: ReadonlyMap<string, AttributeSpec & { key: string }>;
  /**
   * Attributes of the kernel's set that this table leaves undecoded. They arrive in
   * `unknown` with their bytes and are re-encoded as they came.
   */
  keptRaw: KeptRaw;
  /** @internal Decoders by attribute type, made on first decode. */
  decoders?: (AttributeDecoder | undefined)[];
}

/** An attribute no table declares, kept with its bytes and re-encoded as it came. */
export interface RawAttribute {
  type: number;
  nested: boolean;
  data: Buffer;
}

/** Decoded attributes by key, plus those no table declares. */
export type AttributeValues = Record<string, unknown> & { unknown?: RawAttribute[] };

/** Converts a spec name to the key of decoded objects: "link-netnsid" becomes "linkNetnsid". */
export function keyOf(specName: string): string {
  return specName.replace(/-([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());
}

/** Builds a table from specs; a duplicate number or name is a programming error. */
export function defineTable(setName: string, specs: AttributeSpec[], keptRaw: KeptRaw = {}): AttributeTable {
  const byType = new Map<number, AttributeSpec & { key: string }>();
  const byKey = new Map<string, AttributeSpec & { key: string }>();
  for (const spec of specs) {
    const entry = { ...spec, key: keyOf(spec.name) };
    if (byType.has(spec.type) || byKey.has(entry.key) || entry.key === 'unknown') {
      throw new Error(`attribute table ${setName}: duplicate or reserved attribute ${spec.name} (${spec.type})`);
    }
    byType.set(spec.type, entry);
    byKey.set(entry.key, entry);
  }
  for (const name of Object.keys(keptRaw)) {
    if (byKey.has(keyOf(name))) throw new Error(`attribute table ${setName}: ${name} is both decoded and kept raw`);
  }
  return { setName, specs, byType, byKey, keptRaw };
}

const FIXED_SIZES: Partial<Record<AttributeKind, number>> = { u8: 1, u16: 2, u16be: 2, u32: 4, u32be: 4, s32: 4, u64: 8, u64be: 8 };

// Nesting deeper than this is not produced by any rtnetlink family; hostile input could
// otherwise recurse until the stack runs out.
const MAX_NESTING_DEPTH = 16;

/**
 * Decodes the attributes in `buffer[start, end)` through `table`. Offsets in errors count
 * from the start of `buffer`.
 */
export function decodeAttributes(
  buffer: Buffer,
  start: number,
  end: number,
  table: AttributeTable,
  depth = 0,
): AttributeValues {
  if (depth > MAX_NESTING_DEPTH) throw new DecodeError(`attributes nested deeper than ${MAX_NESTING_DEPTH} levels`, start);

  const decoders = decodersOf(table);
  const values: AttributeValues = {};
  let offset = start;
  while (end - offset >= NLA_HDRLEN) {
    // The loop condition guarantees these four bytes exist.
    const length = buffer[offset]! | (buffer[offset + 1]! << 8);
    const rawType = buffer[offset + 2]! | (buffer[offset + 3]! << 8);
    if (length < NLA_HDRLEN || offset + length > end) {
      throw new DecodeError(`attribute ${rawType & NLA_TYPE_MASK} of ${table.setName} claims ${length} bytes but ${end - offset} remain`, offset);
    }

    const type = rawType & NLA_TYPE_MASK;
    const decoder = decoders[type];
    const payloadStart = offset + NLA_HDRLEN;
    const payloadEnd = offset + length;
    if (decoder !== undefined) {
      if (length - NLA_HDRLEN < decoder.size) throw shortAttribute(decoder, length - NLA_HDRLEN, payloadStart);
      const value = decoder.decode(buffer, payloadStart, payloadEnd, depth);
      if (decoder.repeated) {
        const list = (values[decoder.key] as unknown[] | undefined) ?? [];
        list.push(value);
        values[decoder.key] = list;
      } else {
        values[decoder.key] = value;
      }
    } else {
      values.unknown ??= [];
      values.unknown.push({ type, nested: (rawType & NLA_F_NESTED) !== 0, data: buffer.subarray(payloadStart, payloadEnd) });
    }
    offset += nlaAlign(length);
  }
  return values;
}

/** The decoder of one attribute type of a table. */
export interface AttributeDecoder {
  key: string;
  repeated: boolean;
  /** Minimum payload size of the kind in bytes: its size for fixed-size kinds, else 0. */
  size: number;
  spec: AttributeSpec;
  decode(buffer: Buffer, start: number, end: number, depth: number): unknown;
}

function shortAttribute(decoder: AttributeDecoder, size: number, offset: number): DecodeError {
  return new DecodeError(`attribute ${decoder.spec.name} (${decoder.spec.type}) has ${size} bytes, expected ${decoder.size}`, offset);
}

// Each table's specs become an array indexed by attribute type, with one decoding function
// per spec chosen once from its kind, so that the walk above does no map lookup and no
// switch per attribute.
function decodersOf(table: AttributeTable): (AttributeDecoder | undefined)[] {
  let decoders = table.decoders;
  if (!decoders) {
    const highest = Math.max(-1, ...table.byType.keys());
    // Made without holes, so that V8 keeps the array's elements packed.
    decoders = Array.from({ length: highest + 1 }, () => undefined);
    for (const spec of table.byType.values()) {
      decoders[spec.type] = { key: spec.key, repeated: spec.repeated === true, size: FIXED_SIZES[spec.kind] ?? 0, spec, decode: valueDecoder(spec) };
    }
    table.decoders = decoders;
  }
  return decoders;
}

type ValueDecoder = (buffer: Buffer, start: number, end: number, depth: number) => unknown;

// The walk has already checked the payload against the kind's size, so reads need no check.
function valueDecoder(spec: AttributeSpec): ValueDecoder {
  switch (spec.kind) {
    case 'u8':
      return (buffer, start) => buffer[start];
    case 'u16':
      return (buffer, start) => buffer.readUInt16LE(start);
    case 'u16be':
      return (buffer, start) => buffer.readUInt16BE(start);
    case 'u32':
      return (buffer, start) => buffer.readUInt32LE(start);
    case 'u32be':
      return (buffer, start) => buffer.readUInt32BE(start);
    case 's32':
      return (buffer, start) => buffer.readInt32LE(start);
    case 'u64':
      return (buffer, start) => buffer.readBigUInt64LE(start);
    case 'u64be':
      return (buffer, start) => buffer.readBigUInt64BE(start);
    case 'string':
      return (buffer, start, end) => {
        const nul = buffer.indexOf(0, start);
        return buffer.toString('utf8', start, nul === -1 || nul > end ? end : nul);
      };
    case 'binary':
      return (buffer, start, end) => buffer.subarray(start, end);
    case 'address':
      return (buffer, start, end) => {
        if (end - start === 4) return formatIPv4At(buffer, start);
        if (end - start === 16) return formatAddress(buffer.subarray(start, end));
        throw new DecodeError(`attribute ${spec.name} (${spec.type}) has ${end - start} bytes, expected an IPv4 (4) or IPv6 (16) address`, start);
      };
    case 'hwaddr':
      return (buffer, start, end) => formatHardwareAddress(buffer.subarray(start, end));
    case 'flag':
      return () => true;
    case 'nested': {
      const nested = spec.nested;
      if (!nested) return (buffer, start, end) => buffer.subarray(start, end);
      return (buffer, start, end, depth) => decodeAttributes(buffer, start, end, nested, depth + 1);
    }
  }
}

/**
 * Encodes `values` through `table` in the table's order, so that output bytes do not depend
 * on the key order of the caller's object. Unknown keys are a programming error.
 */
export function encodeAttributes(writer: Writer, table: AttributeTable, values: Record<string, unknown>): void {
  for (const key of Object.keys(values)) {
    if (key !== 'unknown' && !table.byKey.has(key)) {
      throw new TypeError(`attribute table ${table.setName} has no attribute "${key}"`);
    }
  }
  // byType keeps the order of the table's specs.
  for (const spec of table.byType.values()) {
    const value = values[spec.key];
    if (value === undefined) continue;
    const items = spec.repeated && Array.isArray(value) ? value : [value];
    for (const item of items) encodeValue(writer, spec, item);
  }
  const unknown = values.unknown as RawAttribute[] | undefined;
  for (const raw of unknown ?? []) {
    writer.attribute(raw.type | (raw.nested ? NLA_F_NESTED : 0), (w) => w.bytes(raw.data));
  }
}

/** Encodes one attribute of `spec` with `value`. */
export function encodeValue(writer: Writer, spec: AttributeSpec, value: unknown): void {
  if (spec.kind === 'nested') {
    const type = spec.flagged ? spec.type | NLA_F_NESTED : spec.type;
    if (Buffer.isBuffer(value) || !spec.nested) {
      writer.attribute(type, (w) => w.bytes(value as Buffer));
    } else {
      const nestedTable = spec.nested;
      writer.attribute(type, (w) => encodeAttributes(w, nestedTable, value as Record<string, unknown>));
    }
    return;
  }

  writer.attribute(spec.type, (w) => {
    switch (spec.kind) {
      case 'u8':
        w.u8(value as number);
        break;
      case 'u16':
        w.u16(value as number);
        break;
      case 'u16be':
        w.u16be(value as number);
        break;
      case 'u32':
        w.u32(value as number);
        break;
      case 'u32be':
        w.u32be(value as number);
        break;
      case 's32':
        w.s32(value as number);
        break;
      case 'u64':
        w.u64(value as bigint);
        break;
      case 'u64be':
        w.u64be(value as bigint);
        break;
      case 'string':
        w.bytes(Buffer.from(value as string, 'utf8'));
        if (spec.terminated !== false) w.u8(0);
        break;
      case 'binary':
        w.bytes(value as Uint8Array);
        break;
      case 'address':
        w.bytes(parseAddress(value as string));
        break;
      case 'hwaddr':
        w.bytes(parseHardwareAddress(value as string));
        break;
      case 'flag':
        break;
    }
  });
}
