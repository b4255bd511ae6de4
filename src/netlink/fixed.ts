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
  return { fixed: layout.decode(payload, 0), attributesStart: nlmsgAlign(layout.span) };
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

/** Decodes a message body: the fixed struct, then the attributes through `table`. */
export function decodeBody<T>(
  message: Message,
  layout: Structure<T>,
  structName: string,
  table: AttributeTable,
): { fixed: T; attributes: AttributeValues } {
  return shiftDecodeErrors(message.payloadOffset, () => {
    const { fixed, attributesStart } = readFixed(message.payload, layout, structName);
    return { fixed, attributes: decodeAttributes(message.payload, attributesStart, message.payload.length, table) };
  });
}
