/**
 * Seeded random network states for the differential tests: links of several kinds, IPv4 and
 * IPv6 addresses with flags and lifetimes, routes of several types in several tables, and
 * policy rules, written as `ip -batch` lines. The same seed gives the same lines.
 */

/** Mulberry32: a small 32-bit generator returning floats in [0, 1). Not for cryptography. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/**
 * Returns the seed from ALGO_NETNS_SEED (an integer replays a run), or a new random one.
 * Throws for a value that is not an integer from 0 to 2^32 - 1.
 */
export function seedFromEnvironment(environment: NodeJS.ProcessEnv = process.env): number {
  const value = environment['ALGO_NETNS_SEED'];
  if (value === undefined || value === '') return Math.floor(Math.random() * 0x1_0000_0000);
  const seed = Number(value);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
    throw new Error(`ALGO_NETNS_SEED must be an integer from 0 to 4294967295, got "${value}"`);
  }
  return seed;
}

/** Kinds beyond veth and bridge that the kernel may lack; the caller probes them. */
export interface StateFeatures {
  macvlan: boolean;
  tap: boolean;
}

interface Link {
  name: string;
  up: boolean;
  /** The other end, for a veth: the link has carrier when both ends are up. */
  peer?: string;
  /** IPv4 addresses with a prefix route, usable for gateways: [address, prefix length]. */
  subnets4: [number, number][];
  /** IPv6 /64 prefixes (first four groups) with a prefix route. */
  prefixes6: string[];
  addresses4: string[];
}

export interface RandomState {
  /** `ip -batch` lines that make the links and addresses, without the leading "ip". */
  commands: string[];
  /**
   * `ip -batch` lines that add routes and IPv4 rules. The kernel checks an IPv6 gateway
   * against the routes of links with carrier, and a veth gets its operational state a moment
   * after both ends are up, so these run once the links have settled.
   */
  routeCommands: string[];
  /**
   * IPv6 rules, for a second `ip -6 -batch` run after `commands`: a batch line cannot carry
   * -6, and `ip rule` reads an IPv6 prefix only in an IPv6 run.
   */
  commands6: string[];
  /** Counts of what the lines make, for logs. */
  counts: { links: number; addresses: number; routes: number; rules: number };
}

class Picker {
  constructor(private readonly random: () => number) {}

  /** Returns an integer in [low, high]. */
  integer(low: number, high: number): number {
    return low + Math.floor(this.random() * (high - low + 1));
  }

  chance(probability: number): boolean {
    return this.random() < probability;
  }

  one<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.random() * items.length)];
    if (item === undefined) throw new Error('cannot pick from an empty list');
    return item;
  }
}

function ipv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

function mask(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
}

/** Returns "A.B.C.D/LENGTH" with the host bits of `address` cleared, as the kernel requires. */
function prefix4(address: number, length: number): string {
  return `${ipv4((address & mask(length)) >>> 0)}/${length}`;
}

/** Generates one random state. Every name and prefix is unique within it, so no line should fail. */
export function randomState(random: () => number, features: StateFeatures): RandomState {
  const pick = new Picker(random);
  const commands: string[] = [];
  const routeCommands: string[] = [];
  const commands6: string[] = [];
  const links: Link[] = [{ name: 'lo', up: false, subnets4: [], prefixes6: [], addresses4: [] }];
  const counts = { links: 0, addresses: 0, routes: 0, rules: 0 };

  addLinks(pick, commands, links, features, counts);
  addAddresses(pick, commands, links, counts);
  // Links come up after their addresses, so that some prefix routes exist and some do not.
  for (const link of links) {
    link.up = link.name === 'lo' ? pick.chance(0.8) : pick.chance(0.75);
    if (link.up) commands.push(`link set dev ${link.name} up`);
  }
  addRoutes(pick, routeCommands, links, counts);
  addRules(pick, routeCommands, commands6, links, counts);
  return { commands, routeCommands, commands6, counts };
}

