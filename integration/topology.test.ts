/**
 * End to end on the real kernel: `algo-netns up` in a sandbox with a simulated uplink, checked
 * with iproute2, sysctl, ping and a real WireGuard handshake through wireguard-go. Then a second
 * `up` must change nothing, and a `down` must leave no trace.
 */
import anyTest, { type TestFn } from 'ava';
import { runCli, writeConfigFile } from './cli.js';
import { hostState } from './host-state.js';
import { buildInternet } from './internet.js';
import { insideRunnerSandbox, probeProgram, probeTun, sandboxFor, skipsFor, waitFor } from './sandbox.js';
import { generateKeyPair, showWireguardPeers, startWireguardGo } from './wireguard-go.js';

interface IpAddressInfo {
  ifname: string;
  ifalias?: string;
  flags: string[];
  addr_info: { local: string; prefixlen: number }[];
}
interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string | number;
}
interface IpRule {
  priority: number;
  src?: string;
  srclen?: number;
  dst?: string;
  dstlen?: number;
  action?: string;
  protocol?: string | number;
}

const SERVICES = [
  { namespace: 'wireguard-ns', host: 've-wg', hostAddress: '10.47.255.1', peerAddress: '10.47.255.2', forwarding: '1' },
  { namespace: 'strongswan-ns', host: 've-ipsec', hostAddress: '10.47.255.5', peerAddress: '10.47.255.6', forwarding: '1' },
  { namespace: 'dns-ns', host: 've-dns', hostAddress: '10.47.255.9', peerAddress: '10.47.255.10', forwarding: '0' },
] as const;

const OUR_PROTOCOL = 245;

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping topology.test.js: not inside the integration sandbox; run npm run test:integration');

