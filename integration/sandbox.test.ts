import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { open, readdir, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';

import test from 'ava';

import { CommandError } from './command.js';
import { buildInternet } from './internet.js';
import { insideRunnerSandbox, machineNetworkNamespace, pidExists, readNamespaceId, Sandbox } from './sandbox.js';
import { probeWireguardGo, startWireguardGo } from './wireguard-go.js';

// AVA takes test declarations only until the module finishes loading, so probes come first.
const wireguardGoMissing = await probeWireguardGo();
if (wireguardGoMissing !== null) {
  console.log(`Skipping the wireguard-go sandbox test: ${wireguardGoMissing}`);
}

interface IpLink {
  ifname: string;
  link_type?: string;
}

interface IpRoute {
  dst?: string;
  dev?: string;
  gateway?: string;
}

/** Link names in the test process's own namespace, read with `ip -j link show` (changes nothing). */
async function runnerLinkNames(): Promise<string[]> {
  const { stdout } = await promisify(execFile)('ip', ['-j', 'link', 'show']);
  return (JSON.parse(stdout) as IpLink[]).map((link) => link.ifname);
}

async function sandboxLinkNames(sandbox: Sandbox): Promise<string[]> {
  return (await sandbox.ipJson<IpLink[]>(['link', 'show'])).map((link) => link.ifname);
}

/**
 * Opens the network namespace of a sandbox. The open handle keeps the namespace's inode number
 * from being reused by a sandbox of a concurrent test while this test looks for processes in it.
 */
async function pinNamespace(sandbox: Sandbox): Promise<{ id: string; handle: FileHandle }> {
  const handle = await open(`/proc/${sandbox.pid}/ns/net`, 'r');
  return { id: `net:[${(await handle.stat()).ino}]`, handle };
}

/** Pids of every process whose network namespace is `netns`, such as `net:[4026532285]`. */
async function pidsInNamespace(netns: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (/^\d+$/.test(entry) && (await readNamespaceId(Number(entry), 'net')) === netns) {
      pids.push(Number(entry));
    }
  }
  return pids;
}

// The other tests make sandboxes of their own and run anywhere; this one checks the runner.
if (!insideRunnerSandbox()) {
  console.log('Skipping the runner namespace test: ALGO_NETNS_SANDBOX is not 1; run npm run test:integration');
}

(insideRunnerSandbox() ? test : test.skip)('runner puts tests outside the machine namespace', async (t) => {
  const own = await readNamespaceId('self', 'net');
  const machine = machineNetworkNamespace();
  t.not(own, null);
  if (machine === null) {
    t.log('The machine network namespace is not readable here, so only the variable was checked');
  } else {
    t.not(own, machine);
  }
});

test('sandbox link is invisible elsewhere', async (t) => {
  const first = await Sandbox.create();
  t.teardown(() => first.destroy());
  const second = await Sandbox.create();
  t.teardown(() => second.destroy());

  await first.run(['ip', 'link', 'add', 'probe-a', 'type', 'veth', 'peer', 'name', 'probe-b']);

  t.deepEqual((await sandboxLinkNames(first)).sort(), ['lo', 'probe-a', 'probe-b']);
  t.deepEqual(await sandboxLinkNames(second), ['lo']);
  t.false((await runnerLinkNames()).includes('probe-a'));
});

test('sandbox has lo up and private /run', async (t) => {
  const sandbox = await Sandbox.create();
  t.teardown(() => sandbox.destroy());

  const [lo] = await sandbox.ipJson<Array<{ flags: string[] }>>(['link', 'show', 'lo']);
  t.true(lo?.flags.includes('UP'));

  // findmnt lists stacked mounts bottom first, so the sandbox's own mount is the last line.
  const mounts = await sandbox.run(['findmnt', '--noheadings', '--output', 'FSTYPE,SOURCE', '--mountpoint', '/run']);
  const top = mounts.stdout.trim().split('\n').at(-1) ?? '';
  t.deepEqual(top.split(/\s+/), ['tmpfs', 'algo-netns-sandbox']);

  const marker = `/run/sandbox-test-${sandbox.pid}`;
  await sandbox.run(['touch', marker]);
  t.false(existsSync(marker), 'a file made in the sandbox /run is not in the runner /run');

  t.is((await sandbox.run(['pwd'])).stdout.trim(), process.cwd());
});

test('destroy ends holder and namespace', async (t) => {
  const sandbox = await Sandbox.create();
  t.teardown(() => sandbox.destroy());
  const netns = await pinNamespace(sandbox);
  t.teardown(() => netns.handle.close());
  await sandbox.run(['ip', 'netns', 'add', 'inner']);

  await sandbox.destroy();

  t.false(pidExists(sandbox.pid));
  t.deepEqual(await pidsInNamespace(netns.id), []);
  t.throws(() => sandbox.run(['true']), { message: /was already destroyed/ });
});

