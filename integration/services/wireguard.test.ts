/**
 * WireGuard end to end. `algo-netns up` sets the server's keys and peer from an Algo-style
 * wg0.conf. A client in its own namespace completes a handshake and pings the server. It resolves
 * a name through dnsmasq in the DNS namespace, which forwards to an upstream in the internet
 * namespace, and opens a TCP connection to the internet host through the egress NAT.
 */
import anyTest, { type TestFn } from 'ava';

import { runCli } from '../cli.js';
import { insideRunnerSandbox, skipsFor } from '../sandbox.js';
import { showWireguardPeers } from '../wireguard-go.js';
import {
  buildWorld,
  DNS_ADDRESS,
  DNS_ADDRESS6,
  pings,
  probeServiceTools,
  resolve,
  runIn,
  startTcpServer,
  startWireGuardClient,
  tcpAnswer,
  TEST_NAME,
  WIREGUARD_SERVER_ADDRESS,
  WIREGUARD_SERVER_ADDRESS6,
} from './world.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping services/wireguard.test.js: not inside the integration sandbox; run npm run test:integration');

interface IpLink {
  ifname: string;
  mtu: number;
  addr_info: { local: string; prefixlen: number }[];
}

test('WireGuard client reaches server, DNS and internet', async (t) => {
  const missing = await probeServiceTools();
  if (skipsFor(t, missing)) return;

  const world = await buildWorld(t, { interfaceLines: ['MTU = 1380'] });
  const { sandbox, internet, serverKeys } = world;

  t.regex(world.up.stdout, /\+ set the private key, listen port and 1 peer of wg0 in wireguard-ns from \S+wg0\.conf \(wg setconf\)/);
  t.regex(world.up.stdout, /notice: \S+wg0\.conf: DNS, PostUp, SaveConfig ignored/);
  t.false(world.up.stdout.includes(serverKeys.privateKey), 'up prints no private key');
  t.false(world.up.stderr.includes(serverKeys.privateKey), 'up logs no private key');

  // What wg and iproute2 see in wireguard-ns.
  const dump = await runIn(world, 'wireguard-ns', ['wg', 'show', 'wg0', 'dump']);
  const [interfaceLine = '', ...peerLines] = dump.stdout.trim().split('\n');
  t.is(interfaceLine.split('\t')[1], serverKeys.publicKey, 'wg0 has the private key from wg0.conf');
  t.is(interfaceLine.split('\t')[2], '51820', 'wg0 listens on the port from wg0.conf');
  t.is(peerLines.length, 1, 'wg0 has the one peer from wg0.conf');
  t.is(peerLines[0]?.split('\t')[3], '10.49.0.2/32,2001:db8:a160::2/128', 'with its allowed IPs');

  const [wg0] = await sandbox.ipJson<IpLink[]>(['-n', 'wireguard-ns', 'address', 'show', 'dev', 'wg0']);
  t.is(wg0?.mtu, 1380, 'the MTU from wg0.conf is applied');
  t.true(wg0?.addr_info.some((address) => address.local === '2001:db8:a160::1' && address.prefixlen === 48), 'the Address lines are applied');

  const resolvConf = await runIn(world, 'wireguard-ns', ['cat', '/etc/resolv.conf']);
  t.regex(resolvConf.stdout, /^# Written by algo-netns up/, 'ip netns exec sees our resolv.conf');
  t.regex(resolvConf.stdout, /nameserver 172\.16\.0\.1\nnameserver fd00::1\n/);

  // The client: handshake, then the server address.
  const client = await startWireGuardClient(world);
  t.true(await pings(world, client, WIREGUARD_SERVER_ADDRESS), 'the client pings 10.49.0.1 through the tunnel');
  t.true(await pings(world, client, WIREGUARD_SERVER_ADDRESS6), 'and 2001:db8:a160::1');
  const handshakes = await runIn(world, 'wireguard-ns', ['wg', 'show', 'wg0', 'latest-handshakes']);
  t.true(Number(handshakes.stdout.trim().split(/\s+/)[1] ?? '0') > 0, `the server saw a handshake (${handshakes.stdout.trim()})`);
  t.true((await showWireguardPeers(sandbox, 'wgc')).some((peer) => peer.latestHandshake > 0), 'the client saw the handshake');

  // DNS: dnsmasq in dns-ns resolves a name that only the internet's dnsmasq has a record for.
  t.deepEqual(await resolve(world, client, DNS_ADDRESS), [internet.ipv4.publicHost], `the client resolves ${TEST_NAME} at 172.16.0.1`);
  t.deepEqual(await resolve(world, client, DNS_ADDRESS6), [internet.ipv4.publicHost], 'and at fd00::1');
  t.deepEqual(await resolve(world, 'wireguard-ns', null), [internet.ipv4.publicHost], 'a program in wireguard-ns resolves it through resolv.conf');

  // TCP through the NAT: the internet host gets connections from the uplink address, not the client's.
  await startTcpServer(world, 'internet', internet.ipv4.publicHost);
  t.is(await tcpAnswer(world, client, internet.ipv4.publicHost), internet.ipv4.address, 'the internet host replies and saw the masqueraded address');
  await startTcpServer(world, 'internet', internet.ipv6.publicHost);
  t.is(await tcpAnswer(world, client, internet.ipv6.publicHost), internet.ipv6.address, 'over IPv6 too');

  // Idempotence, then removal of what the services part made.
  const second = await runCli(sandbox, ['up', '--config', world.configPath]);
  t.is(second.code, 0, second.stderr);
  t.regex(second.stdout, /no change/, `a second up changes nothing, the keys included: ${second.stdout}`);

  const down = await runCli(sandbox, ['down', '--config', world.configPath]);
  t.is(down.code, 0, down.stderr);
  t.regex(down.stdout, /- delete nftables table inet algo_netns from the root namespace/);
  t.regex(down.stdout, /- delete \/etc\/netns\/wireguard-ns\/resolv\.conf/);
  const tables = await sandbox.run(['nft', 'list', 'tables']);
  t.false(tables.stdout.includes('algo_netns'), 'the table is gone');
  const folders = await sandbox.run(['ls', '-A', '/etc/netns']);
  t.is(folders.stdout.trim(), '', 'no resolv.conf and no folder of ours remains in /etc/netns');
});
