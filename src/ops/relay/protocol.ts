/**
 * The frames that the parent and a relay process exchange over the relay's stdin and stdout.
 *
 * Every frame is a u32 little-endian length, counting the bytes after it, then a u8 kind,
 * then the kind's body:
 *
 * ```
 *   0       4     5
 *   +-------+-----+----------------------+
 *   | length| kind| body (length - 1)    |
 *   +-------+-----+----------------------+
 * ```
 *
 * Netlink datagrams travel as opaque bodies, one frame per datagram, so the relay never
 * decodes them. Requests that expect a reply (joining a group, sysctls) carry a u32
 * request id that the reply repeats. Sysctl requests name the file under /proc/sys, so
 * that key parsing stays in the parent and each relay only opens a path. Strings are
 * UTF-8 and run to the end of the frame unless a length says otherwise. These functions
 * are pure: no I/O. Both relays speak this protocol: main.ts, and perl-relay.ts, which
 * takes the numbers below from this file.
 */

/** Bytes of the length prefix. */
export const LENGTH_SIZE = 4;
/** Bytes of the kind that follows the length prefix. */
export const KIND_SIZE = 1;
const U32_SIZE = 4;

/**
 * Maximum of a frame's length field. It is far above any rtnetlink datagram, because dump
 * parts are at most 32 KiB and single replies with many VFs reach a few hundred KiB. It
 * makes a corrupt stream fail at once: stray text on stdout reads as a length near 2 GiB.
 */
export const MAX_FRAME_LENGTH = 16 * 1024 * 1024;

/** Wire value of each frame kind. */
export const FrameKind = {
  /** parent -> relay: a datagram to send to the kernel. Body: the datagram. */
  toKernel: 1,
  /** relay -> parent: a datagram the kernel sent. Body: the datagram. */
  fromKernel: 2,
  /** parent -> relay: join a multicast group. Body: u32 id, u32 group (RTNLGRP_*). */
  joinGroup: 3,
  /** parent -> relay: read a sysctl. Body: u32 id, path of its file under /proc/sys. */
  readSysctl: 4,
  /** parent -> relay: write a sysctl. Body: u32 id, u32 path byte length, path, value. */
  writeSysctl: 5,
  /** relay -> parent: a request succeeded. Body: u32 id, value (the sysctl read, else empty). */
  replyOk: 6,
  /** relay -> parent: a request failed. Body: u32 id, u32 errno (0 if none), message. */
  replyError: 7,
  /** relay -> parent: the socket is open. Body: u32 pid, u32 netlink port id. */
  ready: 8,
  /** relay -> parent: the socket reported an error (ENOBUFS after an overrun). Body: u32 errno, message. */
  socketError: 9,
} as const;

export type RelayMessage =
  | { type: 'toKernel'; datagram: Buffer }
  | { type: 'fromKernel'; datagram: Buffer }
  | { type: 'joinGroup'; id: number; group: number }
  | { type: 'readSysctl'; id: number; path: string }
  | { type: 'writeSysctl'; id: number; path: string; value: string }
  | { type: 'replyOk'; id: number; value: string }
  | { type: 'replyError'; id: number; errno: number; message: string }
  | { type: 'ready'; pid: number; port: number }
  | { type: 'socketError'; errno: number; message: string };

/** A frame stream that cannot be decoded. The stream is out of step afterwards and must be dropped. */
export class RelayProtocolError extends Error {
  override name = 'RelayProtocolError';
}

/** Encodes one message as one frame. Throws a RangeError when the frame would exceed MAX_FRAME_LENGTH. */
export function encodeMessage(message: RelayMessage): Buffer {
  switch (message.type) {
    case 'toKernel':
    case 'fromKernel':
      return frame(FrameKind[message.type], [message.datagram]);
    case 'joinGroup':
      return frame(FrameKind.joinGroup, [u32(message.id), u32(message.group)]);
    case 'readSysctl':
      return frame(FrameKind.readSysctl, [u32(message.id), utf8(message.path)]);
    case 'writeSysctl': {
      const path = utf8(message.path);
      return frame(FrameKind.writeSysctl, [u32(message.id), u32(path.length), path, utf8(message.value)]);
    }
    case 'replyOk':
      return frame(FrameKind.replyOk, [u32(message.id), utf8(message.value)]);
    case 'replyError':
      return frame(FrameKind.replyError, [u32(message.id), u32(message.errno), utf8(message.message)]);
    case 'ready':
      return frame(FrameKind.ready, [u32(message.pid), u32(message.port)]);
    case 'socketError':
      return frame(FrameKind.socketError, [u32(message.errno), utf8(message.message)]);
  }
}

