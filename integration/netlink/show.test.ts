/**
 * `algo-netns show`: its JSON against `ip -j -d` for the fields both print, its text output,
 * --namespace, and its usage errors. Each test runs the CLI inside a sandbox of its own.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';

import { runCli } from '../cli.js';
import { Sandbox, sandboxFor } from '../sandbox.js';
import { compareCommonFields, compareLists, newComparison } from './compare.js';

const sandboxed = process.env['ALGO_NETNS_SANDBOX'] === '1';
const test: TestFn = sandboxed ? anyTest : (anyTest.skip as TestFn);
if (!sandboxed) console.log('Skipping show.test.js: not inside the integration sandbox; run npm run test:integration');

type Json = Record<string, unknown>;

const STATE = [
  'sysctl -qw net.ipv6.conf.all.accept_dad=0',
  'sysctl -qw net.ipv6.conf.default.accept_dad=0',
  'ip link add va type veth peer name vb',
  'ip link add br0 type bridge priority 4096 forward_delay 400',
  'ip link set vb master br0',
  'ip link set va mtu 1420 alias uplink-of-test',
  'ip link set va up',
  'ip link set vb up',
  'ip link set br0 up',
  'ip addr add 10.49.0.1/16 dev va',
  'ip addr add 10.49.0.2/16 dev va',
  'ip addr add 10.50.0.1/24 dev br0 valid_lft 3600 preferred_lft 1800 label br0:lan',
  'ip -6 addr add 2001:db8:a160::1/64 dev va nodad',
  'ip -6 addr add 2001:db8:b::1/64 dev br0 noprefixroute',
  'ip route add 10.60.0.0/16 via 10.49.0.254 table 100 metric 20',
  'ip route add 10.61.0.0/16 dev va proto static src 10.49.0.1',
  'ip route add unreachable 10.63.0.0/16 table 1000',
  'ip -6 route add 2001:db8:1::/64 via 2001:db8:a160::2 dev va metric 300',
  'ip -6 route add prohibit 2001:db8:2::/64',
  'ip rule add from 10.48.0.0/16 to 10.49.0.0/16 prohibit priority 100 protocol static',
  'ip rule add iif va lookup 1000 priority 101',
  'ip rule add fwmark 0x10/0xff unreachable priority 300',
  'ip -6 rule add from 2001:db8:a160::/48 lookup 100 priority 400',
];

async function sandboxWithState(t: ExecutionContext): Promise<Sandbox> {
  const sandbox = await sandboxFor(t);
  await sandbox.runShell(STATE.join(' && '));
  return sandbox;
}

async function showJson(t: ExecutionContext, sandbox: Sandbox, args: string[]): Promise<Json[]> {
  const result = await runCli(sandbox, ['show', ...args, '--json']);
  t.is(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as Json[];
}

function routeKey(route: Json): string {
  return [route.type ?? 'unicast', route.dst, route.table ?? 'main', route.dev ?? '-', route.metric ?? '-'].join(' ');
}

function ruleKey(rule: Json): string {
  return [rule.priority, rule.src, rule.dst ?? '-'].join(' ');
}

test('show link --json matches ip -j -d link', async (t) => {
  const sandbox = await sandboxWithState(t);

  const ours = await showJson(t, sandbox, ['link']);
  const theirs = await sandbox.ipJson<Json[]>(['-d', 'link', 'show']);

  const comparison = newComparison();
  compareLists(ours, theirs, (link) => String(link.ifindex), 'link', comparison);
  t.deepEqual(comparison.differences, []);
  t.is(comparison.objects, 4);
  t.log(`${comparison.fields} fields compared`);
  const va = ours.find((link) => link.ifname === 'va');
  t.like(va, { mtu: 1420, ifalias: 'uplink-of-test', link: 'vb', operstate: 'UP', linkinfo: { info_kind: 'veth' } });
  t.like(ours.find((link) => link.ifname === 'br0'), { linkinfo: { info_kind: 'bridge', info_data: { priority: 4096, forward_delay: 400 } } });
});

test('show address --json matches ip -j addr', async (t) => {
  const sandbox = await sandboxWithState(t);

  const ours = await showJson(t, sandbox, ['address']);
  const theirs = await sandbox.ipJson<Json[]>(['-d', 'address', 'show']);

  const comparison = newComparison();
  compareLists(ours, theirs, (link) => String(link.ifindex), 'link', comparison, (a, b, path) => {
    const { addr_info: ourAddresses = [], ...ourLink } = a as Json & { addr_info?: Json[] };
    const { addr_info: theirAddresses = [], ...theirLink } = b as Json & { addr_info?: Json[] };
    compareCommonFields(ourLink, theirLink, path, comparison);
    compareLists(ourAddresses, theirAddresses, (address) => `${String(address.local)}/${String(address.prefixlen)}`, `${path} address`, comparison);
  });
  t.deepEqual(comparison.differences, []);
  t.log(`${comparison.fields} fields compared`);

  const addresses = ours.flatMap((link) => link.addr_info as Json[]);
  t.like(addresses.find((address) => address.local === '10.49.0.2'), { secondary: true, prefixlen: 16, scope: 'global' });
  t.like(addresses.find((address) => address.local === '10.50.0.1'), { dynamic: true, label: 'br0:lan' });
  t.like(addresses.find((address) => address.local === '2001:db8:a160::1'), { family: 'inet6', nodad: true });
  t.like(addresses.find((address) => address.local === '2001:db8:b::1'), { noprefixroute: true });
});

test('show route --json matches ip -j route', async (t) => {
  const sandbox = await sandboxWithState(t);

  const ours = await showJson(t, sandbox, ['route']);
  const theirs = [
    ...(await sandbox.ipJson<Json[]>(['-d', '-4', 'route', 'show', 'table', 'all'])),
    ...(await sandbox.ipJson<Json[]>(['-d', '-6', 'route', 'show', 'table', 'all'])),
  ];

  const comparison = newComparison();
  compareLists(ours, theirs, routeKey, 'route', comparison);
  t.deepEqual(comparison.differences, []);
  t.log(`${comparison.fields} fields compared`);
  t.like(ours.find((route) => route.dst === '10.60.0.0/16'), { gateway: '10.49.0.254', table: '100', metric: 20, protocol: 'boot' });
  t.like(ours.find((route) => route.dst === '10.61.0.0/16'), { dev: 'va', protocol: 'static', scope: 'link', prefsrc: '10.49.0.1', table: 'main' });
  t.like(ours.find((route) => route.dst === '10.63.0.0/16'), { type: 'unreachable', table: '1000' });
  t.like(ours.find((route) => route.dst === '2001:db8:2::/64'), { type: 'prohibit' });
});

test('show rule --json matches ip -j rule', async (t) => {
  const sandbox = await sandboxWithState(t);

  const ours = await showJson(t, sandbox, ['rule']);
  const theirs = [...(await sandbox.ipJson<Json[]>(['-d', '-4', 'rule', 'show'])), ...(await sandbox.ipJson<Json[]>(['-d', '-6', 'rule', 'show']))];

  const comparison = newComparison();
  compareLists(ours, theirs, ruleKey, 'rule', comparison);
  t.deepEqual(comparison.differences, []);
  t.log(`${comparison.fields} fields compared`);
  t.like(ours.find((rule) => rule.priority === 100), { src: '10.48.0.0', srclen: 16, dst: '10.49.0.0', dstlen: 16, action: 'prohibit', protocol: 'static' });
  t.like(ours.find((rule) => rule.priority === 101), { iif: 'va', table: '1000', action: 'lookup' });
  t.like(ours.find((rule) => rule.priority === 300), { fwmark: '0x10', fwmask: '0xff', action: 'unreachable' });
});

test('show prints one line per object', async (t) => {
  const sandbox = await sandboxWithState(t);

  const links = await runCli(sandbox, ['show', 'link']);
  const routes = await runCli(sandbox, ['show', 'route']);
  const rules = await runCli(sandbox, ['show', 'rule']);

  t.is(links.code, 0);
  t.regex(links.stdout, /^\d+: va@vb: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1420 state UP veth link\/ether \S+ alias uplink-of-test$/m);
  t.regex(routes.stdout, /^unreachable 10\.63\.0\.0\/16 table 1000 proto boot scope global$/m);
  t.regex(rules.stdout, /^100: from 10\.48\.0\.0\/16 to 10\.49\.0\.0\/16 prohibit proto static$/m);
});

test('show --namespace reads that namespace', async (t) => {
  const sandbox = await sandboxWithState(t);
  await sandbox.runShell('ip netns add other && ip -n other link add dummy-free type bridge && ip -n other addr add 192.0.2.9/24 dev dummy-free');

  const ours = await showJson(t, sandbox, ['address', '--namespace', 'other']);
  const theirs = await sandbox.ipJson<Json[]>(['-n', 'other', 'address', 'show']);

  t.deepEqual(
    ours.map((link) => link.ifname),
    theirs.map((link) => link.ifname),
  );
  const addresses = ours.flatMap((link) => (link.addr_info as Json[]).map((address) => address.local));
  t.deepEqual(addresses, ['192.0.2.9']);
});

test('show rejects bad arguments', async (t) => {
  const sandbox = await sandboxFor(t);

  const unknownObject = await runCli(sandbox, ['show', 'neighbours']);
  const missingObject = await runCli(sandbox, ['show']);
  const missingNamespace = await runCli(sandbox, ['show', 'link', '--namespace', 'absent']);

  t.is(unknownObject.code, 2);
  t.regex(unknownObject.stderr, /unknown object "neighbours": expected link, address, route or rule/);
  t.is(missingObject.code, 2);
  t.is(missingNamespace.code, 1);
  t.regex(missingNamespace.stderr, /namespace absent not found/);
});
