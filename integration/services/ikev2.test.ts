/**
 * IKEv2 end to end. charon runs in strongswan-ns behind the root namespace's DNAT of UDP 500,
 * UDP 4500 and ESP. A second charon, in a client namespace behind the internet namespace,
 * establishes an IKE SA with the host's public address and gets a virtual IP from the pool. The
 * client then pings, resolves and connects through the tunnel (ESP in user space, kernel-libipsec).
 *
 * Before `up`, the client sends IKE from port 500 to the host while a conntrack-using firewall
 * is there, as Algo's iptables rules are, so the root namespace holds a flow without DNAT. `up`
 * must flush it, or the client's packets would keep going to that flow's old destination.
 */
import anyTest, { type TestFn } from 'ava';

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
  runIn,
  startTcpServer,
  tcpAnswer,
  TRANSIT,
} from './world.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping services/ikev2.test.js: not inside the integration sandbox; run npm run test:integration');

const CLIENT_NAMESPACE = 'ike-client';

test('IKEv2 client reaches charon through the DNAT', async (t) => {
  const missing = await probeServiceTools(['charon-systemd', 'swanctl', 'conntrack']);
  if (skipsFor(t, missing)) return;

  let staleFlows = '';
  const world = await buildWorld(t, {
    beforeUp: async (sandbox) => {
      await addClientNamespace(sandbox, CLIENT_NAMESPACE, IKE_CLIENT_SUBNET);
      staleFlows = await makeStaleIkeFlow(sandbox);
    },
  });
  const { sandbox, internet, folder } = world;

  t.regex(staleFlows, /dst=198\.51\.100\.2 sport=500 dport=500/, 'before up, the root namespace tracks an IKE flow to the host');
  t.regex(world.up.stdout, /\+ flush conntrack entries of UDP 500, UDP 4500 and ESP in the root namespace/, 'up flushes IKE flows');
  t.regex(world.up.stdout, /notice: deleted 1 conntrack entry of IPv4 UDP port 500 in the root namespace/, 'and deletes the one it found');

  const server = await startCharon(sandbox, 'strongswan-ns', folder, 'server');
  await loadSwanctlConf(sandbox, server, folder, 'server', serverConf('10.48.0.0/16', DNS_ADDRESS));
  const client = await startCharon(sandbox, CLIENT_NAMESPACE, folder, 'client');
  await loadSwanctlConf(sandbox, client, folder, 'client', clientConf(internet.ipv4.address));

  const initiated = await swanctl(sandbox, client, ['--initiate', '--child', 'home', '--timeout', '20'], 30_000);
  t.is(initiated.code, 0, `swanctl --initiate: ${initiated.stdout.slice(-2000)}`);

  // The IKE SA, from both ends.
  const [clientSa] = await listSas(sandbox, client);
  const [serverSa] = await listSas(sandbox, server);
  t.is(clientSa?.state, 'ESTABLISHED', 'the client has an established IKE SA');
  t.is(clientSa?.remoteHost, internet.ipv4.address, 'with the host public address');
  t.is(serverSa?.state, 'ESTABLISHED', 'charon in strongswan-ns has it too');
  t.is(serverSa?.remoteHost, IKE_CLIENT_SUBNET.second, "and sees the client's own address");
  const virtualIp = clientSa?.virtualIps[0] ?? '';
  t.regex(virtualIp, /^10\.48\.\d+\.\d+$/, 'the client got a virtual IP from 10.48.0.0/16');

  const flows = await sandbox.run(['conntrack', '-L', '-p', 'udp', '--orig-port-dst', '4500']);
  t.regex(flows.stdout, new RegExp(`src=${TRANSIT.strongswan.replaceAll('.', '\\.')} dst=${IKE_CLIENT_SUBNET.second.replaceAll('.', '\\.')} sport=4500`), 'NAT-T flows are DNATed to strongswan-ns');

  // The data path through the tunnel.
  t.true(await pings(world, CLIENT_NAMESPACE, DNS_ADDRESS), 'the client pings 172.16.0.1 through the tunnel');
  t.deepEqual(await resolve(world, CLIENT_NAMESPACE, DNS_ADDRESS), [internet.ipv4.publicHost], 'and resolves the test name there');
  await startTcpServer(world, INTERNET_NAMESPACE, internet.ipv4.publicHost);
  t.is(await tcpAnswer(world, CLIENT_NAMESPACE, internet.ipv4.publicHost), internet.ipv4.address, 'and reaches the internet host through the egress NAT');

  const [afterTraffic] = await listSas(sandbox, server);
  const child = afterTraffic?.children[0];
  t.is(child?.state, 'INSTALLED');
  t.true((child?.packetsIn ?? 0) > 0 && (child?.packetsOut ?? 0) > 0, `ESP carried the traffic (${child?.packetsIn} packets in, ${child?.packetsOut} out)`);

  t.log(`virtual IP ${virtualIp}; server child SA ${child?.mode}, ${child?.packetsIn} packets in, ${child?.packetsOut} out`);

  const route = await runIn(world, CLIENT_NAMESPACE, ['ip', 'route', 'get', DNS_ADDRESS]);
  t.regex(route.stdout, /dev ipsec0/, 'the client routes the DNS address into the tunnel');
});


/**
 * Loads a firewall that makes the root namespace track connections, sends two IKE packets from
 * the client's port 500 to the host (nothing listens there yet), and returns conntrack's list.
 */
async function makeStaleIkeFlow(sandbox: Sandbox): Promise<string> {
  await sandbox.run(['nft', '-f', '-'], {
    input: 'table inet host_firewall {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tct state new counter\n\t}\n}\n',
  });
  const send = [
    "const s = require('node:dgram').createSocket('udp4');",
    "s.bind(500, () => { s.send('ike', 500, '198.51.100.2'); setTimeout(() => s.send('ike', 500, '198.51.100.2', () => s.close()), 100); });",
  ].join(' ');
  await sandbox.run(['ip', 'netns', 'exec', CLIENT_NAMESPACE, process.execPath, '-e', send]);
  return (await sandbox.run(['conntrack', '-L', '-p', 'udp', '--orig-port-dst', '500'], { allowFailure: true })).stdout;
}