function addLinks(pick: Picker, commands: string[], links: Link[], features: StateFeatures, counts: RandomState['counts']): void {
  const bridges: string[] = [];
  for (let i = 0; i < pick.integer(0, 2); i++) {
    const name = `br${i}`;
    const options: string[] = [];
    if (pick.chance(0.5)) options.push(`stp_state ${pick.integer(0, 1)}`);
    if (pick.chance(0.5)) options.push(`forward_delay ${pick.integer(200, 3000)}`);
    if (pick.chance(0.5)) options.push(`hello_time ${pick.integer(100, 1000)}`);
    if (pick.chance(0.5)) options.push(`max_age ${pick.integer(600, 4000)}`);
    if (pick.chance(0.5)) options.push(`ageing_time ${pick.integer(1000, 100000)}`);
    if (pick.chance(0.5)) options.push(`priority ${pick.integer(0, 65535)}`);
    if (pick.chance(0.3)) options.push(`mcast_snooping ${pick.integer(0, 1)}`);
    if (pick.chance(0.3)) options.push(`mcast_querier ${pick.integer(0, 1)}`);
    if (pick.chance(0.3)) options.push(`mcast_hash_max ${pick.one([512, 1024, 4096])}`);
    if (pick.chance(0.3)) options.push(`group_fwd_mask ${pick.one([0, 8, 0x4000])}`);
    if (pick.chance(0.3)) options.push(`vlan_protocol ${pick.one(['802.1Q', '802.1ad'])}`);
    if (pick.chance(0.3)) options.push(`mcast_igmp_version ${pick.integer(2, 3)}`);
    if (pick.chance(0.3)) options.push(`nf_call_iptables ${pick.integer(0, 1)}`);
    commands.push(['link add', name, 'type bridge', ...options].join(' '));
    bridges.push(name);
    links.push(newLink(name));
  }

  for (let i = 0; i < pick.integer(1, 4); i++) {
    const [near, far] = [`v${i}`, `p${i}`];
    commands.push(`link add ${near} type veth peer name ${far}`);
    links.push({ ...newLink(near), peer: far }, { ...newLink(far), peer: near });
    if (bridges.length > 0 && pick.chance(0.5)) commands.push(`link set dev ${far} master ${pick.one(bridges)}`);
    if (pick.chance(0.4)) commands.push(`link set dev ${near} mtu ${pick.one([1280, 1400, 1420, 9000, pick.integer(1280, 9000)])}`);
    if (pick.chance(0.3)) commands.push(`link set dev ${near} txqlen ${pick.integer(0, 5000)}`);
    if (pick.chance(0.3)) commands.push(`link set dev ${near} alias alias-of-${near}`);
    if (pick.chance(0.3)) commands.push(`link set dev ${near} address 02:00:00:00:${i.toString(16).padStart(2, '0')}:${pick.integer(16, 255).toString(16)}`);
  }

  if (features.macvlan && pick.chance(0.5)) {
    commands.push(`link add mv0 link v0 type macvlan mode ${pick.one(['bridge', 'private', 'vepa', 'passthru'])}`);
    links.push(newLink('mv0'));
  }
  if (features.tap && pick.chance(0.4)) {
    commands.push('tuntap add dev tap0 mode tap');
    links.push(newLink('tap0'));
  }
  counts.links = links.length;
}

function newLink(name: string): Link {
  return { name, up: false, subnets4: [], prefixes6: [], addresses4: [] };
}

function addAddresses(pick: Picker, commands: string[], links: Link[], counts: RandomState['counts']): void {
  links.forEach((link, linkNumber) => {
    for (let j = 0; j < pick.integer(0, 4); j++) {
      // No /8: it would overlap the subnets of other links, and gateways would resolve elsewhere.
      const length = pick.one([16, 24, 25, 30, 32]);
      // 10.<link>.<j>.x: unique per link and address, whatever the prefix length.
      const base = ((10 << 24) | ((linkNumber + 1) << 16) | ((j + 1) << 8)) >>> 0;
      const address = base + pick.integer(1, 2);
      const options: string[] = [];
      const prefixRoute = !pick.chance(0.2);
      if (!prefixRoute) options.push('noprefixroute');
      if (pick.chance(0.3)) options.push(...lifetimes(pick));
      if (pick.chance(0.3) && link.name !== 'lo') options.push(`label ${link.name}:${j}`);
      if (pick.chance(0.3) && length <= 30) options.push('brd +');
      commands.push(`address add ${ipv4(address)}/${length} dev ${link.name} ${options.join(' ')}`.trim());
      counts.addresses++;
      link.addresses4.push(ipv4(address));
      if (prefixRoute && length <= 30) link.subnets4.push([address, length]);

      // A second address in the same subnet becomes a secondary one.
      if (pick.chance(0.2) && length <= 30) {
        commands.push(`address add ${ipv4(address + 1)}/${length} dev ${link.name}`);
        link.addresses4.push(ipv4(address + 1));
        counts.addresses++;
      }
    }

    for (let j = 0; j < pick.integer(0, 3); j++) {
      const length = pick.one([48, 64, 64, 80, 128]);
      const prefix = `2001:db8:${(linkNumber + 1).toString(16)}:${(j + 1).toString(16)}`;
      const options: string[] = [];
      const noPrefixRoute = pick.chance(0.2);
      if (noPrefixRoute) options.push('noprefixroute');
      if (pick.chance(0.5)) options.push('nodad');
      // Seen on Linux 6.18: an IPv6 address with lifetimes, added while its link is down,
      // has no prefix route once the link is up, so only permanent ones serve gateways.
      const permanent = !pick.chance(0.3);
      if (!permanent) options.push(...lifetimes(pick));
      if (pick.chance(0.1)) options.push('home');
      if (pick.chance(0.2) && length === 64) options.push('mngtmpaddr');
      commands.push(`address add ${prefix}::${pick.integer(1, 0xfff).toString(16)}/${length} dev ${link.name} ${options.join(' ')}`.trim());
      counts.addresses++;
      if (!noPrefixRoute && permanent && length === 64) link.prefixes6.push(prefix);
    }
  });
}

