/**
 * Loads the kernel replies that scripts/capture-netlink-fixtures.mjs captured, with the
 * `ip -j -d` output taken at the same moment.
 */
import { readFileSync } from 'node:fs';

/** One request and every datagram the kernel sent back for it. */
export interface CapturedExchange {
  name: string;
  request: Buffer;
  replies: Buffer[];
}

/** The `ip -j -d` views, as parsed JSON. */
export interface IpViews {
  link: IpLink[];
  address: IpLink[];
  route4: IpRoute[];
  route6: IpRoute[];
  rule4: IpRule[];
  rule6: IpRule[];
}

export interface IpLink {
  ifindex: number;
  ifname: string;
  link?: string;
  master?: string;
  flags: string[];
  mtu: number;
  operstate: string;
  txqlen?: number;
  link_type: string;
  address?: string;
  broadcast?: string;
  promiscuity?: number;
  min_mtu?: number;
  max_mtu?: number;
  num_tx_queues?: number;
  num_rx_queues?: number;
  gso_max_size?: number;
  gso_max_segs?: number;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_data?: Record<string, unknown> };
  addr_info?: IpAddress[];
}

export interface IpAddress {
  family: 'inet' | 'inet6';
  local: string;
  prefixlen: number;
  broadcast?: string;
  scope: string;
  label?: string;
  nodad?: boolean;
  valid_life_time: number;
  preferred_life_time: number;
}

export interface IpRoute {
  type: string;
  dst: string;
  gateway?: string;
  dev?: string;
  table: string;
  protocol: string;
  scope: string;
  prefsrc?: string;
  metric?: number;
}

export interface IpRule {
  priority: number;
  src: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  table?: string;
  action?: string;
  fwmark?: string;
  fwmask?: string;
  protocol: string;
}

export interface NetlinkFixture {
  kernel: string;
  iproute2: string;
  setup: string[];
  exchanges: CapturedExchange[];
  ip: IpViews;
}

interface RawFixture extends Omit<NetlinkFixture, 'exchanges'> {
  exchanges: { name: string; request: string; replies: string[] }[];
}

// Tests run from dist/test/netlink; the fixtures stay in the source tree.
const FIXTURE_DIRECTORY = new URL('../../../../test/fixtures/netlink/', import.meta.url);

/** Reads a fixture file written by the capture script. */
export function loadFixture(fileName = 'namespace-state.json'): NetlinkFixture {
  const raw = JSON.parse(readFileSync(new URL(fileName, FIXTURE_DIRECTORY), 'utf8')) as RawFixture;
  return {
    ...raw,
    exchanges: raw.exchanges.map((exchange) => ({
      name: exchange.name,
      request: Buffer.from(exchange.request, 'hex'),
      replies: exchange.replies.map((hex) => Buffer.from(hex, 'hex')),
    })),
  };
}

/** The exchange called `name`; throws if the fixture lacks it. */
export function exchangeOf(fixture: NetlinkFixture, name: string): CapturedExchange {
  const exchange = fixture.exchanges.find((each) => each.name === name);
  if (!exchange) throw new Error(`fixture has no exchange "${name}"; it has ${fixture.exchanges.map((each) => each.name).join(', ')}`);
  return exchange;
}