test('run reports failures and timeouts', async (t) => {
  const sandbox = await Sandbox.create();
  t.teardown(() => sandbox.destroy());

  const failed = await t.throwsAsync(sandbox.run(['ip', 'link', 'show', 'dev', 'no-such-link']), { instanceOf: CommandError });
  t.regex(failed?.message ?? '', /ip link show dev no-such-link \(in sandbox \d+\) exited with code 1: .*no-such-link/);

  const allowed = await sandbox.run(['sh', '-c', 'echo out; echo err >&2; exit 3'], { allowFailure: true });
  t.deepEqual(allowed, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });

  const started = Date.now();
  await t.throwsAsync(sandbox.run(['sleep', '30'], { timeoutMs: 300 }), { message: /timed out after 300 ms/ });
  t.true(Date.now() - started < 5_000);
});

test('destroy kills and reports stray processes', async (t) => {
  const sandbox = await Sandbox.create();
  // destroy() rejects on purpose here and returns the same promise when called again, which the
  // test checks below.
  t.teardown(() => sandbox.destroy().catch(() => {}));
  const netns = await pinNamespace(sandbox);
  t.teardown(() => netns.handle.close());

  // The background sleep outlives the shell, and the sandbox does not track it.
  await sandbox.runShell('sleep 60 >/dev/null 2>&1 &');

  await t.throwsAsync(sandbox.destroy(), { message: /untracked processes .*sleep 60/ });
  t.deepEqual(await pidsInNamespace(netns.id), []);
});

test('daemon is stopped by destroy', async (t) => {
  const sandbox = await Sandbox.create();
  t.teardown(() => sandbox.destroy());
  const daemon = sandbox.spawnDaemon(['sleep', '60']);
  t.true(daemon.running);

  await sandbox.destroy();

  t.false(daemon.running);
  t.is((await daemon.exited).signal, 'SIGTERM');
  t.false(pidExists(daemon.pid));
});

test('internet host answers ping', async (t) => {
  const sandbox = await Sandbox.create();
  t.teardown(() => sandbox.destroy());

  const internet = await buildInternet(sandbox, { returnRoutes: ['10.49.0.0/16', '2001:db8:a160::/48'] });

  const ping4 = await sandbox.run(['ping', '-c1', '-W2', internet.ipv4.publicHost]);
  t.regex(ping4.stdout, /1 received/);
  const ping6 = await sandbox.run(['ping', '-6', '-c1', '-W2', internet.ipv6.publicHost]);
  t.regex(ping6.stdout, /1 received/);

  const [route] = await sandbox.ipJson<IpRoute[]>(['route', 'get', internet.ipv4.publicHost]);
  t.is(route?.dev, 'eth0');
  t.is(route?.gateway, '198.51.100.1');

  const returnRoutes = await sandbox.ipJson<IpRoute[]>(['-n', 'internet', 'route', 'show', '10.49.0.0/16']);
  t.deepEqual(returnRoutes.map((entry) => [entry.dst, entry.gateway]), [['10.49.0.0/16', '198.51.100.2']]);
  const returnRoutes6 = await sandbox.ipJson<IpRoute[]>(['-n', 'internet', '-6', 'route', 'show', '2001:db8:a160::/48']);
  t.deepEqual(returnRoutes6.map((entry) => [entry.dst, entry.gateway]), [['2001:db8:a160::/48', '2001:db8:ffff::2']]);

  const forwarding = await sandbox.run(['ip', 'netns', 'exec', 'internet', 'cat', '/proc/sys/net/ipv4/ip_forward']);
  t.is(forwarding.stdout.trim(), '0', 'the internet namespace forwards nothing');
});

(wireguardGoMissing === null ? test : test.skip)('wireguard-go link lives until destroy', async (t) => {
  const sandbox = await Sandbox.create();
  t.teardown(() => sandbox.destroy());
  const netns = await pinNamespace(sandbox);
  t.teardown(() => netns.handle.close());
  const daemon = await startWireguardGo(sandbox, 'wg-probe');

  const links = await sandbox.ipJson<IpLink[]>(['link', 'show', 'dev', 'wg-probe']);
  t.deepEqual(links.map((link) => [link.ifname, link.link_type]), [['wg-probe', 'none']]);
  t.regex((await sandbox.run(['wg', 'show', 'wg-probe'])).stdout, /interface: wg-probe/);
  t.false((await runnerLinkNames()).includes('wg-probe'));

  await sandbox.destroy();

  t.false(pidExists(daemon.pid));
  t.deepEqual(await pidsInNamespace(netns.id), []);
});
