/**
 * The idempotent operations against the real kernel, each in namespaces of its own, checked
 * with `ip -j`: a first call changes what it must, a second call changes nothing.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { NetlinkError } from '../src/netlink/errors.js';
import { ConflictError } from '../src/ops/change.js';
import { ensureAddress, removeAddress } from '../src/ops/addresses.js';
import { openNamedNamespace, type NetnsHandle } from '../src/ops/handle.js';
import { createLink, ensureLinkInNamespace, ensureLinkMtu, ensureLinkUp, ensureVethPair, getLink, removeLink } from '../src/ops/links.js';
import { createNamespace, deleteNamespace } from '../src/ops/netns.js';
import { ensureRoute, removeRoute, type RouteSpec } from '../src/ops/routes.js';
import { ensureRule, removeRule, type RuleSpec } from '../src/ops/rules.js';
import { ensureSysctl } from '../src/ops/ensure-sysctl.js';

const sandboxed = process.env['ALGO_NETNS_SANDBOX'] === '1';
const test: TestFn = sandboxed ? anyTest : (anyTest.skip as TestFn);
if (!sandboxed) console.log('Skipping ops.test.js: not inside the integration sandbox; run npm run test:integration');

const run = promisify(execFile);

async function ipJson<T>(namespace: string, args: string[]): Promise<T> {
  const { stdout } = await run('ip', ['-n', namespace, '-j', ...args]);
  return JSON.parse(stdout.trim() === '' ? '[]' : stdout) as T;
}

/** Makes a namespace and a handle on it, both removed when the test ends. */
async function namespace(t: ExecutionContext, label: string): Promise<NetnsHandle> {
  const name = `ops-${label}-${randomBytes(3).toString('hex')}`;
  await createNamespace(name);
  const handle = await openNamedNamespace(name);
  t.teardown(async () => {
    await handle.close();
    await deleteNamespace(name);
  });
  return handle;
}

test('veth pair with its peer made in the other namespace', async (t) => {
  const a = await namespace(t, 'a');
  const b = await namespace(t, 'b');

  t.is((await ensureVethPair(a, b, { name: 'va', peerName: 'vb', alias: 'algo-netns' })).length, 1);
  t.deepEqual(await ensureVethPair(a, b, { name: 'va', peerName: 'vb', alias: 'algo-netns' }), [], 'a second call changes nothing');

  const near = await ipJson<{ ifname: string; ifalias?: string; linkinfo?: { info_kind: string } }[]>(a.label, ['-d', 'link', 'show', 'va']);
  t.is(near[0]?.linkinfo?.info_kind, 'veth');
  t.is(near[0]?.ifalias, 'algo-netns');
  const far = await ipJson<{ ifname: string }[]>(b.label, ['link', 'show', 'vb']);
  t.is(far[0]?.ifname, 'vb', 'the peer was created inside the other namespace');

  t.is((await removeLink(a, 'va')).length, 1);
  t.deepEqual(await removeLink(a, 'va'), []);
  t.is(await getLink(b, 'vb'), null, 'deleting one end removed the peer');
});

test('link up, MTU and a bridge', async (t) => {
  const ns = await namespace(t, 'link');
  await createLink(ns, 'br0', 'bridge');

  t.is((await ensureLinkUp(ns, 'br0')).length, 1);
  t.deepEqual(await ensureLinkUp(ns, 'br0'), []);
  t.is((await ensureLinkMtu(ns, 'br0', 1400)).length, 1);
  t.deepEqual(await ensureLinkMtu(ns, 'br0', 1400), []);

  const link = await ipJson<{ mtu: number; flags: string[]; linkinfo?: { info_kind: string } }[]>(ns.label, ['-d', 'link', 'show', 'br0']);
  t.is(link[0]?.mtu, 1400);
  t.true(link[0]?.flags.includes('UP'));
  t.is(link[0]?.linkinfo?.info_kind, 'bridge');

  const error = await t.throwsAsync(createLink(ns, 'br0', 'bridge'), { instanceOf: NetlinkError });
  t.is(error?.code, 'EEXIST');
  t.regex(error?.message ?? '', new RegExp(`add bridge link br0 in ${ns.label}: File exists`));
});

