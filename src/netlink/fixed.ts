/**
 * Message bodies made of a fixed struct followed by attributes, and the mapping of decode
 * errors in a payload to offsets within the datagram.
 */
import type { Structure } from 'buffer-layout';
import { nlmsgAlign } from './align.js';
import { decodeAttributes, encodeAttributes, type AttributeTable, type AttributeValues } from './attributes.js';
import { DecodeError } from './errors.js';
import type { Message } from './message.js';
import { Writer } from './writer.js';

/**
 * Decodes the fixed struct at the start of `payload` and returns it with the offset where
 * attributes begin, right after the struct's size in this ABI. Error offsets are relative
 * to `payload`.
 */
export function readFixed<T>(payload: Buffer, layout: Structure<T>, structName: string): { fixed: T; attributesStart: number } {
  if (payload.length < layout.span) {
    throw new DecodeError(`${structName} needs ${layout.span} bytes, got ${payload.length}`, 0);
  }
  return { fixed: structReader(layout)(payload, 0), attributesStart: nlmsgAlign(layout.span) };
}

// buffer-layout's decode costs about 25 times a direct read per field (measured on rtmsg,
// 0.5 us against 0.02 us), and fixed structs are read once per message of every dump. So the
// declared fields are compiled, once per struct, into one function that reads each field in
// place and returns an object literal: V8 then gives every decoded struct the same shape.
const readers = new WeakMap<Structure<unknown>, (buffer: Buffer, offset: number) => unknown>();

/**
 * Returns a function that reads the struct `layout` declares at `offset` of a buffer. The
 * caller checks that the span fits. Structs with fields other than 8, 16 and 32-bit integers
 * (nested structs) fall back to buffer-layout's decode.
 */
export function structReader<T>(layout: Structure<T>): (buffer: Buffer, offset: number) => T {
  let reader = readers.get(layout as Structure<unknown>);
  if (!reader) {
    const source = literalSource(layout);
    reader =
      source === null
        ? (buffer: Buffer, offset: number) => layout.decode(buffer, offset)
        : // The source holds only the struct's declared names (checked) and numbers.
          (new Function('b', 'o', `return { ${source} };`) as (buffer: Buffer, offset: number) => unknown);
    readers.set(layout as Structure<unknown>, reader);
  }
  return reader as (buffer: Buffer, offset: number) => T;
}

/** Returns the fields of an object literal that reads `layout` at `b[o]`, or null if a field cannot be read directly. */
function literalSource(layout: Structure<unknown>): string | null {
  const reads = layout.fields.map((field) => {
    const name = field.property ?? '';
    const expression = readExpression(field.span, isSigned(field), layout.offsetOf(name) ?? 0);
    return IDENTIFIER.test(name) && expression !== null ? `${name}: ${expression}` : null;
  });
  return reads.every((read) => read !== null) ? reads.join(', ') : null;
}

type MessageReader<T> = (buffer: Buffer, offset: number, attributes: AttributeValues) => T & { attributes: AttributeValues };
const messageReaders = new WeakMap<Structure<unknown>, MessageReader<unknown>>();

/**
 * Like structReader, but the object also carries `attributes`, so that a message whose
 * fields are the struct's own decodes into a single object.
 */
function messageReader<T>(layout: Structure<T>): MessageReader<T> {
  let reader = messageReaders.get(layout as Structure<unknown>);
  if (!reader) {
    const source = literalSource(layout);
    const read = structReader(layout);
    reader =
      source === null
        ? (buffer, offset, attributes) => Object.assign(read(buffer, offset) as object, { attributes })
        : (new Function('b', 'o', 'a', `return { ${source}, attributes: a };`) as MessageReader<unknown>);
    messageReaders.set(layout as Structure<unknown>, reader);
  }
  return reader as MessageReader<T>;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Source text of a little-endian read of `span` bytes at `b[o + at]`, or null for other shapes. */
function readExpression(span: number, signed: boolean, at: number): string | null {
  const byte = (index: number) => `b[o + ${at + index}]`;
  if (span === 1) return signed ? `(${byte(0)} << 24 >> 24)` : byte(0);
  if (span === 2) {
    const unsigned = `(${byte(0)} | ${byte(1)} << 8)`;
    return signed ? `(${unsigned} << 16 >> 16)` : unsigned;
  }
  if (span === 4) {
    const low = `(${byte(0)} | ${byte(1)} << 8 | ${byte(2)} << 16)`;
    return signed ? `(${low} | ${byte(3)} << 24)` : `(${low} + ${byte(3)} * 16777216)`;
  }
  return null;
}

// buffer-layout's signed integer layouts are instances of its Int class.
function isSigned(field: unknown): boolean {
  return (field as { constructor: { name: string } }).constructor.name === 'Int';
}

/** Runs `decode`, adding `base` to the offset of any DecodeError it throws. */
export function shiftDecodeErrors<T>(base: number, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof DecodeError) throw error.shifted(base);
    throw error;
  }
}

/** Encodes a message body: the fixed struct, then the attributes through `table`. */
export function encodeBody<T>(layout: Structure<T>, fixed: T, table: AttributeTable, attributes: Record<string, unknown>): Buffer {
  const writer = new Writer();
  writer.fixed(layout.span, (buffer, offset) => layout.encode(fixed, buffer, offset));
  encodeAttributes(writer, table, attributes);
  return writer.toBuffer();
}

/**
 * Returns a decoder of messages whose fields are exactly those of their fixed struct, plus
 * `attributes` decoded through `table`: route and address messages. It reads the datagram
 * in place, so error offsets count from the datagram's start.
 */
export function structMessageDecoder<T>(
  layout: Structure<T>,
  structName: string,
  table: AttributeTable,
): (message: Message) => T & { attributes: AttributeValues } {
  // Looked up once here rather than once per message.
  const read = messageReader(layout);
  const attributesOffset = nlmsgAlign(layout.span);
  return (message) => {
    checkStructFits(message, layout, structName);
    const { datagram, payloadOffset, payloadEnd } = message;
    const attributes = decodeAttributes(datagram, payloadOffset + attributesOffset, payloadEnd, table);
    return read(datagram, payloadOffset, attributes);
  };
}

/**
 * Decodes a message body: the fixed struct, then the attributes through `table`. It reads the
 * datagram in place, so error offsets count from the datagram's start.
 */
export function decodeBody<T>(
  message: Message,
  layout: Structure<T>,
  structName: string,
  table: AttributeTable,
): { fixed: T; attributes: AttributeValues } {
  checkStructFits(message, layout, structName);
  const { datagram, payloadOffset, payloadEnd } = message;
  const fixed = structReader(layout)(datagram, payloadOffset);
  return { fixed, attributes: decodeAttributes(datagram, payloadOffset + nlmsgAlign(layout.span), payloadEnd, table) };
}

/** Throws a DecodeError at the payload's offset when the payload is shorter than the struct. */
function checkStructFits(message: Message, layout: Structure<unknown>, structName: string): void {
  const size = message.payloadEnd - message.payloadOffset;
  if (size < layout.span) throw new DecodeError(`${structName} needs ${layout.span} bytes, got ${size}`, message.payloadOffset);
}
