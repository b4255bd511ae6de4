import { readdirSync, readFileSync } from 'node:fs';

import test from 'ava';

import { NLM_F_ACK, NLM_F_REQUEST, RTM_NEWLINK } from '../../src/netlink/constants.js';
import type { ChangeRequest } from '../../src/netlink/request.js';
import { RtnlSession } from '../../src/netlink/session.js';
import { addAddressRequest, deleteAddressRequest } from '../../src/ops/addresses.js';
import {
  addLinkRequest,
  addVethPairRequest,
  deleteLinkRequest,
  moveLinkRequest,
  setLinkAliasRequest,
  setLinkMtuRequest,
  setLinkUpRequest,
} from '../../src/ops/links.js';
import { routeRequest } from '../../src/ops/routes.js';
import { ruleRequest } from '../../src/ops/rules.js';
import { ackFor, FakeTransport } from './helpers/fake-transport.js';

// Each fixture contains what iproute2 sent for one command (scripts/capture-wire-fixtures.mjs).
// Our request for the same change must carry the same message type, flags, fixed struct and
// attributes with the same values. Two things are not compared:
// - nlmsg_seq and nlmsg_pid, which each sender picks;
// - the order of attributes within one level. The kernel indexes them by type (nla_parse),
//   and iproute2's order follows the words of its command line.

interface WireFixture {
  name: string;
  command: string;
  links: Record<string, number>;
  peerPid?: number;
  messages: string[];
}

// Tests run from dist/test/netlink; the fixtures stay in the source tree.
const FIXTURE_DIRECTORY = new URL('../../../test/fixtures/wire/', import.meta.url);

const fixtures: WireFixture[] = readdirSync(FIXTURE_DIRECTORY)
  .filter((file) => file.endsWith('.json'))
  .map((file) => JSON.parse(readFileSync(new URL(file, FIXTURE_DIRECTORY), 'utf8')) as WireFixture);

const IFLA_NET_NS_FD = 28;
const IFLA_LINKINFO = 18;
const IFLA_INFO_DATA = 2;
const VETH_INFO_PEER = 1;
const RTA_METRICS = 8;
const NLA_F_NESTED = 0x8000;
const NLA_TYPE_MASK = 0x3fff;

/** Sizes of the fixed struct after the header, by message type (ifinfomsg, ifaddrmsg, rtmsg, fib_rule_hdr). */
const FIXED_SIZES: Record<number, number> = { 16: 16, 17: 16, 19: 16, 20: 8, 21: 8, 24: 12, 25: 12, 32: 12, 33: 12 };

/** One attribute as sent: the type with its flag bits, the payload, and the parsed children of a nest. */
interface WireAttribute {
  type: number;
  payload: Buffer;
  /** For a veth peer: the ifinfomsg before the peer's attributes. */
  fixed?: Buffer;
  children?: WireAttribute[];
}

interface WireMessage {
  length: number;
  type: number;
  flags: number;
  fixed: Buffer;
  attributes: WireAttribute[];
}

/** Returns what the attribute at `path` (attribute numbers below a message type) contains. */
function nestKind(messageType: number, path: number[]): 'attributes' | 'link-body' | null {
  const key = path.join('/');
  if (messageType >= 16 && messageType <= 19) {
    if (key === `${IFLA_LINKINFO}` || key === `${IFLA_LINKINFO}/${IFLA_INFO_DATA}`) return 'attributes';
    // VETH_INFO_PEER contains a whole link body: an ifinfomsg, then IFLA_* attributes.
    if (key === `${IFLA_LINKINFO}/${IFLA_INFO_DATA}/${VETH_INFO_PEER}`) return 'link-body';
  }
  if (messageType >= 24 && messageType <= 26 && key === `${RTA_METRICS}`) return 'attributes';
  return null;
}