test('moving a link between two named namespaces', async (t) => {
  const a = await namespace(t, 'from');
  const b = await namespace(t, 'to');
  // Bridges are local to their namespace (NETIF_F_NETNS_LOCAL); a veth can move.
  await createLink(a, 'mv0', 'veth');

  t.is((await ensureLinkInNamespace(a, b, 'mv0')).length, 1);
  t.deepEqual(await ensureLinkInNamespace(a, b, 'mv0'), []);
  t.is(await getLink(a, 'mv0'), null);
  t.is((await ipJson<{ ifname: string }[]>(b.label, ['link', 'show', 'mv0']))[0]?.ifname, 'mv0');
});

test('addresses, IPv4 and IPv6', async (t) => {
  const ns = await namespace(t, 'addr');
  await createLink(ns, 'br2', 'bridge');

  for (const cidr of ['10.49.0.1/16', '2001:db8:a160::1/48']) {
    t.is((await ensureAddress(ns, 'br2', cidr, { noDad: true })).length, 1, `${cidr} added`);
    t.deepEqual(await ensureAddress(ns, 'br2', cidr, { noDad: true }), [], `${cidr} not added twice`);
  }
  // The same address with another prefix length replaces the old one.
  t.is((await ensureAddress(ns, 'br2', '10.49.0.1/24')).length, 2);

  const shown = await ipJson<{ addr_info: { local: string; prefixlen: number }[] }[]>(ns.label, ['address', 'show', 'dev', 'br2']);
  const addresses = shown[0]?.addr_info.map((address) => `${address.local}/${address.prefixlen}`) ?? [];
  t.true(addresses.includes('10.49.0.1/24'));
  t.false(addresses.includes('10.49.0.1/16'));
  t.true(addresses.includes('2001:db8:a160::1/48'));

  t.is((await removeAddress(ns, 'br2', '2001:db8:a160::1/48')).length, 1);
  t.deepEqual(await removeAddress(ns, 'br2', '2001:db8:a160::1/48'), []);
});

test('IPv6 address on another link', async (t) => {
  const ns = await namespace(t, 'addr6');
  await createLink(ns, 'br4', 'bridge');
  await createLink(ns, 'br5', 'bridge');

  t.is((await ensureAddress(ns, 'br4', 'fd00:5::1/64', { noDad: true })).length, 1);
  t.deepEqual(await ensureAddress(ns, 'br5', 'fd00:5::1/64', { noDad: true }), [`add address fd00:5::1/64 to br5 in ${ns.label}`]);
  t.deepEqual(await ensureAddress(ns, 'br5', 'fd00:5::1/64', { noDad: true }), [], 'found on br5 although br4 has it too');
  t.deepEqual(await ensureAddress(ns, 'br4', 'fd00:5::1/64', { noDad: true }), [], 'found on br4 although br5 has it too');

  // Another prefix length replaces the address on its own link only.
  t.deepEqual(await ensureAddress(ns, 'br5', 'fd00:5::1/80', { noDad: true }), [
    `delete address fd00:5::1/64 from br5 in ${ns.label}`,
    `add address fd00:5::1/80 to br5 in ${ns.label}`,
  ]);
  const shown = await ipJson<{ ifname: string; addr_info: { local: string; prefixlen: number; scope: string }[] }[]>(ns.label, ['-6', 'address', 'show']);
  const global = (ifname: string): string[] =>
    shown.find((link) => link.ifname === ifname)?.addr_info.filter((address) => address.scope === 'global').map((address) => `${address.local}/${address.prefixlen}`) ?? [];
  t.deepEqual(global('br4'), ['fd00:5::1/64']);
  t.deepEqual(global('br5'), ['fd00:5::1/80']);

  t.deepEqual(await removeAddress(ns, 'br5', 'fd00:5::1/64'), [], 'br5 no longer has the /64');
  t.is((await removeAddress(ns, 'br4', 'fd00:5::1/64')).length, 1);
});

