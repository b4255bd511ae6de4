/**
 * A small byte builder for netlink test vectors. Expected bytes are written as rows of these
 * calls that follow the kernel structs, so a failing test shows which field differs.
 * Everything is little-endian (the host order of the x86-64 and arm64 machines this runs on)
 * unless the name ends in `be`.
 */

export type Part = Buffer | Uint8Array | readonly number[];

/** Concatenates parts; arrays of numbers are taken as single bytes. */
export function bytes(...parts: Part[]): Buffer {
  return Buffer.concat(parts.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part as Uint8Array))));
}

export function u8(value: number): Buffer {
  return Buffer.from([value]);
}

export function u16(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16LE(value);
  return buffer;
}

export function u16be(value: number): Buffer {
  const buffer = Buffer.alloc(2);
  buffer.writeUInt16BE(value);
  return buffer;
}

export function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32LE(value >>> 0);
  return buffer;
}

export function s32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32LE(value);
  return buffer;
}

export function u64(value: bigint): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64LE(value);
  return buffer;
}

export function u64be(value: bigint): Buffer {
  const buffer = Buffer.alloc(8);
  buffer.writeBigUInt64BE(value);
  return buffer;
}

/** UTF-8 text without a terminating NUL. */
export function text(value: string): Buffer {
  return Buffer.from(value, 'utf8');
}

/** UTF-8 text followed by a NUL, as C strings travel in netlink attributes. */
export function cstring(value: string): Buffer {
  return Buffer.concat([text(value), Buffer.alloc(1)]);
}

/** `count` zero bytes of padding. */
export function pad(count: number): Buffer {
  return Buffer.alloc(count);
}

/** Dotted IPv4 text as its 4 bytes, parsed here and not by the code under test. */
export function ipv4(value: string): Buffer {
  return Buffer.from(value.split('.').map(Number));
}

/** Returns the 16 bytes of an IPv6 address given as its eight 16-bit groups. */
export function ipv6Groups(...groups: number[]): Buffer {
  if (groups.length !== 8) throw new Error(`ipv6Groups needs 8 groups, got ${groups.length}`);
  return Buffer.concat(groups.map(u16be));
}

// #define NLA_F_NESTED (1 << 15)
const NESTED = 0x8000;

/** Returns one attribute: nla_len (header and payload, without padding), nla_type, payload, padding to 4. */
export function attr(type: number, ...payload: Part[]): Buffer {
  const body = bytes(...payload);
  const length = 4 + body.length;
  return bytes(u16(length), u16(type), body, pad(alignedTo4(length) - length));
}

/** Returns a nested attribute, with NLA_F_NESTED set on the type. */
export function nest(type: number, ...children: Part[]): Buffer {
  return attr(type | NESTED, ...children);
}

/**
 * Returns one netlink message: nlmsghdr with nlmsg_len computed from the payload (without
 * padding), the payload, then padding to 4 bytes.
 */
export function message(fields: { type: number; flags?: number; seq?: number; pid?: number }, ...payload: Part[]): Buffer {
  const body = bytes(...payload);
  const length = 16 + body.length;
  return bytes(
    u32(length), // nlmsg_len
    u16(fields.type), // nlmsg_type
    u16(fields.flags ?? 0), // nlmsg_flags
    u32(fields.seq ?? 0), // nlmsg_seq
    u32(fields.pid ?? 0), // nlmsg_pid
    body,
    pad(alignedTo4(length) - length),
  );
}

function alignedTo4(length: number): number {
  return Math.ceil(length / 4) * 4;
}