function parseAttributes(buffer: Buffer, messageType: number, path: number[]): WireAttribute[] {
  const attributes: WireAttribute[] = [];
  for (let offset = 0; buffer.length - offset >= 4; ) {
    const length = buffer.readUInt16LE(offset);
    if (length < 4 || offset + length > buffer.length) throw new Error(`bad attribute length ${length} at ${offset} below ${path.join('/')}`);
    const type = buffer.readUInt16LE(offset + 2);
    const payload = buffer.subarray(offset + 4, offset + length);
    const attribute: WireAttribute = { type, payload };

    const childPath = [...path, type & NLA_TYPE_MASK];
    const kind = nestKind(messageType, childPath);
    if (kind === 'attributes') attribute.children = parseAttributes(payload, messageType, childPath);
    if (kind === 'link-body') {
      attribute.fixed = payload.subarray(0, 16);
      attribute.children = parseAttributes(payload.subarray(16), RTM_NEWLINK, []);
    }
    attributes.push(attribute);
    offset += (length + 3) & ~3;
  }
  return attributes;
}

function parseMessage(datagram: Buffer): WireMessage {
  const length = datagram.readUInt32LE(0);
  const type = datagram.readUInt16LE(4);
  const fixedSize = FIXED_SIZES[type];
  if (fixedSize === undefined) throw new Error(`no fixed size known for message type ${type}`);
  return {
    length,
    type,
    flags: datagram.readUInt16LE(6),
    fixed: datagram.subarray(16, 16 + fixedSize),
    attributes: parseAttributes(datagram.subarray(16 + fixedSize, length), type, []),
  };
}

/** Lists every difference between two attribute lists, compared by type whatever their order. */
function attributeDifferences(ours: WireAttribute[], theirs: WireAttribute[], where: string): string[] {
  const sorted = (list: WireAttribute[]) => [...list].sort((a, b) => (a.type & NLA_TYPE_MASK) - (b.type & NLA_TYPE_MASK));
  const a = sorted(ours);
  const b = sorted(theirs);
  const differences: string[] = [];

  const typesOf = (list: WireAttribute[]) => list.map((attribute) => attribute.type & NLA_TYPE_MASK).join(',');
  if (typesOf(a) !== typesOf(b)) return [`${where}: attributes ${typesOf(a)} (ours) vs ${typesOf(b)} (iproute2)`];

  a.forEach((attribute, index) => {
    const other = b[index]!;
    const at = `${where}/${attribute.type & NLA_TYPE_MASK}`;
    if ((attribute.type & NLA_F_NESTED) !== (other.type & NLA_F_NESTED)) {
      differences.push(`${at}: NLA_F_NESTED ${attribute.type & NLA_F_NESTED ? 'set' : 'clear'} (ours) vs ${other.type & NLA_F_NESTED ? 'set' : 'clear'} (iproute2)`);
    }
    if (attribute.fixed && !attribute.fixed.equals(other.fixed ?? Buffer.alloc(0))) {
      differences.push(`${at}: ifinfomsg ${attribute.fixed.toString('hex')} (ours) vs ${other.fixed?.toString('hex')} (iproute2)`);
    }
    if (attribute.children && other.children) {
      differences.push(...attributeDifferences(attribute.children, other.children, at));
    } else if (!attribute.payload.equals(other.payload)) {
      differences.push(`${at}: ${attribute.payload.toString('hex')} (ours) vs ${other.payload.toString('hex')} (iproute2)`);
    }
  });
  return differences;
}

/** Returns the IFLA_NET_NS_FD value iproute2 sent, at the top level or in a veth peer. */
function capturedNamespaceFd(fixture: WireFixture): number {
  const find = (attributes: WireAttribute[]): number | undefined => {
    for (const attribute of attributes) {
      if ((attribute.type & NLA_TYPE_MASK) === IFLA_NET_NS_FD) return attribute.payload.readUInt32LE(0);
      const inside = attribute.children ? find(attribute.children) : undefined;
      if (inside !== undefined) return inside;
    }
    return undefined;
  };
  const fd = find(parseMessage(Buffer.from(fixture.messages[0] ?? '', 'hex')).attributes);
  if (fd === undefined) throw new Error(`${fixture.name}: iproute2 sent no IFLA_NET_NS_FD`);
  return fd;
}