test('up builds the topology, a second up changes nothing, down removes it', async (t) => {
  const missing = (await probeTun()) ?? (await probeProgram('wireguard-go')) ?? (await probeProgram('wg'));
  if (skipsFor(t, missing)) return;

  const sandbox = await sandboxFor(t);
  const internet = await buildInternet(sandbox, { returnRoutes: ['10.47.255.0/24', 'fd47:255::/120'] });

  // The server's WireGuard: wireguard-go in the root namespace, adopted and moved by `up`.
  await startWireguardGo(sandbox, 'wg0');
  const config = await writeConfigFile('algo-netns.yaml', 'wireguard:\n  adoptInterface: wg0\n');

  const upStarted = performance.now();
  const first = await runCli(sandbox, ['up', '--config', config]);
  const upMs = performance.now() - upStarted;
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /changes made/);
  t.log(`up from scratch: ${Math.round(upMs)} ms wall time`);

  // Namespaces, as iproute2 lists them.
  const namespaces = (await sandbox.ipJson<{ name: string }[]>(['netns', 'list'])).map((entry) => entry.name);
  for (const service of SERVICES) t.true(namespaces.includes(service.namespace), `ip netns list shows ${service.namespace}`);

  // Links, addresses and sysctls per service.
  const rootLinks = await sandbox.ipJson<IpAddressInfo[]>(['-d', 'address', 'show']);
  for (const service of SERVICES) {
    const host = rootLinks.find((link) => link.ifname === service.host);
    t.truthy(host, `${service.host} exists in the root namespace`);
    t.is(host?.ifalias, 'algo-netns', `${service.host} carries the owner alias`);
    t.true(host?.flags.includes('UP'), `${service.host} is up`);
    t.true(host?.addr_info.some((address) => address.local === service.hostAddress && address.prefixlen === 30), `${service.host} has ${service.hostAddress}/30`);

    const inside = await sandbox.ipJson<IpAddressInfo[]>(['-n', service.namespace, 'address', 'show']);
    const uplink = inside.find((link) => link.ifname === 'uplink');
    t.true(uplink?.flags.includes('UP'), `uplink in ${service.namespace} is up`);
    t.true(uplink?.addr_info.some((address) => address.local === service.peerAddress && address.prefixlen === 30), `uplink in ${service.namespace} has ${service.peerAddress}/30`);
    t.true(inside.find((link) => link.ifname === 'lo')?.flags.includes('UP'), `lo in ${service.namespace} is up`);

    const routes = await sandbox.ipJson<IpRoute[]>(['-n', service.namespace, 'route', 'show']);
    t.truthy(routes.find((route) => route.dst === 'default' && route.gateway === service.hostAddress && route.dev === 'uplink'), `default route in ${service.namespace}`);
    const routes6 = await sandbox.ipJson<IpRoute[]>(['-n', service.namespace, '-6', 'route', 'show']);
    t.truthy(routes6.find((route) => route.dst === 'default' && route.dev === 'uplink'), `IPv6 default route in ${service.namespace}`);

    const sysctl = async (key: string): Promise<string> =>
      (await sandbox.run(['ip', 'netns', 'exec', service.namespace, 'sysctl', '-n', key])).stdout.trim();
    t.is(await sysctl('net.ipv4.ip_forward'), service.forwarding, `ip_forward in ${service.namespace}`);
    t.is(await sysctl('net.ipv6.conf.all.forwarding'), service.forwarding, `IPv6 forwarding in ${service.namespace}`);
    t.is(await sysctl('net.ipv4.conf.uplink.rp_filter'), '1', `rp_filter on uplink in ${service.namespace}`);
    t.is(await sysctl('net.ipv6.conf.uplink.accept_ra'), '0', `accept_ra on uplink in ${service.namespace}`);
  }
  t.is((await sandbox.run(['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), '1', 'forwarding on in the root namespace');

  const wireguardLinks = await sandbox.ipJson<IpAddressInfo[]>(['-n', 'wireguard-ns', 'address', 'show', 'dev', 'wg0']);
  t.true(wireguardLinks[0]?.addr_info.some((address) => address.local === '10.49.0.1' && address.prefixlen === 16), 'wg0 has 10.49.0.1/16 in wireguard-ns');
  t.is((await sandbox.ipJson<IpAddressInfo[]>(['link', 'show'])).filter((link) => link.ifname === 'wg0').length, 0, 'wg0 left the root namespace');

  const dnsLoopback = await sandbox.ipJson<IpAddressInfo[]>(['-n', 'dns-ns', 'address', 'show', 'dev', 'lo']);
  const dnsAddresses = dnsLoopback[0]?.addr_info.map((address) => `${address.local}/${address.prefixlen}`) ?? [];
  t.true(dnsAddresses.includes('172.16.0.1/32'), 'dns-ns holds 172.16.0.1/32');
  t.true(dnsAddresses.includes('fd00::1/128'), 'dns-ns holds fd00::1/128');

  const rootRoutes = await sandbox.ipJson<IpRoute[]>(['route', 'show']);
  t.truthy(rootRoutes.find((route) => route.dst === '10.49.0.0/16' && route.gateway === '10.47.255.2' && String(route.protocol) === String(OUR_PROTOCOL)), 'root routes the WireGuard pool into wireguard-ns');
  t.truthy(rootRoutes.find((route) => route.dst === '10.48.0.0/16' && route.gateway === '10.47.255.6'), 'root routes the IPsec pool into strongswan-ns');
  t.truthy(rootRoutes.find((route) => route.dst === '172.16.0.1' && route.gateway === '10.47.255.10'), 'root routes the DNS address into dns-ns');

  const rules = await sandbox.ipJson<IpRule[]>(['rule', 'show']);
  t.truthy(rules.find((rule) => rule.src === '10.49.0.0' && rule.dst === '10.48.0.0' && rule.action === 'prohibit'), 'a rule prohibits the WireGuard pool from reaching the IPsec pool');
  t.truthy(rules.find((rule) => rule.src === '10.48.0.0' && rule.dst === '10.49.0.0' && rule.action === 'prohibit'), 'and the reverse');
  const rules6 = await sandbox.ipJson<IpRule[]>(['-6', 'rule', 'show']);
  t.truthy(rules6.find((rule) => rule.src === '2001:db8:a160::' && rule.action === 'prohibit'), 'the IPv6 pools are kept apart too');

  // Packets: each namespace reaches the internet host, and WireGuard's namespace reaches DNS.
  const ping = (namespace: string, address: string) => sandbox.run(['ip', 'netns', 'exec', namespace, 'ping', '-c', '1', '-W', '3', address], { allowFailure: true });
  t.is((await ping('wireguard-ns', '172.16.0.1')).code, 0, 'wireguard-ns pings the DNS service address');
  t.is((await ping('wireguard-ns', 'fd00::1')).code, 0, 'wireguard-ns pings the IPv6 DNS service address');
  for (const service of SERVICES) t.is((await ping(service.namespace, internet.ipv4.publicHost)).code, 0, `${service.namespace} pings the internet host`);

  // A real handshake: a client with its own wireguard-go in a namespace behind the internet.
  await sandbox.runShell(
    [
      'ip netns add client',
      'ip link add cl0 type veth peer name cl0 netns client',
      'ip link set cl0 netns internet',
      'ip -n internet addr add 192.0.2.1/24 dev cl0',
      'ip -n internet link set cl0 up',
      'ip netns exec internet sysctl -qw net.ipv4.ip_forward=1',
      'ip -n client addr add 192.0.2.2/24 dev cl0',
      'ip -n client link set cl0 up',
      'ip -n client link set lo up',
      'ip -n client route add default via 192.0.2.1',
    ].join(' && '),
  );
  const server = await generateKeyPair();
  const client = await generateKeyPair();
  await sandbox.spawnDaemon(['ip', 'netns', 'exec', 'client', 'wireguard-go', '--foreground', 'wgc'], { env: { WG_PROCESS_FOREGROUND: '1' } });
  await waitFor('the client wireguard-go to create wgc', async () => (await sandbox.run(['ip', '-n', 'client', 'link', 'show', 'wgc'], { allowFailure: true })).code === 0, 10_000);

  const serverConfig = ['[Interface]', `PrivateKey = ${server.privateKey}`, 'ListenPort = 51820', '', '[Peer]', `PublicKey = ${client.publicKey}`, 'AllowedIPs = 10.49.0.2/32', ''].join('\n');
  // A file, not /dev/stdin: Node's stdio pipes are sockets, which cannot be opened by path.
  const serverConfigPath = await writeConfigFile('wg0.conf', serverConfig);
  await sandbox.run(['ip', 'netns', 'exec', 'wireguard-ns', 'wg', 'setconf', 'wg0', serverConfigPath]);
  const clientConfig = [
    '[Interface]',
    `PrivateKey = ${client.privateKey}`,
    '',
    '[Peer]',
    `PublicKey = ${server.publicKey}`,
    `Endpoint = ${internet.ipv4.address}:51820`,
    'AllowedIPs = 10.49.0.1/32, 172.16.0.1/32',
    'PersistentKeepalive = 1',
    '',
  ].join('\n');
  await sandbox.run(['ip', 'netns', 'exec', 'client', 'wg', 'setconf', 'wgc', await writeConfigFile('wgc.conf', clientConfig)]);
  await sandbox.runShell(
    ['ip -n client addr add 10.49.0.2/32 dev wgc', 'ip -n client link set wgc up', 'ip -n client route add 10.49.0.1/32 dev wgc', 'ip -n client route add 172.16.0.1/32 dev wgc'].join(' && '),
  );

  t.is((await ping('client', '10.49.0.1')).code, 0, 'the client pings 10.49.0.1 through the tunnel');
  t.is((await ping('client', '172.16.0.1')).code, 0, 'the client pings the DNS service address through the tunnel');
  const peers = await sandbox.run(['ip', 'netns', 'exec', 'wireguard-ns', 'wg', 'show', 'wg0', 'latest-handshakes']);
  const handshake = Number(peers.stdout.trim().split(/\s+/)[1] ?? '0');
  t.true(handshake > 0, `wg show in wireguard-ns reports a handshake (${peers.stdout.trim()})`);
  t.true((await showWireguardPeers(sandbox, 'wgc')).some((peer) => peer.latestHandshake > 0), 'the client saw the handshake');

  // A second run converges to the same state without touching anything.
  const before = await hostState(sandbox);
  const second = await runCli(sandbox, ['up', '--config', config]);
  t.is(second.code, 0, second.stderr);
  t.regex(second.stdout, /no change/);
  t.is(await hostState(sandbox), before, 'a second up leaves links, addresses, routes and rules as they were');

  const status = await runCli(sandbox, ['status', '--json', '--config', config]);
  t.is(status.code, 0, status.stdout);
  t.is((JSON.parse(status.stdout) as { state: string }).state, 'up');

  const downStarted = performance.now();
  const removed = await runCli(sandbox, ['down', '--config', config]);
  const downMs = performance.now() - downStarted;
  t.is(removed.code, 0, removed.stderr);
  t.log(`down: ${Math.round(downMs)} ms wall time`);

  // No trace: namespaces, bind mounts, links, routes, rules, relay processes.
  const left = (await sandbox.ipJson<{ name: string }[]>(['netns', 'list'])).map((entry) => entry.name).sort();
  t.deepEqual(left, ['client', 'internet'], 'only the test namespaces remain');
  const mounts = await sandbox.run(['cat', '/proc/self/mountinfo']);
  for (const service of SERVICES) t.false(mounts.stdout.includes(`/run/netns/${service.namespace}`), `no bind mount of ${service.namespace}`);
  const linksAfter = (await sandbox.ipJson<IpAddressInfo[]>(['link', 'show'])).map((link) => link.ifname);
  for (const service of SERVICES) t.false(linksAfter.includes(service.host), `${service.host} is gone`);
  t.true(linksAfter.includes('wg0'), 'the adopted wg0 is back in the root namespace');
  const routesAfter = await sandbox.ipJson<IpRoute[]>(['route', 'show', 'table', 'all']);
  t.is(routesAfter.filter((route) => String(route.protocol) === String(OUR_PROTOCOL)).length, 0, 'no route of ours remains');
  const rulesAfter = [...(await sandbox.ipJson<IpRule[]>(['rule', 'show'])), ...(await sandbox.ipJson<IpRule[]>(['-6', 'rule', 'show']))];
  t.is(rulesAfter.filter((rule) => rule.action === 'prohibit').length, 0, 'no rule of ours remains');
  // Relays of this sandbox share its mount namespace; the bracket keeps grep from matching this shell.
  const relays = await sandbox.runShell(
    'self=$(readlink /proc/self/ns/mnt); for p in /proc/[0-9]*; do [ "$(readlink $p/ns/mnt 2>/dev/null)" = "$self" ] && grep -qaE "relay/[m]ain.js|algo-netns-rela[y]" $p/cmdline 2>/dev/null && echo $p; done; true',
  );
  t.is(relays.stdout.trim(), '', 'no relay process remains');
  t.is((await sandbox.run(['sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), '0', 'root forwarding is restored');

  const again = await runCli(sandbox, ['down', '--config', config]);
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /no change/);
});
