/**
 * Link messages: RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK, RTM_SETLINK. The body is an
 * ifinfomsg followed by IFLA_* attributes.
 */
import { decodeAttributes, encodeAttributes, type AttributeValues, type RawAttribute } from './attributes.js';
import { AF_UNSPEC } from './constants.js';
import { readFixed, shiftDecodeErrors } from './fixed.js';
import { bridgeInfoTable, linkInfoTable, linkTable, VETH_INFO_PEER, vethInfoTable } from './link-table.js';
import type { Message } from './message.js';
import { ifinfomsg } from './structs.js';
import { Writer } from './writer.js';

/** Settings of a veth link: the peer, created with it. */
export interface VethInfo {
  peer?: LinkMessage;
  unknown?: RawAttribute[];
}

/** IFLA_LINKINFO: the kind and its kind-specific data. */
export interface LinkInfo {
  kind?: string;
  /** VethInfo for "veth", bridge settings for "bridge", raw bytes for kinds without a table. */
  data?: VethInfo | AttributeValues | Buffer;
  xstats?: Buffer;
  slaveKind?: string;
  slaveData?: Buffer;
  unknown?: RawAttribute[];
}

/** IFLA_* attributes by key. Attributes without a typed field here are still decoded by the table. */
export interface LinkAttributes {
  address?: string;
  broadcast?: string;
  ifname?: string;
  mtu?: number;
  link?: number;
  master?: number;
  txqlen?: number;
  operstate?: number;
  linkmode?: number;
  linkinfo?: LinkInfo;
  netNsPid?: number;
  ifalias?: string;
  group?: number;
  netNsFd?: number;
  extMask?: number;
  promiscuity?: number;
  carrier?: number;
  linkNetnsid?: number;
  newNetnsid?: number;
  targetNetnsid?: number;
  minMtu?: number;
  maxMtu?: number;
  permAddress?: string;
  unknown?: RawAttribute[];
  [key: string]: unknown;
}

/** A link message: ifinfomsg fields and attributes. */
export interface LinkMessage {
  family: number;
  /** ARPHRD_* hardware type. */
  deviceType: number;
  /** Interface index; 0 in a request means "by name" or "new". */
  index: number;
  /** IFF_* flags. */
  flags: number;
  /** Mask of the flags a request changes. */
  change: number;
  attributes: LinkAttributes;
}

/** Returns a link message with the fixed fields zeroed and the given attributes. */
export function linkMessage(fields: Partial<LinkMessage> & { attributes?: LinkAttributes }): LinkMessage {
  return {
    family: fields.family ?? AF_UNSPEC,
    deviceType: fields.deviceType ?? 0,
    index: fields.index ?? 0,
    flags: fields.flags ?? 0,
    change: fields.change ?? 0,
    attributes: fields.attributes ?? {},
  };
}

/** Encodes the body of a link message (ifinfomsg and attributes). */
export function encodeLink(message: LinkMessage): Buffer {
  const writer = new Writer();
  writeLinkBody(writer, message);
  return writer.toBuffer();
}

function writeLinkBody(writer: Writer, message: LinkMessage): void {
  writer.fixed(ifinfomsg.span, (buffer, offset) =>
    ifinfomsg.encode(
      { family: message.family, pad: 0, type: message.deviceType, index: message.index, flags: message.flags, change: message.change },
      buffer,
      offset,
    ),
  );

  const { linkinfo, ...rest } = message.attributes;
  const values: Record<string, unknown> = { ...rest };
  if (linkinfo) values.linkinfo = encodableLinkInfo(linkinfo);
  encodeAttributes(writer, linkTable, values);
}

// Turns kind-specific data into bytes, because the generic table keeps IFLA_INFO_DATA opaque.
function encodableLinkInfo(info: LinkInfo): Record<string, unknown> {
  const { data, ...rest } = info;
  const values: Record<string, unknown> = { ...rest };
  if (data === undefined) return values;
  if (Buffer.isBuffer(data)) {
    values.data = data;
    return values;
  }

  const writer = new Writer();
  if (info.kind === 'veth') {
    const veth = data as VethInfo;
    const peer = veth.peer;
    if (peer) writer.attribute(VETH_INFO_PEER, (w) => writeLinkBody(w, peer));
    encodeAttributes(writer, vethInfoTable, { unknown: veth.unknown ?? [] });
  } else if (info.kind === 'bridge') {
    encodeAttributes(writer, bridgeInfoTable, data as Record<string, unknown>);
  } else {
    throw new TypeError(`link kind "${info.kind ?? ''}" has no attribute table: pass its IFLA_INFO_DATA as a Buffer`);
  }
  values.data = writer.toBuffer();
  return values;
}

/** Decodes a link message (any of RTM_NEWLINK, RTM_DELLINK). */
export function decodeLink(message: Message): LinkMessage {
  return shiftDecodeErrors(message.payloadOffset, () => decodeLinkBody(message.payload));
}

// `depth` counts nested veth peers, so hostile input cannot recurse without bound.
function decodeLinkBody(body: Buffer, depth = 0): LinkMessage {
  const { fixed, attributesStart } = readFixed(body, ifinfomsg, 'ifinfomsg');
  const attributes = decodeAttributes(body, attributesStart, body.length, linkTable, depth) as LinkAttributes;
  if (attributes.linkinfo) decodeKindData(attributes.linkinfo, body, depth);

  return {
    family: fixed.family,
    deviceType: fixed.type,
    index: fixed.index,
    flags: fixed.flags,
    change: fixed.change,
    attributes,
  };
}

function decodeKindData(info: LinkInfo, body: Buffer, depth: number): void {
  if (!Buffer.isBuffer(info.data)) return;
  const data = info.data;
  // The data is a view into `body`, so offsets within it shift by its position there.
  const base = data.byteOffset - body.byteOffset;

  if (info.kind === 'veth') {
    const veth = decodeAttributes(body, base, base + data.length, vethInfoTable, depth + 2);
    const peer = veth.peer as Buffer | undefined;
    const decoded: VethInfo = {};
    if (peer) decoded.peer = shiftDecodeErrors(peer.byteOffset - body.byteOffset, () => decodeLinkBody(peer, depth + 3));
    if (veth.unknown) decoded.unknown = veth.unknown;
    info.data = decoded;
  } else if (info.kind === 'bridge') {
    info.data = decodeAttributes(body, base, base + data.length, bridgeInfoTable, depth + 2);
  }
}

/** The linkinfo table, exported for tests that hold tables against the kernel's specs. */
export const linkTables = { linkTable, linkInfoTable, vethInfoTable, bridgeInfoTable };