/**
 * Splits a byte stream into messages. Chunks may end anywhere, inside the length prefix
 * as well as inside a body, and one chunk may hold several frames.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes needed before the next frame can be complete; avoids re-joining chunks of a large frame. */
  private needed = LENGTH_SIZE;
  /** Stream offset of the first buffered byte, for error messages. */
  private consumed = 0;

  /** Bytes received but not yet part of a whole frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Adds a chunk and returns the messages completed by it. Throws RelayProtocolError on a bad frame. */
  push(chunk: Buffer): RelayMessage[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < this.needed) {
      return [];
    }

    const data = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.buffered);
    const messages: RelayMessage[] = [];
    let offset = 0;
    this.needed = LENGTH_SIZE;

    while (data.length - offset >= LENGTH_SIZE) {
      const length = data.readUInt32LE(offset);
      if (length < KIND_SIZE || length > MAX_FRAME_LENGTH) {
        throw new RelayProtocolError(
          `Relay frame length ${length} at stream offset ${this.consumed + offset} is out of range: expected 1 to ${MAX_FRAME_LENGTH} bytes`,
        );
      }
      const end = offset + LENGTH_SIZE + length;
      if (end > data.length) {
        this.needed = end - offset;
        break;
      }
      const kind = data.readUInt8(offset + LENGTH_SIZE);
      messages.push(decodeBody(kind, data.subarray(offset + LENGTH_SIZE + KIND_SIZE, end)));
      offset = end;
    }

    const rest = data.subarray(offset);
    this.consumed += offset;
    this.chunks = rest.length === 0 ? [] : [rest];
    this.buffered = rest.length;
    return messages;
  }
}

/** Decodes the body of one frame of the given kind. Throws RelayProtocolError if it is malformed. */
export function decodeBody(kind: number, body: Buffer): RelayMessage {
  switch (kind) {
    case FrameKind.toKernel:
      return { type: 'toKernel', datagram: body };
    case FrameKind.fromKernel:
      return { type: 'fromKernel', datagram: body };
    case FrameKind.joinGroup:
      expectBodySize('joinGroup', body, 2 * U32_SIZE, true);
      return { type: 'joinGroup', id: body.readUInt32LE(0), group: body.readUInt32LE(U32_SIZE) };
    case FrameKind.readSysctl:
      expectBodySize('readSysctl', body, U32_SIZE);
      return { type: 'readSysctl', id: body.readUInt32LE(0), path: text(body, U32_SIZE) };
    case FrameKind.writeSysctl: {
      expectBodySize('writeSysctl', body, 2 * U32_SIZE);
      const pathEnd = 2 * U32_SIZE + body.readUInt32LE(U32_SIZE);
      if (pathEnd > body.length) {
        throw new RelayProtocolError(
          `Relay writeSysctl frame declares a path ending at byte ${pathEnd} of a ${body.length}-byte body`,
        );
      }
      return {
        type: 'writeSysctl',
        id: body.readUInt32LE(0),
        path: text(body, 2 * U32_SIZE, pathEnd),
        value: text(body, pathEnd),
      };
    }
    case FrameKind.replyOk:
      expectBodySize('replyOk', body, U32_SIZE);
      return { type: 'replyOk', id: body.readUInt32LE(0), value: text(body, U32_SIZE) };
    case FrameKind.replyError:
      expectBodySize('replyError', body, 2 * U32_SIZE);
      return {
        type: 'replyError',
        id: body.readUInt32LE(0),
        errno: body.readUInt32LE(U32_SIZE),
        message: text(body, 2 * U32_SIZE),
      };
    case FrameKind.ready:
      expectBodySize('ready', body, 2 * U32_SIZE, true);
      return { type: 'ready', pid: body.readUInt32LE(0), port: body.readUInt32LE(U32_SIZE) };
    case FrameKind.socketError:
      expectBodySize('socketError', body, U32_SIZE);
      return { type: 'socketError', errno: body.readUInt32LE(0), message: text(body, U32_SIZE) };
    default:
      throw new RelayProtocolError(`Unknown relay frame kind ${kind} (${body.length}-byte body)`);
  }
}

function expectBodySize(type: RelayMessage['type'], body: Buffer, size: number, exact = false): void {
  if (exact ? body.length !== size : body.length < size) {
    const expected = exact ? `${size}` : `at least ${size}`;
    throw new RelayProtocolError(`Relay ${type} frame has a ${body.length}-byte body, expected ${expected}`);
  }
}

function frame(kind: number, parts: Buffer[]): Buffer {
  const bodyLength = parts.reduce((sum, part) => sum + part.length, 0);
  const length = KIND_SIZE + bodyLength;
  if (length > MAX_FRAME_LENGTH) {
    throw new RangeError(`Relay frame of ${length} bytes exceeds the maximum of ${MAX_FRAME_LENGTH} bytes`);
  }

  const header = Buffer.allocUnsafe(LENGTH_SIZE + KIND_SIZE);
  header.writeUInt32LE(length, 0);
  header.writeUInt8(kind, LENGTH_SIZE);
  return Buffer.concat([header, ...parts], LENGTH_SIZE + length);
}

function u32(value: number): Buffer {
  const buffer = Buffer.allocUnsafe(U32_SIZE);
  buffer.writeUInt32LE(value, 0);
  return buffer;
}

function utf8(value: string): Buffer {
  return Buffer.from(value, 'utf8');
}

function text(body: Buffer, start: number, end = body.length): string {
  return body.toString('utf8', start, end);
}
