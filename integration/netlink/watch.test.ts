/**
 * `algo-netns watch` inside a sandbox. It prints the changes made with `ip`, tagged with
 * their namespace, and reports an overrun with a snapshot. On SIGINT or SIGTERM it exits 0
 * with its relays gone, which the sandbox's teardown checks: it fails on any process left.
 */
import anyTest, { type ExecutionContext, type TestFn } from 'ava';

import { CLI_PATH } from '../cli.js';
import { type Daemon, Sandbox, sandboxFor, waitFor } from '../sandbox.js';

const sandboxed = process.env['ALGO_NETNS_SANDBOX'] === '1';
const test: TestFn = sandboxed ? anyTest : (anyTest.skip as TestFn);
if (!sandboxed) console.log('Skipping watch.test.js: not inside the integration sandbox; run npm run test:integration');

const LINE_TIMEOUT_MS = 20_000;

type Json = Record<string, unknown>;

async function startWatch(t: ExecutionContext, sandbox: Sandbox, args: string[]): Promise<Daemon> {
  const daemon = sandbox.spawnDaemon([process.execPath, CLI_PATH, 'watch', ...args]);
  await waitFor('watch to subscribe', async () => daemon.stderr.includes('algo-netns watch: watching'), LINE_TIMEOUT_MS);
  t.log(daemon.stderr.trim());
  return daemon;
}

/** Parses the daemon's output lines; the first may be cut, because the daemon keeps only the last megabyte. */
function jsonLines(daemon: Daemon): Json[] {
  return daemon.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .flatMap((line, index) => {
      try {
        return [JSON.parse(line) as Json];
      } catch (error) {
        if (index === 0) return [];
        throw error;
      }
    });
}

/** Waits for the daemon to exit on its own, and fails the test instead of hanging if it does not. */
async function exitStatus(daemon: Daemon): Promise<unknown> {
  let status: unknown = null;
  void daemon.exited.then((value) => (status = value));
  await waitFor('watch to exit', async () => status !== null, LINE_TIMEOUT_MS);
  return status;
}

async function waitForLine(daemon: Daemon, what: string, match: (line: Json) => boolean): Promise<Json> {
  let found: Json | undefined;
  await waitFor(what, async () => (found = jsonLines(daemon).find(match)) !== undefined, LINE_TIMEOUT_MS);
  return found as Json;
}

test('watch --all --json prints changes in every namespace', async (t) => {
  const sandbox = await sandboxFor(t);
  await sandbox.runShell('ip netns add first');
  const daemon = await startWatch(t, sandbox, ['--all', '--json']);

  await sandbox.runShell(
    [
      'ip link add wa type veth peer name wb',
      'ip addr add 10.88.0.1/24 dev wa',
      'ip link set wa up',
      'ip route add 10.89.0.0/16 via 10.88.0.2 table 100',
      'ip rule add from 10.90.0.0/16 prohibit priority 200',
      'ip -n first link add fbr type bridge',
      'ip netns add second',
    ].join(' && '),
  );
  // Namespaces added later are picked up by a poll of /run/netns once a second.
  await waitForLine(daemon, 'namespace second', (line) => line.event === 'namespace' && line.namespace === 'second');
  await sandbox.runShell('ip -n second link add sbr type bridge && ip link del wa');

  const link = await waitForLine(daemon, 'link wa', (line) => line.event === 'link' && line.ifname === 'wa' && line.change === 'new');
  const address = await waitForLine(daemon, 'address', (line) => line.event === 'address' && line.local === '10.88.0.1');
  const route = await waitForLine(daemon, 'route', (line) => line.event === 'route' && line.dst === '10.89.0.0/16');
  const rule = await waitForLine(daemon, 'rule', (line) => line.event === 'rule' && line.priority === 200);
  const first = await waitForLine(daemon, 'bridge in first', (line) => line.event === 'link' && line.ifname === 'fbr');
  const second = await waitForLine(daemon, 'bridge in second', (line) => line.event === 'link' && line.ifname === 'sbr');
  const deleted = await waitForLine(daemon, 'link wa deleted', (line) => line.event === 'link' && line.ifname === 'wa' && line.change === 'del');

  t.like(link, { namespace: null, link_type: 'ether', linkinfo: { info_kind: 'veth' } });
  t.like(address, { namespace: null, change: 'new', ifname: 'wa', family: 'inet', prefixlen: 24 });
  t.like(route, { namespace: null, gateway: '10.88.0.2', dev: 'wa', table: '100', family: 'inet' });
  t.like(rule, { namespace: null, action: 'prohibit', src: '10.90.0.0', srclen: 16 });
  t.like(first, { namespace: 'first', change: 'new' });
  t.like(second, { namespace: 'second', change: 'new' });
  t.like(deleted, { namespace: null });

  const status = await daemon.stop();
  t.deepEqual(status, { code: 0, signal: null });
});

test('watch --namespace prints one line per change', async (t) => {
  const sandbox = await sandboxFor(t);
  await sandbox.runShell('ip netns add blue');
  const daemon = await startWatch(t, sandbox, ['--namespace', 'blue']);

  await sandbox.runShell('ip -n blue link add bbr type bridge && ip -n blue addr add 192.0.2.7/24 dev bbr && ip link add rootonly type bridge');
  await waitFor('the address line', async () => daemon.stdout.includes('192.0.2.7'), LINE_TIMEOUT_MS);

  const lines = daemon.stdout.trim().split('\n');
  t.true(lines.some((line) => /^\[blue\] link new \d+: bbr: <BROADCAST,MULTICAST> mtu 1500 state DOWN bridge link\/ether \S+$/.test(line)), lines.join('\n'));
  t.true(lines.some((line) => /^\[blue\] address new \d+: bbr inet 192\.0\.2\.7\/24 scope global valid_lft forever preferred_lft forever$/.test(line)), lines.join('\n'));
  t.false(daemon.stdout.includes('rootonly'), 'changes in other namespaces stay out');

  // SIGINT ends it as cleanly as SIGTERM.
  process.kill(daemon.pid, 'SIGINT');
  t.deepEqual(await daemon.exited, { code: 0, signal: null });
});

