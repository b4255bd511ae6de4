/**
 * Isolation proven with packets, with both VPNs up and a client on each. The VPN namespaces and
 * their clients cannot reach each other. The DNS namespace replies to clients but cannot open a
 * connection to them. No transit address is reachable except as the topology needs, and the
 * root namespace's own traffic is unchanged. Every blocked case has a control in the same test
 * that passes, so a case cannot pass only because the path is broken.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';

import { INTERNET_NAMESPACE } from '../internet.js';
import { insideRunnerSandbox, type Sandbox, skipsFor } from '../sandbox.js';
import { clientConf, listSas, loadSwanctlConf, serverConf, startCharon, swanctl } from './strongswan.js';
import {
  addClientNamespace,
  buildWorld,
  DNS_ADDRESS,
  IKE_CLIENT_SUBNET,
  pings,
  probeServiceTools,
  resolve,
  startTcpServer,
  startWireGuardClient,
  tcpAnswer,
  TRANSIT,
  WIREGUARD_CLIENT_ADDRESS,
} from './world.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping services/isolation.test.js: not inside the integration sandbox; run npm run test:integration');

const IKE_CLIENT = 'ike-client';
const PUBLIC_HOST = '203.0.113.10';
const UPLINK_ADDRESS = '198.51.100.2';

/** MTU given to the uplink before `up`; wg0.conf has no MTU line, so wg0 gets this minus 80. */
const UPLINK_MTU = 1480;

test('namespaces and clients are isolated', async (t) => {
  const missing = await probeServiceTools(['charon-systemd', 'swanctl']);
  if (skipsFor(t, missing)) return;

  // The root namespace's own traffic before up, to compare with after.
  const before = { ping: false, tcp: null as string | null };
  const world = await buildWorld(t, {
    beforeUp: async (sandbox) => {
      await sandbox.run(['ip', 'link', 'set', 'eth0', 'mtu', String(UPLINK_MTU)]);
      await startTcpServer({ sandbox }, INTERNET_NAMESPACE, PUBLIC_HOST);
      before.ping = await pings({ sandbox }, null, PUBLIC_HOST);
      before.tcp = await tcpAnswer({ sandbox }, null, PUBLIC_HOST);
    },
  });
  const { sandbox, folder } = world;

  const [wg0] = await sandbox.ipJson<{ mtu: number }[]>(['-n', 'wireguard-ns', 'link', 'show', 'dev', 'wg0']);
  t.is(wg0?.mtu, UPLINK_MTU - 80, 'wg0 gets the uplink MTU minus 80 when wg0.conf has none');

  // Both VPNs with a client each.
  const wireguardClient = await startWireGuardClient(world);
  await addClientNamespace(sandbox, IKE_CLIENT, IKE_CLIENT_SUBNET);
  const server = await startCharon(sandbox, 'strongswan-ns', folder, 'server');
  await loadSwanctlConf(sandbox, server, folder, 'server', serverConf('10.48.0.0/16', DNS_ADDRESS));
  const client = await startCharon(sandbox, IKE_CLIENT, folder, 'client');
  await loadSwanctlConf(sandbox, client, folder, 'client', clientConf(UPLINK_ADDRESS));
  const initiated = await swanctl(sandbox, client, ['--initiate', '--child', 'home', '--timeout', '20'], 30_000);
  t.is(initiated.code, 0, initiated.stdout.slice(-2000));
  const ipsecClient = (await listSas(sandbox, client))[0]?.virtualIps[0] ?? '';
  t.regex(ipsecClient, /^10\.48\./, 'the IPsec client has a virtual IP');

  // Each client works: the controls for the cases below that start from a client.
  t.true(await pings(world, wireguardClient, DNS_ADDRESS), 'control: the WireGuard client pings the DNS address');
  t.true(await pings(world, IKE_CLIENT, DNS_ADDRESS), 'control: the IPsec client pings the DNS address');

  await checkVpnNamespacesApart(t, world, wireguardClient, ipsecClient);
  await checkResolverCannotCall(t, world, wireguardClient, ipsecClient);
  await checkTransitFromInternet(t, world);

  // The root namespace's own traffic is as it was before up.
  t.true(before.ping, 'before up, the root namespace pings the internet host');
  t.is(await pings(world, null, PUBLIC_HOST), before.ping, 'after up it still does');
  t.is(before.tcp, UPLINK_ADDRESS, 'before up, the root namespace connects to the internet host');
  t.is(await tcpAnswer(world, null, PUBLIC_HOST), before.tcp, 'after up it still does, with the same address');
});