test('missing link fails, or is planned', async (t) => {
  const ns = await namespace(t, 'missing');
  const other = await namespace(t, 'other');
  const notFound = new RegExp(`^link nope0 not found in ${ns.label}$`);

  await t.throwsAsync(ensureAddress(ns, 'nope0', '10.9.0.1/24'), { instanceOf: ConflictError, message: notFound });
  await t.throwsAsync(ensureAddress(ns, 'nope0', 'fd00:9::1/64'), { instanceOf: ConflictError, message: notFound });
  t.deepEqual(await ensureAddress(ns, 'nope0', 'fd00:9::1/64', { dryRun: true }), [`add address fd00:9::1/64 to nope0 in ${ns.label}`]);
  t.deepEqual(await removeAddress(ns, 'nope0', '10.9.0.1/24'), []);

  const route: RouteSpec = { destination: '10.9.0.0/16', device: 'nope0', protocol: 245 };
  await t.throwsAsync(ensureRoute(ns, route), { instanceOf: ConflictError, message: notFound });
  t.deepEqual(await ensureRoute(ns, route, { dryRun: true }), [`add route 10.9.0.0/16 dev nope0 in ${ns.label}`]);

  await t.throwsAsync(ensureLinkInNamespace(ns, other, 'nope0'), { instanceOf: ConflictError, message: notFound });
  t.deepEqual(await ensureLinkInNamespace(ns, other, 'nope0', { dryRun: true }), [`move link nope0 from the ${ns.label} to ${other.label}`]);
});

test('foreign route reported before missing device', async (t) => {
  const ns = await namespace(t, 'foreign');
  await run('ip', ['-n', ns.label, 'route', 'add', 'unreachable', '10.9.0.0/16', 'proto', 'static']);

  const route: RouteSpec = { destination: '10.9.0.0/16', device: 'nope0', protocol: 245 };
  await t.throwsAsync(ensureRoute(ns, route, { replaceOnlyProtocol: 245 }), { instanceOf: ConflictError, message: /already exists with protocol 4, not 245/ });
});

test('routes of every type, in the main table and another', async (t) => {
  const ns = await namespace(t, 'route');
  await createLink(ns, 'br3', 'bridge');
  await ensureLinkUp(ns, 'br3');
  await ensureAddress(ns, 'br3', '192.0.2.1/24');
  await ensureAddress(ns, 'br3', '2001:db8:1::1/64', { noDad: true });

  const specs: RouteSpec[] = [
    { destination: '198.51.100.0/24', gateway: '192.0.2.2', device: 'br3' },
    { destination: '203.0.113.0/24', device: 'br3', table: 100, metric: 10 },
    { destination: '10.0.0.0/8', type: 'unreachable' },
    { destination: '10.1.0.0/16', type: 'prohibit', table: 1000 },
    { destination: '10.2.0.0/16', type: 'blackhole' },
    { destination: 'default', family: 6, gateway: '2001:db8:1::2', device: 'br3' },
    { destination: '2001:db8:ffff::/48', type: 'unreachable', table: 100 },
  ];
  for (const spec of specs) {
    t.is((await ensureRoute(ns, spec)).length, 1, `${JSON.stringify(spec)} added`);
    t.deepEqual(await ensureRoute(ns, spec), [], `${JSON.stringify(spec)} not added twice`);
  }

  const v4 = await ipJson<{ dst: string; type?: string; gateway?: string; table?: string; metric?: number }[]>(ns.label, ['route', 'show', 'table', 'all']);
  t.truthy(v4.find((route) => route.dst === '198.51.100.0/24' && route.gateway === '192.0.2.2'));
  t.truthy(v4.find((route) => route.dst === '203.0.113.0/24' && route.table === '100' && route.metric === 10));
  t.truthy(v4.find((route) => route.dst === '10.0.0.0/8' && route.type === 'unreachable'));
  t.truthy(v4.find((route) => route.dst === '10.1.0.0/16' && route.type === 'prohibit' && route.table === '1000'));
  t.truthy(v4.find((route) => route.dst === '10.2.0.0/16' && route.type === 'blackhole'));
  const v6 = await ipJson<{ dst: string; type?: string; gateway?: string; table?: string }[]>(ns.label, ['-6', 'route', 'show', 'table', 'all']);
  t.truthy(v6.find((route) => route.dst === 'default' && route.gateway === '2001:db8:1::2'));
  t.truthy(v6.find((route) => route.dst === '2001:db8:ffff::/48' && route.type === 'unreachable' && route.table === '100'));

  // A changed gateway replaces the route instead of adding a second one.
  const moved = await ensureRoute(ns, { destination: '198.51.100.0/24', gateway: '192.0.2.3', device: 'br3' });
  t.regex(moved[0] ?? '', /^replace route/);
  const after = await ipJson<{ dst: string; gateway?: string }[]>(ns.label, ['route', 'show', '198.51.100.0/24']);
  t.deepEqual(after.map((route) => route.gateway), ['192.0.2.3']);

  for (const spec of specs) {
    t.is((await removeRoute(ns, spec)).length, 1);
    t.deepEqual(await removeRoute(ns, spec), []);
  }
});