function index(fixture: WireFixture, name: string): number {
  const value = fixture.links[name];
  if (value === undefined) throw new Error(`${fixture.name}: no link ${name} in the capture`);
  return value;
}

function peerPid(fixture: WireFixture): number {
  if (fixture.peerPid === undefined) throw new Error(`${fixture.name}: the capture has no peer pid`);
  return fixture.peerPid;
}

const VETH = { name: 'va', peerName: 'vb' };

/**
 * Our request for each captured command. An fd is meaningful only in the process that sends
 * it, so the veth and move cases take the number `ip` happened to open.
 */
const OURS: Record<string, (fixture: WireFixture) => ChangeRequest> = {
  'link-add-veth': () => addVethPairRequest(VETH),
  'link-add-veth-peer-netns-fd': (f) => addVethPairRequest(VETH, { netNsFd: capturedNamespaceFd(f) }),
  'link-add-veth-peer-netns-pid': (f) => addVethPairRequest(VETH, { netNsPid: peerPid(f) }),
  'link-add-bridge': () => addLinkRequest('br0', 'bridge'),
  'link-set-up': (f) => setLinkUpRequest({ name: 'br0', index: index(f, 'br0') }),
  'link-set-mtu': (f) => setLinkMtuRequest({ name: 'br0', index: index(f, 'br0') }, 1400),
  'link-set-alias': (f) => setLinkAliasRequest({ name: 'br0', index: index(f, 'br0') }, 'algo-netns'),
  'link-set-netns-fd': (f) => moveLinkRequest({ name: 'va', index: index(f, 'va') }, { netNsFd: capturedNamespaceFd(f) }),
  'link-set-netns-pid': (f) => moveLinkRequest({ name: 'va', index: index(f, 'va') }, { netNsPid: peerPid(f) }),
  'link-delete': (f) => deleteLinkRequest({ name: 'br0', index: index(f, 'br0') }),

  'address-add-v4': (f) => addAddressRequest(index(f, 'br0'), '10.49.0.1/16'),
  'address-add-v6': (f) => addAddressRequest(index(f, 'br0'), '2001:db8:a160::1/48'),
  'address-add-v6-nodad': (f) => addAddressRequest(index(f, 'br0'), '2001:db8:a160::1/48', { noDad: true }),
  'address-delete-v4': (f) => deleteAddressRequest(index(f, 'br0'), '10.49.0.1/16'),
  'address-delete-v6': (f) => deleteAddressRequest(index(f, 'br0'), '2001:db8:a160::1/48'),

  'route-add-v4-gateway': (f) => routeRequest('add', { destination: '198.51.100.0/24', gateway: '192.0.2.2', device: 'br0' }, index(f, 'br0')),
  'route-add-v4-device-table-metric': (f) =>
    routeRequest('add', { destination: '203.0.113.0/24', device: 'br0', table: 100, metric: 10 }, index(f, 'br0')),
  'route-add-v4-unreachable': () => routeRequest('add', { destination: '10.0.0.0/8', type: 'unreachable' }),
  'route-add-v4-prohibit-table-1000': () => routeRequest('add', { destination: '10.1.0.0/16', type: 'prohibit', table: 1000 }),
  'route-add-v4-blackhole-metric': () => routeRequest('add', { destination: '10.2.0.0/16', type: 'blackhole', metric: 5 }),
  'route-add-v4-default-protocol': (f) =>
    routeRequest('add', { destination: 'default', family: 4, gateway: '192.0.2.2', device: 'br0', protocol: 245 }, index(f, 'br0')),
  'route-add-v6-default': (f) => routeRequest('add', { destination: 'default', family: 6, gateway: '2001:db8:1::2', device: 'br0' }, index(f, 'br0')),
  'route-add-v6-device-table-metric': (f) =>
    routeRequest('add', { destination: '2001:db8:7::/64', device: 'br0', table: 100, metric: 10 }, index(f, 'br0')),
  'route-add-v6-unreachable-table': () => routeRequest('add', { destination: '2001:db8:ffff::/48', type: 'unreachable', table: 100 }),
  'route-replace-v4-gateway': (f) =>
    routeRequest('replace', { destination: '198.51.100.0/24', gateway: '192.0.2.3', device: 'br0' }, index(f, 'br0')),
  'route-replace-v6-metric': (f) =>
    routeRequest('replace', { destination: '2001:db8:5::/64', gateway: '2001:db8:1::3', device: 'br0', metric: 300 }, index(f, 'br0')),
  // removeRoute names a route by destination, table, type and metric (the default metric
  // when the spec has none), so the matching command spells them all out.
  'route-delete-v4': () => routeRequest('delete', { destination: '198.51.100.0/24', gateway: '192.0.2.2', device: 'br0' }),
  'route-delete-v4-table-1000': () => routeRequest('delete', { destination: '10.1.0.0/16', type: 'prohibit', table: 1000 }),
  'route-delete-v6': () => routeRequest('delete', { destination: 'default', family: 6, gateway: '2001:db8:1::2', device: 'br0' }),

  'rule-add-v4-prohibit': () =>
    ruleRequest('add', { family: 4, priority: 100, from: '10.49.0.0/16', to: '10.48.0.0/16', action: 'prohibit', protocol: 245 }),
  'rule-add-v4-lookup-iif': () => ruleRequest('add', { family: 4, priority: 101, iif: 'lo', action: 'lookup', table: 1000 }),
  'rule-add-v4-lookup-main': () => ruleRequest('add', { family: 4, priority: 102, to: '10.62.0.0/16', oif: 'lo', action: 'lookup' }),
  'rule-add-v6-unreachable': () => ruleRequest('add', { family: 6, priority: 100, from: '2001:db8:a160::/48', action: 'unreachable' }),
  'rule-delete-v4-prohibit': () =>
    ruleRequest('delete', { family: 4, priority: 100, from: '10.49.0.0/16', to: '10.48.0.0/16', action: 'prohibit', protocol: 245 }),
  'rule-delete-v6-unreachable': () => ruleRequest('delete', { family: 6, priority: 100, from: '2001:db8:a160::/48', action: 'unreachable' }),
};

