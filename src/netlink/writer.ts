/**
 * A growable byte writer for building netlink messages. Lengths of messages and nested
 * attributes are written as placeholders and filled in when their end is known.
 */
import { NLA_F_NESTED, NLA_HDRLEN, nlaAlign } from './align.js';

export class Writer {
  private buffer: Buffer;
  private length = 0;

  constructor(initialSize = 256) {
    this.buffer = Buffer.alloc(initialSize);
  }

  /** Number of bytes written so far. */
  get offset(): number {
    return this.length;
  }

  // Callers must call reserve() before reading this.buffer: it may replace the buffer.
  private reserve(size: number): number {
    const start = this.length;
    if (start + size > this.buffer.length) {
      const grown = Buffer.alloc(Math.max(this.buffer.length * 2, start + size));
      this.buffer.copy(grown, 0, 0, start);
      this.buffer = grown;
    }
    this.length += size;
    return start;
  }

  u8(value: number): this {
    const at = this.reserve(1);
    this.buffer.writeUInt8(value, at);
    return this;
  }

  u16(value: number): this {
    const at = this.reserve(2);
    this.buffer.writeUInt16LE(value, at);
    return this;
  }

  u16be(value: number): this {
    const at = this.reserve(2);
    this.buffer.writeUInt16BE(value, at);
    return this;
  }

  u32(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeUInt32LE(value >>> 0, at);
    return this;
  }

  u32be(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeUInt32BE(value >>> 0, at);
    return this;
  }

  s32(value: number): this {
    const at = this.reserve(4);
    this.buffer.writeInt32LE(value, at);
    return this;
  }

  u64(value: bigint): this {
    const at = this.reserve(8);
    this.buffer.writeBigUInt64LE(value, at);
    return this;
  }

  u64be(value: bigint): this {
    const at = this.reserve(8);
    this.buffer.writeBigUInt64BE(value, at);
    return this;
  }

  bytes(data: Uint8Array): this {
    const start = this.reserve(data.length);
    this.buffer.set(data, start);
    return this;
  }

  /** Writes zero bytes until the length is a multiple of `alignment`. */
  alignTo(alignment: number): this {
    const padding = (alignment - (this.length % alignment)) % alignment;
    this.reserve(padding); // Buffer.alloc zero-fills, so reserved bytes are already zero.
    return this;
  }

  /** Writes a fixed struct through an encoder that fills `size` bytes at an offset. */
  fixed(size: number, encode: (buffer: Buffer, offset: number) => void): this {
    const start = this.reserve(size);
    encode(this.buffer, start);
    return this;
  }

  setU32At(offset: number, value: number): void {
    this.buffer.writeUInt32LE(value >>> 0, offset);
  }

  /** Writes one attribute whose payload is produced by `writePayload`, then pads it. */
  attribute(type: number, writePayload: (writer: this) => void): this {
    const start = this.reserve(NLA_HDRLEN);
    writePayload(this);
    this.buffer.writeUInt16LE(this.length - start, start);
    this.buffer.writeUInt16LE(type, start + 2);
    this.reserve(nlaAlign(this.length) - this.length);
    return this;
  }

  /** Writes a nested attribute (NLA_F_NESTED set) around what `writeChildren` writes. */
  nested(type: number, writeChildren: (writer: this) => void): this {
    return this.attribute(type | NLA_F_NESTED, writeChildren);
  }

  /** Returns a copy of the bytes written. */
  toBuffer(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }
}