test('watch reports an overrun and a snapshot', async (t) => {
  const sandbox = await sandboxFor(t);
  await sandbox.runShell('ip link add obr type bridge');
  // Text lines: with --json the snapshot of 10,000 addresses is one line of more than the
  // megabyte of output that the sandbox keeps of a daemon.
  const daemon = await startWatch(t, sandbox, []);

  // The relay of the current namespace is the watch's only child process. Stopped, it reads
  // nothing while 10,000 addresses and their routes arrive, so its socket overruns.
  const relayPid = Number((await sandbox.run(['pgrep', '-P', String(daemon.pid)])).stdout.trim().split('\n')[0]);
  t.true(relayPid > 0);
  const lines = Array.from({ length: 10_000 }, (_, i) => `address add 10.${100 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}/32 dev obr`);
  process.kill(relayPid, 'SIGSTOP');
  try {
    await sandbox.run(['ip', '-batch', '-'], { input: `${lines.join('\n')}\n`, timeoutMs: 60_000 });
  } finally {
    process.kill(relayPid, 'SIGCONT');
  }

  await waitFor('the snapshot line', async () => /^\[root namespace\] snapshot: /m.test(daemon.stdout), LINE_TIMEOUT_MS);
  const overrun = /^\[root namespace\] overrun: (.*)$/m.exec(daemon.stdout);
  const snapshot = /^\[root namespace\] snapshot: (\d+) links, (\d+) addresses, (\d+) routes, (\d+) rules$/m.exec(daemon.stdout);
  t.log(overrun?.[0] ?? 'no overrun line');
  t.truthy(overrun);
  // lo's two addresses and the 10,000 on obr.
  t.is(Number(snapshot?.[2]), 10_002);
  t.true((overrun?.index ?? Infinity) < (snapshot?.index ?? -1), 'the overrun line comes first');

  // Changes after the snapshot still come through.
  await sandbox.runShell('ip link add after type bridge');
  await waitFor('link after', async () => /^\[root namespace\] link new \d+: after: /m.test(daemon.stdout), LINE_TIMEOUT_MS);
  t.deepEqual(await daemon.stop(), { code: 0, signal: null });
});

test('watch --all follows a replaced namespace', async (t) => {
  const sandbox = await sandboxFor(t);
  await sandbox.runShell('ip netns add dns-ns');
  const daemon = await startWatch(t, sandbox, ['--all', '--json']);

  // Deleted and created again well within one poll of /run/netns, as `down && up` does: the
  // name never goes missing at a poll, only the namespace behind it changes.
  const started = performance.now();
  await sandbox.runShell('ip netns del dns-ns && ip netns add dns-ns');
  const replaceMs = performance.now() - started;
  t.log(`namespace replaced in ${replaceMs.toFixed(0)} ms`);
  t.true(replaceMs < 200, 'the replacement must fit between two polls for this test to mean anything');

  const isNew = (line: Json): boolean => line.event === 'namespace' && line.namespace === 'dns-ns' && line.change === 'new';
  await waitForLine(daemon, 'namespace new for dns-ns', isNew);
  await sandbox.runShell('ip -n dns-ns addr add 192.0.2.99/32 dev lo');
  const address = await waitForLine(daemon, 'address in the new dns-ns', (line) => line.event === 'address' && line.local === '192.0.2.99');

  const lines = jsonLines(daemon);
  const deletedAt = lines.findIndex((line) => line.event === 'namespace' && line.namespace === 'dns-ns' && line.change === 'del');
  t.true(deletedAt !== -1, 'the old namespace is reported deleted');
  t.true(deletedAt < lines.findIndex(isNew), '"namespace del" comes before "namespace new"');
  t.like(address, { namespace: 'dns-ns', change: 'new', ifname: 'lo' });
  t.deepEqual(await daemon.stop(), { code: 0, signal: null });
});

test('watch --namespace exits when it is replaced', async (t) => {
  const sandbox = await sandboxFor(t);
  await sandbox.runShell('ip netns add blue');
  const daemon = await startWatch(t, sandbox, ['--namespace', 'blue']);

  await sandbox.runShell('ip netns del blue && ip netns add blue');

  t.deepEqual(await exitStatus(daemon), { code: 1, signal: null });
  t.regex(daemon.stderr, /namespace blue was replaced by a new namespace of the same name; run watch again/);
});

test('watch --namespace exits when it is deleted', async (t) => {
  const sandbox = await sandboxFor(t);
  await sandbox.runShell('ip netns add blue');
  const daemon = await startWatch(t, sandbox, ['--namespace', 'blue']);

  await sandbox.runShell('ip netns del blue');

  t.deepEqual(await exitStatus(daemon), { code: 1, signal: null });
  t.regex(daemon.stderr, /namespace blue was deleted; watch stopped/);
});

test('watch rejects --namespace with --all', async (t) => {
  const sandbox = await sandboxFor(t);

  const result = await sandbox.run([process.execPath, CLI_PATH, 'watch', '--all', '--namespace', 'x'], { allowFailure: true });

  t.is(result.code, 2);
  t.regex(result.stderr, /--namespace and --all exclude each other/);
});