/** Sends `request` through a session, as the ops do, and returns the datagram it wrote. */
async function sentBySession(request: ChangeRequest): Promise<Buffer> {
  const transport = new FakeTransport();
  const session = new RtnlSession(transport, { log: null });
  const change = session.applyChange(request, 'wire comparison');
  const sent = await transport.nextRequest();
  transport.deliver(ackFor(sent));
  await change;
  await session.close();
  return sent.datagram;
}

test('fixtures cover every builder case', (t) => {
  t.deepEqual(fixtures.map((fixture) => fixture.name).sort(), Object.keys(OURS).sort());
});

for (const fixture of fixtures) {
  test(`${fixture.name} matches iproute2`, async (t) => {
    const build = OURS[fixture.name];
    if (!build) {
      t.fail(`no builder case for the fixture ${fixture.name} (${fixture.command})`);
      return;
    }
    t.is(fixture.messages.length, 1, `${fixture.command}: one change request`);

    const theirs = parseMessage(Buffer.from(fixture.messages[0] ?? '', 'hex'));
    const ours = parseMessage(await sentBySession(build(fixture)));

    t.is(ours.type, theirs.type, 'message type');
    t.is(ours.flags, theirs.flags, 'nlmsg_flags');
    t.true((ours.flags & (NLM_F_REQUEST | NLM_F_ACK)) === (NLM_F_REQUEST | NLM_F_ACK), 'request with acknowledgement');
    t.is(ours.fixed.toString('hex'), theirs.fixed.toString('hex'), 'fixed struct');
    t.deepEqual(attributeDifferences(ours.attributes, theirs.attributes, ''), [], fixture.command);
    t.is(ours.length, theirs.length, 'nlmsg_len');
  });
}
