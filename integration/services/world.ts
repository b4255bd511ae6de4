/**
 * A sandbox with the whole service topology up and the real daemons around it, for the service
 * tests: the simulated uplink and internet namespace, the server's wireguard-go adopted by
 * `algo-netns up` with keys from an Algo-style wg0.conf, an upstream dnsmasq in the internet
 * namespace that answers a test name, and dnsmasq in the DNS namespace forwarding to it.
 *
 * The internet namespace gets no routes back to the client pools or transit networks, so every
 * reply from the internet to a client or service namespace depends on the product's egress NAT.
 */
import type { ExecutionContext } from 'ava';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { runCli } from '../cli.js';
import { buildInternet, INTERNET_NAMESPACE, type Internet } from '../internet.js';
import { type Daemon, probeProgram, probeTun, type RunResult, Sandbox, sandboxFor, waitFor } from '../sandbox.js';
import { configureWireguard, generateKeyPair, startWireguardGo, type KeyPair } from '../wireguard-go.js';

/** A name that only the upstream dnsmasq in the internet namespace has a record for. */
export const TEST_NAME = 'www.algo-netns.test';

/** Port of the TCP servers that tcp-tool.js runs. */
export const TCP_PORT = 8080;

/** The DNS namespace's service address and the WireGuard server's address, as configured by default. */
export const DNS_ADDRESS = '172.16.0.1';
export const DNS_ADDRESS6 = 'fd00::1';
export const WIREGUARD_SERVER_ADDRESS = '10.49.0.1';
export const WIREGUARD_CLIENT_ADDRESS = '10.49.0.2';
export const WIREGUARD_SERVER_ADDRESS6 = '2001:db8:a160::1';
export const WIREGUARD_CLIENT_ADDRESS6 = '2001:db8:a160::2';

/** Transit addresses of the default topology: the namespace side of each /30. */
export const TRANSIT = { wireguard: '10.47.255.2', strongswan: '10.47.255.6', dns: '10.47.255.10', wireguardRoot: '10.47.255.1' } as const;

export const TCP_TOOL = fileURLToPath(new URL('./tcp-tool.js', import.meta.url));

/** Programs every service test needs, besides TUN devices. */
const BASE_PROGRAMS = ['wireguard-go', 'wg', 'nft', 'dnsmasq', 'dig', 'nsenter'];

/** Resolves with null when everything the service tests need is here, else with the reason to skip. */
export async function probeServiceTools(extraPrograms: readonly string[] = []): Promise<string | null> {
  for (const program of [...BASE_PROGRAMS, ...extraPrograms]) {
    const missing = await probeProgram(program);
    if (missing !== null) return missing;
  }
  return probeTun();
}

export interface WorldOptions {
  /** Extra `[Interface]` lines of the server's wg0.conf (MTU, say). */
  interfaceLines?: readonly string[];
  /** Extra lines of the algo-netns YAML configuration. */
  configLines?: readonly string[];
  /** Runs after the uplink exists and before `up`. */
  beforeUp?: (sandbox: Sandbox) => Promise<void>;
}

export interface World {
  sandbox: Sandbox;
  internet: Internet;
  /** Temporary folder of this test's files; removed at teardown. */
  folder: string;
  configPath: string;
  serverKeys: KeyPair;
  clientKeys: KeyPair;
  /** The first `algo-netns up`. */
  up: RunResult;
}