test('rules, IPv4 and IPv6', async (t) => {
  const ns = await namespace(t, 'rule');
  const specs: RuleSpec[] = [
    { family: 4, priority: 100, from: '10.49.0.0/16', to: '10.48.0.0/16', action: 'prohibit', protocol: 245 },
    { family: 4, priority: 101, iif: 'lo', action: 'lookup', table: 1000 },
    { family: 6, priority: 100, from: '2001:db8:a160::/48', action: 'unreachable' },
  ];
  for (const spec of specs) {
    t.is((await ensureRule(ns, spec)).length, 1);
    t.deepEqual(await ensureRule(ns, spec), []);
  }

  const v4 = await ipJson<{ priority: number; src?: string; srclen?: number; dst?: string; action?: string; table?: string; iif?: string; protocol?: string }[]>(ns.label, ['rule', 'show']);
  t.truthy(v4.find((rule) => rule.priority === 100 && rule.src === '10.49.0.0' && rule.srclen === 16 && rule.dst === '10.48.0.0' && rule.action === 'prohibit'));
  t.truthy(v4.find((rule) => rule.priority === 101 && rule.iif === 'lo' && rule.table === '1000'));
  const v6 = await ipJson<{ priority: number; src?: string; action?: string }[]>(ns.label, ['-6', 'rule', 'show']);
  t.truthy(v6.find((rule) => rule.priority === 100 && rule.src === '2001:db8:a160::' && rule.action === 'unreachable'));

  for (const spec of specs) {
    t.is((await removeRule(ns, spec)).length, 1);
    t.deepEqual(await removeRule(ns, spec), []);
  }
});

test('sysctls are set inside the namespace only', async (t) => {
  const ns = await namespace(t, 'sysctl');
  const outside = (await run('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim();
  const wanted = outside === '1' ? '0' : '1';

  const first = await ensureSysctl(ns, 'net.ipv4.ip_forward', wanted);
  t.is(first.changes.length, 1);
  t.is(first.previous, outside === '1' ? '1' : first.previous);
  t.deepEqual((await ensureSysctl(ns, 'net.ipv4.ip_forward', wanted)).changes, []);
  t.is((await run('ip', ['netns', 'exec', ns.label, 'sysctl', '-n', 'net.ipv4.ip_forward'])).stdout.trim(), wanted);
  t.is((await run('sysctl', ['-n', 'net.ipv4.ip_forward'])).stdout.trim(), outside, 'the runner namespace kept its value');
});