async function checkVpnNamespacesApart(t: ExecutionContext, world: { sandbox: Sandbox }, wireguardClient: string, ipsecClient: string): Promise<void> {
  // wireguard-ns to strongswan-ns and its client, and the reverse.
  t.false(await pings(world, 'wireguard-ns', TRANSIT.strongswan), "wireguard-ns cannot ping strongswan-ns's transit address");
  t.true(await pings(world, null, TRANSIT.strongswan), 'control: the root namespace can');
  t.false(await pings(world, 'wireguard-ns', ipsecClient), 'wireguard-ns cannot ping the IPsec client');
  t.true(await pings(world, 'strongswan-ns', ipsecClient), 'control: strongswan-ns can');
  t.false(await pings(world, 'strongswan-ns', TRANSIT.wireguard), "strongswan-ns cannot ping wireguard-ns's transit address");
  t.true(await pings(world, null, TRANSIT.wireguard), 'control: the root namespace can');
  t.false(await pings(world, 'strongswan-ns', WIREGUARD_CLIENT_ADDRESS), 'strongswan-ns cannot ping the WireGuard client');
  t.true(await pings(world, 'wireguard-ns', WIREGUARD_CLIENT_ADDRESS), 'control: wireguard-ns can');

  // Client to client, across the two VPNs.
  t.false(await pings(world, wireguardClient, ipsecClient), 'the WireGuard client cannot ping the IPsec client');
  t.false(await pings(world, IKE_CLIENT, WIREGUARD_CLIENT_ADDRESS), 'the IPsec client cannot ping the WireGuard client');

  // A service namespace and its own gateway's transit address.
  t.false(await pings(world, 'wireguard-ns', TRANSIT.wireguardRoot), "wireguard-ns cannot ping the root side of its own transit link");
  t.false(await pings(world, wireguardClient, TRANSIT.dns), "the WireGuard client cannot ping dns-ns's transit address");
}

async function checkResolverCannotCall(t: ExecutionContext, world: { sandbox: Sandbox }, wireguardClient: string, ipsecClient: string): Promise<void> {
  await startTcpServer(world, wireguardClient, WIREGUARD_CLIENT_ADDRESS);
  await startTcpServer(world, IKE_CLIENT, ipsecClient);

  t.is(await tcpAnswer(world, 'dns-ns', WIREGUARD_CLIENT_ADDRESS), null, 'dns-ns cannot open a TCP connection to the WireGuard client');
  t.not(await tcpAnswer(world, 'wireguard-ns', WIREGUARD_CLIENT_ADDRESS), null, 'control: wireguard-ns can');
  t.is(await tcpAnswer(world, 'dns-ns', ipsecClient), null, 'dns-ns cannot open a TCP connection to the IPsec client');
  t.not(await tcpAnswer(world, 'strongswan-ns', ipsecClient), null, 'control: strongswan-ns can');
  t.false(await pings(world, 'dns-ns', WIREGUARD_CLIENT_ADDRESS), 'dns-ns cannot ping the WireGuard client');

  t.deepEqual(await resolve(world, wireguardClient, DNS_ADDRESS), [PUBLIC_HOST], "dns-ns's answers still reach the WireGuard client");
  t.deepEqual(await resolve(world, IKE_CLIENT, DNS_ADDRESS), [PUBLIC_HOST], 'and the IPsec client');
}

// A host on the uplink's network that routes the private ranges to the server, as a neighbour
// in the same data centre could.
async function checkTransitFromInternet(t: ExecutionContext, world: { sandbox: Sandbox }): Promise<void> {
  await world.sandbox.runShell(
    ['10.47.255.0/24', '10.49.0.0/16', '10.48.0.0/16'].map((prefix) => `ip -n ${INTERNET_NAMESPACE} route add ${prefix} via ${UPLINK_ADDRESS}`).join(' && '),
  );

  t.false(await pings(world, INTERNET_NAMESPACE, TRANSIT.strongswan), "the internet cannot ping strongswan-ns's transit address");
  t.false(await pings(world, INTERNET_NAMESPACE, TRANSIT.wireguardRoot), "the internet cannot ping the root side of a transit link");
  t.is(await tcpAnswer(world, INTERNET_NAMESPACE, WIREGUARD_CLIENT_ADDRESS), null, 'the internet cannot open a connection to the WireGuard client');
  t.true(await pings(world, INTERNET_NAMESPACE, UPLINK_ADDRESS), "control: the internet pings the host's public address");
  t.not(await tcpAnswer(world, 'wireguard-ns', WIREGUARD_CLIENT_ADDRESS), null, 'control: the WireGuard client still answers from inside');
}