/** Builds the sandbox, runs `up`, and starts both dnsmasq servers. Registers teardown with `t`. */
export async function buildWorld(t: ExecutionContext, options: WorldOptions = {}): Promise<World> {
  const folder = await mkdtemp(join(tmpdir(), 'algo-netns-services-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  const sandbox = await sandboxFor(t);

  const internet = await buildInternet(sandbox);
  await startWireguardGo(sandbox, 'wg0');
  const serverKeys = await generateKeyPair();
  const clientKeys = await generateKeyPair();

  // As Algo writes it: wg-quick keys that `wg setconf` would reject sit beside the real ones.
  const wgConf = [
    '[Interface]',
    'Address = 10.49.0.1/16, 2001:db8:a160::1/48',
    'ListenPort = 51820',
    `PrivateKey = ${serverKeys.privateKey}`,
    'SaveConfig = false',
    `DNS = ${DNS_ADDRESS}`,
    'PostUp = echo this line is for wg-quick only',
    ...(options.interfaceLines ?? []),
    '',
    '# the test client',
    '[Peer]',
    `PublicKey = ${clientKeys.publicKey}`,
    `AllowedIPs = ${WIREGUARD_CLIENT_ADDRESS}/32, ${WIREGUARD_CLIENT_ADDRESS6}/128`,
    '',
  ].join('\r\n');
  const wgConfPath = join(folder, 'wg0.conf');
  await writeFile(wgConfPath, wgConf, { mode: 0o600 });

  const configPath = join(folder, 'algo-netns.yaml');
  await writeFile(configPath, ['wireguard:', '  adoptInterface: wg0', `  configFile: ${wgConfPath}`, ...(options.configLines ?? []), ''].join('\n'));
  await chmod(configPath, 0o644);

  await options.beforeUp?.(sandbox);
  const up = await runCli(sandbox, ['up', '--config', configPath]);
  if (up.code !== 0) throw new Error(`algo-netns up failed with code ${up.code}: ${up.stderr}\n${up.stdout}`);

  await startDnsmasq(sandbox, INTERNET_NAMESPACE, [internet.ipv4.publicHost], [`--host-record=${TEST_NAME},${internet.ipv4.publicHost}`]);
  await startDnsmasq(sandbox, 'dns-ns', [DNS_ADDRESS, DNS_ADDRESS6], [`--server=${internet.ipv4.publicHost}`]);

  return { sandbox, internet, folder, configPath, serverKeys, clientKeys, up };
}

/**
 * Starts dnsmasq in the foreground in `namespace`, listening on `addresses` only, with no
 * configuration file, no /etc/hosts and no resolv.conf, and waits until it replies.
 */
export async function startDnsmasq(sandbox: Sandbox, namespace: string, addresses: readonly string[], extra: readonly string[]): Promise<Daemon> {
  const argv = [
    'ip', 'netns', 'exec', namespace,
    'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--bind-interfaces',
    ...addresses.map((address) => `--listen-address=${address}`),
    '--user=root', '--pid-file', '--log-queries', '--log-facility=-',
    ...extra,
  ];
  const daemon = sandbox.spawnDaemon(argv);
  const first = addresses[0] ?? '';
  await waitFor(
    `dnsmasq in ${namespace} to answer on ${first}`,
    async () => {
      if (!daemon.running) throw new Error(`dnsmasq in ${namespace} exited: ${daemon.stderr.trim()}`);
      // dnsmasq resolves version.bind itself, so this works before any upstream is reachable.
      const probe = await sandbox.run(['ip', 'netns', 'exec', namespace, 'dig', `@${first}`, 'version.bind', 'TXT', 'CHAOS', '+time=1', '+tries=1'], { allowFailure: true });
      return probe.code === 0;
    },
    10_000,
    100,
  );
  return daemon;
}

/**
 * Makes a client namespace behind the internet: a veth pair from `name` into the internet
 * namespace on `subnet` (a /26 of 192.0.2.0/24, TEST-NET-1), the internet side taking the
 * first address and the client the second, and a default route through the internet.
 * Returns the client's address.
 */
export async function addClientNamespace(sandbox: Sandbox, name: string, subnet: { network: string; first: string; second: string }): Promise<string> {
  const peer = `${name.slice(0, 11)}-i`;
  await sandbox.runShell(
    [
      `ip netns add ${name}`,
      `ip link add ${peer} type veth peer name uplink netns ${name}`,
      `ip link set ${peer} netns ${INTERNET_NAMESPACE}`,
      `ip -n ${INTERNET_NAMESPACE} addr add ${subnet.first}/26 dev ${peer}`,
      `ip -n ${INTERNET_NAMESPACE} link set ${peer} up`,
      `ip netns exec ${INTERNET_NAMESPACE} sysctl -qw net.ipv4.ip_forward=1`,
      `ip -n ${name} addr add ${subnet.second}/26 dev uplink`,
      `ip -n ${name} link set uplink up`,
      `ip -n ${name} link set lo up`,
      `ip -n ${name} route add default via ${subnet.first}`,
    ].join(' && '),
  );
  return subnet.second;
}

export const WIREGUARD_CLIENT_SUBNET = { network: '192.0.2.0/26', first: '192.0.2.1', second: '192.0.2.2' };
export const IKE_CLIENT_SUBNET = { network: '192.0.2.64/26', first: '192.0.2.65', second: '192.0.2.66' };

/**
 * Starts the WireGuard client: its own wireguard-go in namespace `wg-client` and a tunnel to the
 * server's public address. Routes through the tunnel cover 10.0.0.0/8, the WireGuard IPv6 pool,
 * the DNS service addresses and the internet host's addresses.
 */
export async function startWireGuardClient(world: World): Promise<string> {
  const { sandbox, internet } = world;
  const namespace = 'wg-client';
  await addClientNamespace(sandbox, namespace, WIREGUARD_CLIENT_SUBNET);

  sandbox.spawnDaemon(['ip', 'netns', 'exec', namespace, 'wireguard-go', '--foreground', 'wgc'], { env: { WG_PROCESS_FOREGROUND: '1' } });
  await waitFor('the client wireguard-go to create wgc', async () => (await sandbox.run(['test', '-S', '/run/wireguard/wgc.sock'], { allowFailure: true })).code === 0, 10_000);

  await configureWireguard(sandbox, 'wgc', {
    privateKey: world.clientKeys.privateKey,
    peers: [{ publicKey: world.serverKeys.publicKey, endpoint: `${internet.ipv4.address}:51820`, allowedIps: ['0.0.0.0/0', '::/0'], persistentKeepalive: 1 }],
  });
  const prefixes = ['10.0.0.0/8', `${DNS_ADDRESS}/32`, `${internet.ipv4.publicHost}/32`, '2001:db8:a160::/48', `${DNS_ADDRESS6}/128`, `${internet.ipv6.publicHost}/128`];
  await sandbox.runShell(
    [
      `ip -n ${namespace} addr add ${WIREGUARD_CLIENT_ADDRESS}/32 dev wgc`,
      `ip -n ${namespace} addr add ${WIREGUARD_CLIENT_ADDRESS6}/128 dev wgc nodad`,
      `ip -n ${namespace} link set wgc up`,
      ...prefixes.map((prefix) => `ip -n ${namespace} route add ${prefix} dev wgc`),
    ].join(' && '),
  );
  return namespace;
}

/** Runs a command in a namespace of the sandbox; a non-zero exit is returned, not thrown. */
export function runIn(world: { sandbox: Sandbox }, namespace: string | null, argv: readonly string[], timeoutMs = 15_000): Promise<RunResult> {
  const prefix = namespace === null ? [] : ['ip', 'netns', 'exec', namespace];
  return world.sandbox.run([...prefix, ...argv], { allowFailure: true, timeoutMs });
}

/** Sends one ping with a one-second deadline; returns whether a reply came. */
export async function pings(world: { sandbox: Sandbox }, namespace: string | null, address: string, source?: string): Promise<boolean> {
  const from = source === undefined ? [] : ['-I', source];
  return (await runIn(world, namespace, ['ping', '-c', '1', '-W', '1', ...from, address])).code === 0;
}

/** Queries `name` at `server` with dig; returns the answer section's addresses. */
export async function resolve(world: { sandbox: Sandbox }, namespace: string | null, server: string | null, name: string = TEST_NAME): Promise<string[]> {
  const at = server === null ? [] : [`@${server}`];
  const result = await runIn(world, namespace, ['dig', ...at, name, '+short', '+time=2', '+tries=2']);
  // With +short, dig still prints a ";;" line for each try that timed out before one succeeded.
  return result.code === 0 ? result.stdout.trim().split('\n').filter((line) => line !== '' && !line.startsWith(';;')) : [];
}

/** Starts tcp-tool's server in `namespace` on HOST:TCP_PORT and waits until it listens. */
export async function startTcpServer(world: { sandbox: Sandbox }, namespace: string, host: string): Promise<Daemon> {
  const daemon = world.sandbox.spawnDaemon(['ip', 'netns', 'exec', namespace, process.execPath, TCP_TOOL, 'serve', host, String(TCP_PORT)]);
  await waitFor(`the TCP server on ${host} in ${namespace}`, async () => {
    if (!daemon.running) throw new Error(`tcp-tool serve in ${namespace} exited: ${daemon.stderr.trim()}`);
    return daemon.stdout.includes('listening');
  });
  return daemon;
}

/** Connects to HOST:TCP_PORT from `namespace`; returns the server's reply (the address it saw) or null. */
export async function tcpAnswer(world: { sandbox: Sandbox }, namespace: string | null, host: string, timeoutMs = 1500): Promise<string | null> {
  const result = await runIn(world, namespace, [process.execPath, TCP_TOOL, 'connect', host, String(TCP_PORT), String(timeoutMs)]);
  return result.code === 0 ? result.stdout.trim() : null;
}