// Long enough that nothing expires or turns deprecated while a test runs.
function lifetimes(pick: Picker): string[] {
  const valid = pick.integer(600, 100000);
  return ['valid_lft', String(valid), 'preferred_lft', String(pick.integer(300, valid))];
}

function addRoutes(pick: Picker, commands: string[], links: Link[], counts: RandomState['counts']): void {
  const tables = ['main', '100', '200', '1000', '4000000'];
  const upLinks = links.filter((link) => link.up && link.name !== 'lo');

  for (let k = 0; k < pick.integer(0, 12); k++) {
    const family = pick.chance(0.6) ? 4 : 6;
    const length = family === 4 ? pick.one([16, 24, 28, 32]) : pick.one([48, 64, 96, 128]);
    const destination = family === 4 ? prefix4(((172 << 24) | ((16 + k) << 16)) >>> 0, length) : `2001:db8:f${k.toString(16)}::/${length}`;
    // `ip -batch` takes no -4 or -6; the destination sets the family.
    const words: string[] = ['route add'];

    const kinds = ['unreachable', 'prohibit', 'blackhole', 'throw'];
    // The kernel checks an IPv6 gateway (ip6_route_check_nh), which fails on a link without
    // carrier; a veth has carrier when both ends are up.
    const gatewayLinks = upLinks.filter((link) => (family === 4 ? link.subnets4.length > 0 : link.prefixes6.length > 0 && hasCarrier(link, links)));
    if (upLinks.length > 0) kinds.push('dev');
    if (gatewayLinks.length > 0) kinds.push('via', 'via');
    const kind = pick.one(kinds);

    if (kind === 'dev') {
      const link = pick.one(upLinks);
      words.push(destination, 'dev', link.name);
      if (family === 4 && link.addresses4.length > 0 && pick.chance(0.3)) words.push('src', pick.one(link.addresses4));
    } else if (kind === 'via') {
      const link = pick.one(gatewayLinks);
      words.push(destination, 'via', gatewayOn(pick, link, family), 'dev', link.name);
      if (pick.chance(0.2)) words.push('onlink');
    } else {
      words.push(kind, destination);
    }
    words.push('table', pick.one(tables));
    if (pick.chance(0.5)) words.push('metric', String(pick.integer(1, 5000)));
    if (pick.chance(0.5)) words.push('proto', pick.one(['static', 'boot', '245', '99', 'kernel']));
    commands.push(words.join(' '));
    counts.routes++;
  }
}

function hasCarrier(link: Link, links: readonly Link[]): boolean {
  return link.up && links.some((other) => other.name === link.peer && other.up);
}

function gatewayOn(pick: Picker, link: Link, family: 4 | 6): string {
  if (family === 6) return `${pick.one(link.prefixes6)}::${pick.integer(0x1000, 0xffff).toString(16)}`;
  const [address, length] = pick.one(link.subnets4);
  const network = (address & mask(length)) >>> 0;
  const hosts = 2 ** (32 - length) - 2;
  // Any host of the subnet but the address itself.
  let gateway = network + pick.integer(1, Math.max(1, hosts));
  if (gateway === address) gateway = gateway === network + 1 ? network + 2 : network + 1;
  return ipv4(gateway >>> 0);
}

function addRules(pick: Picker, commands: string[], commands6: string[], links: Link[], counts: RandomState['counts']): void {
  const priorities = new Set<number>();
  for (let k = 0; k < pick.integer(0, 8); k++) {
    const family = pick.chance(0.6) ? 4 : 6;
    let priority = pick.integer(1, 32000);
    while (priorities.has(priority)) priority++;
    priorities.add(priority);

    const words: string[] = ['rule add', 'priority', String(priority)];
    const from = pick.chance(0.5);
    const to = pick.chance(0.4);
    if (from) words.push('from', family === 4 ? prefix4(((10 << 24) | ((200 + k) << 16)) >>> 0, pick.one([8, 16, 24, 32])) : `2001:db8:e${k}::/${pick.one([48, 64, 128])}`);
    if (to) words.push('to', family === 4 ? prefix4(((192 << 24) | (168 << 16) | (k << 8)) >>> 0, pick.one([16, 24, 32])) : `2001:db8:d${k}::/${pick.one([48, 64])}`);
    if (pick.chance(0.3)) words.push('iif', pick.one(links).name);
    if (pick.chance(0.3)) words.push('oif', pick.one(links).name);
    if (pick.chance(0.3)) words.push('fwmark', `0x${pick.integer(1, 0xffff).toString(16)}${pick.chance(0.5) ? `/0x${pick.integer(1, 0xffff).toString(16)}` : ''}`);
    words.push(...pick.one([['lookup', pick.one(['main', '100', '1000', '5000'])], ['prohibit'], ['unreachable'], ['blackhole']]));
    if (pick.chance(0.5)) words.push('protocol', pick.one(['static', 'boot', '245', 'kernel']));
    (family === 4 ? commands : commands6).push(words.join(' '));
    counts.rules++;
  }
}
