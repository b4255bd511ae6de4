/**
 * A simulated uplink for a sandbox: the sandbox's root namespace gets `eth0`, addresses and
 * default routes as a server's public NIC would, and the far end of `eth0` lives in a namespace
 * named `internet` that has a "public host" address on its `lo`.
 *
 * The addresses come from the documentation ranges (RFC 5737 and RFC 3849), so they can never
 * leave the sandbox as real traffic. The helper adds no forwarding and no NAT anywhere: those are
 * the product's job. The internet namespace only answers for its own addresses and routes the
 * given client pools back to the sandbox's uplink address.
 */

import type { Sandbox } from './sandbox.js';

/** Name of the namespace, inside the sandbox, that plays the internet. */
export const INTERNET_NAMESPACE = 'internet';

/** Name of the uplink in the sandbox's root namespace, and of its peer in `internet`. */
export const UPLINK = 'eth0';

export interface UplinkFamily {
  /** The server's public address on `eth0` in the sandbox's root namespace. */
  address: string;
  /** Prefix length of the uplink network. */
  prefixLength: number;
  /** The internet side of the uplink, the sandbox's default gateway. */
  gateway: string;
  /** An address on `lo` of the internet namespace, reachable through the gateway. */
  publicHost: string;
}

export interface Internet {
  namespace: string;
  uplink: string;
  ipv4: UplinkFamily;
  ipv6: UplinkFamily;
}

export interface InternetOptions {
  /**
   * Prefixes (IPv4 or IPv6, such as the VPN client pools) that the internet namespace routes back
   * via the sandbox's uplink address, for tests that reach the internet without NAT.
   */
  returnRoutes?: readonly string[];
}

const ADDRESSES: Omit<Internet, 'namespace' | 'uplink'> = {
  ipv4: { address: '198.51.100.2', prefixLength: 24, gateway: '198.51.100.1', publicHost: '203.0.113.10' },
  ipv6: { address: '2001:db8:ffff::2', prefixLength: 64, gateway: '2001:db8:ffff::1', publicHost: '2001:db8:eeee::10' },
};

/** Builds the uplink and the internet namespace inside `sandbox` and returns their addresses. */
export async function buildInternet(sandbox: Sandbox, options: InternetOptions = {}): Promise<Internet> {
  const { ipv4, ipv6 } = ADDRESSES;
  const internet = ['-n', INTERNET_NAMESPACE];

  await sandbox.run(['ip', 'netns', 'add', INTERNET_NAMESPACE]);

  // The root-side commands and the internet-side commands each go through one `ip -batch`. Batch
  // lines take no global options such as -6, so iproute2 infers each family from the addresses.
  // `nodad` makes the IPv6 addresses usable at once instead of after duplicate address detection.
  await ipBatch(sandbox, [], [
    ['link', 'add', UPLINK, 'type', 'veth', 'peer', 'name', UPLINK, 'netns', INTERNET_NAMESPACE],
    ['address', 'add', `${ipv4.address}/${ipv4.prefixLength}`, 'dev', UPLINK],
    ['address', 'add', `${ipv6.address}/${ipv6.prefixLength}`, 'dev', UPLINK, 'nodad'],
    ['link', 'set', UPLINK, 'up'],
    ['route', 'add', 'default', 'via', ipv4.gateway, 'dev', UPLINK],
    ['route', 'add', 'default', 'via', ipv6.gateway, 'dev', UPLINK],
  ]);

  const returnRoutes = (options.returnRoutes ?? []).map((prefix) => {
    const via = prefix.includes(':') ? ipv6.address : ipv4.address;
    return ['route', 'add', prefix, 'via', via, 'dev', UPLINK];
  });
  await ipBatch(sandbox, internet, [
    ['link', 'set', 'lo', 'up'],
    ['address', 'add', `${ipv4.publicHost}/32`, 'dev', 'lo'],
    ['address', 'add', `${ipv6.publicHost}/128`, 'dev', 'lo'],
    ['address', 'add', `${ipv4.gateway}/${ipv4.prefixLength}`, 'dev', UPLINK],
    ['address', 'add', `${ipv6.gateway}/${ipv6.prefixLength}`, 'dev', UPLINK, 'nodad'],
    ['link', 'set', UPLINK, 'up'],
    ...returnRoutes,
  ]);

  return { namespace: INTERNET_NAMESPACE, uplink: UPLINK, ...ADDRESSES };
}

/** Runs `ip [global options] -batch -` inside the sandbox with one command per line. */
async function ipBatch(sandbox: Sandbox, globalOptions: readonly string[], commands: readonly string[][]): Promise<void> {
  const input = commands.map((words) => `${words.join(' ')}\n`).join('');
  await sandbox.run(['ip', ...globalOptions, '-batch', '-'], { input });
}
