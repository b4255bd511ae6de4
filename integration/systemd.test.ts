/**
 * The generated units checked by systemd itself: `algo-netns systemd install` into a temporary
 * root, `systemd-analyze verify` and `systemd-analyze security --offline` on the result, and an
 * uninstall that leaves the root as it was.
 *
 * systemd-analyze reads units from SYSTEMD_UNIT_PATH: the temporary root's /etc/systemd/system
 * first, then the host's packaged units (for sysinit.target, multi-user.target and
 * wg-quick@.service from wireguard-tools). Units of packages the build machines lack
 * (strongswan-starter.service, dnscrypt-proxy.socket and .service) are stubs written into the
 * temporary root, with the dependencies that matter here and ExecStart= pointing at /bin/sleep,
 * because verify rejects a command that does not exist.
 */
import { access, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import anyTest, { type ExecutionContext, type TestFn } from 'ava';

import { CLI_PATH, NOBODY, probeCommandAsNobody, runCli } from './cli.js';
import { insideRunnerSandbox, probeProgram, type RunResult, Sandbox, sandboxFor, skipsFor } from './sandbox.js';

const test: TestFn = insideRunnerSandbox() ? anyTest : (anyTest.skip as TestFn);
if (!insideRunnerSandbox()) console.log('Skipping systemd.test.js: not inside the integration sandbox; run npm run test:integration');

/** Where Debian and Ubuntu packages put their units (/lib is a link to /usr/lib on both). */
const PACKAGED_UNITS = '/usr/lib/systemd/system';

const SERVICE_UNITS = ['strongswan-starter.service', 'dnscrypt-proxy.socket', 'dnscrypt-proxy.service', 'wg-quick@wg0.service'];

/** Stand-ins for the units of packages that are not installed here, as /etc/systemd/system files. */
const STUB_UNITS: Record<string, string> = {
  'strongswan-starter.service': `[Unit]
Description=stub of strongSwan's ipsec.conf daemon
After=network-online.target

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`,
  'dnscrypt-proxy.socket': `[Unit]
Description=stub of dnscrypt-proxy's listening socket

[Socket]
ListenStream=127.0.2.1:53
ListenDatagram=127.0.2.1:53

[Install]
WantedBy=sockets.target
`,
  'dnscrypt-proxy.service': `[Unit]
Description=stub of dnscrypt-proxy
Requires=dnscrypt-proxy.socket

[Service]
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
`,
};

/** What Algo's own strongSwan hardening drop-in sets, including AF_PACKET, which ours removes. */
const ALGO_STRONGSWAN_DROP_IN = `[Service]
NoNewPrivileges=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_PACKET AF_UNIX
`;

/** Returns the reason to skip, or null when systemd-analyze and the packaged units are here. */
async function missingTools(): Promise<string | null> {
  const program = await probeProgram('systemd-analyze');
  if (program !== null) return program;

  for (const unit of ['multi-user.target', 'sysinit.target', 'wg-quick@.service']) {
    try {
      await access(join(PACKAGED_UNITS, unit));
    } catch {
      return `${join(PACKAGED_UNITS, unit)} is missing (systemd and wireguard-tools provide the packaged units)`;
    }
  }

  return null;
}

/**
 * Makes a temporary root that looks like an Algo host's unit folder: the stub units enabled with
 * the links `systemctl enable` makes, and Algo's strongSwan drop-in.
 */
async function algoHostRoot(t: ExecutionContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'algo-netns-units-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const units = join(root, 'etc/systemd/system');

  await mkdir(join(units, 'strongswan-starter.service.d'), { recursive: true });
  await writeFile(join(units, 'strongswan-starter.service.d/100-CustomLimitations.conf'), ALGO_STRONGSWAN_DROP_IN);
  for (const [name, text] of Object.entries(STUB_UNITS)) {
    await writeFile(join(units, name), text);
  }

  await mkdir(join(units, 'multi-user.target.wants'));
  await mkdir(join(units, 'sockets.target.wants'));
  await symlink('../strongswan-starter.service', join(units, 'multi-user.target.wants/strongswan-starter.service'));
  await symlink('../dnscrypt-proxy.service', join(units, 'multi-user.target.wants/dnscrypt-proxy.service'));
  await symlink(join(PACKAGED_UNITS, 'wg-quick@.service'), join(units, 'multi-user.target.wants/wg-quick@wg0.service'));
  await symlink('../dnscrypt-proxy.socket', join(units, 'sockets.target.wants/dnscrypt-proxy.socket'));

  return root;
}

/** Lists every path under `root`, folders with a trailing "/", sorted. */
async function listTree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.map((entry) => `${relative(root, join(entry.path, entry.name))}${entry.isDirectory() ? '/' : ''}`).sort();
}

/** Runs systemd-analyze with units read from `root` before the packaged ones. */
function analyze(sandbox: Sandbox, root: string, args: readonly string[]): Promise<RunResult> {
  return sandbox.run(['systemd-analyze', ...args], {
    allowFailure: true,
    timeoutMs: 60_000,
    env: { SYSTEMD_UNIT_PATH: `${join(root, 'etc/systemd/system')}:${PACKAGED_UNITS}` },
  });
}

async function installInto(t: ExecutionContext, sandbox: Sandbox, root: string): Promise<void> {
  const folder = await mkdtemp(join(tmpdir(), 'algo-netns-units-config-'));
  t.teardown(() => rm(folder, { recursive: true, force: true }));
  const config = join(folder, 'config.yaml');
  await writeFile(config, 'dns:\n  serviceAddresses: [172.16.0.53/32]\n');
  const result = await runCli(sandbox, ['systemd', 'install', '--root', root, '--config', config]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /daemon-reload skipped, because the files are under /);
}

test('systemd-analyze verify accepts every unit', async (t) => {
  const missing = await missingTools();
  if (skipsFor(t, missing)) return;

  const sandbox = await sandboxFor(t);
  const root = await algoHostRoot(t);
  await installInto(t, sandbox, root);

  // multi-user.target pulls in every enabled unit, so this also checks the boot transaction.
  for (const unit of ['algo-netns.service', ...SERVICE_UNITS, 'sockets.target', 'multi-user.target']) {
    const result = await analyze(sandbox, root, ['verify', unit]);
    const output = `${result.stdout}${result.stderr}`.trim();
    t.is(result.code, 0, `verify ${unit} exits 0: ${output}`);
    t.is(output, '', `verify ${unit} prints no warning`);
  }
});

test('verify finds the cycle the socket drop-in avoids', async (t) => {
  const missing = await missingTools();
  if (skipsFor(t, missing)) return;

  const sandbox = await sandboxFor(t);
  const root = await algoHostRoot(t);
  await installInto(t, sandbox, root);

  // The drop-in without its DefaultDependencies= block: the check above must be able to fail.
  const socketDropIn = join(root, 'etc/systemd/system/dnscrypt-proxy.socket.d/algo-netns.conf');
  await writeFile(socketDropIn, '[Unit]\nRequires=algo-netns.service\nAfter=algo-netns.service\n\n[Socket]\nNetworkNamespacePath=/run/netns/dns-ns\n');

  const result = await analyze(sandbox, root, ['verify', 'multi-user.target']);
  t.regex(`${result.stdout}${result.stderr}`, /ordering cycle/);
});

test('strongSwan loses AF_PACKET despite Algo', async (t) => {
  const missing = await missingTools();
  if (skipsFor(t, missing)) return;

  const sandbox = await sandboxFor(t);
  const root = await algoHostRoot(t);
  await installInto(t, sandbox, root);

  // The offline review prints one line per check, "✓" when the unit is restricted.
  const result = await analyze(sandbox, root, ['security', '--offline=true', 'strongswan-starter.service']);
  t.is(result.code, 0, result.stderr);
  const line = (family: string): string => result.stdout.split('\n').find((text) => text.includes(`RestrictAddressFamilies=~${family} `)) ?? '';
  t.regex(line('AF_PACKET'), /^✓/, 'AF_PACKET is denied');
  t.regex(line('AF_NETLINK'), /^✗/, 'AF_NETLINK stays allowed for XFRM');
  t.regex(line('AF_UNIX'), /^✗/, 'AF_UNIX stays allowed for the stroke socket');
  t.regex(line('…'), /^✓/, 'other families are denied');
});

test('uninstall leaves the unit folders as they were', async (t) => {
  const sandbox = await sandboxFor(t);
  const root = await algoHostRoot(t);
  const before = await listTree(root);

  await installInto(t, sandbox, root);
  const installed = await listTree(root);
  t.true(installed.includes('etc/systemd/system/algo-netns.service'));
  t.true(installed.includes('etc/systemd/system/strongswan-starter.service.d/algo-netns.conf'));
  t.true(installed.includes('var/lib/algo-netns/systemd-install.json'));

  const second = await runCli(sandbox, ['systemd', 'uninstall', '--root', root]);
  t.is(second.code, 0, second.stderr);
  t.regex(second.stdout, /systemd uninstall: \d+ changes made/);
  t.deepEqual(await listTree(root), before);

  const again = await runCli(sandbox, ['systemd', 'uninstall', '--root', root]);
  t.regex(again.stdout, /systemd uninstall: no change/);
});

test('install needs root but print does not', async (t) => {
  const sandbox = await sandboxFor(t);
  if (skipsFor(t, await probeCommandAsNobody(sandbox))) return;
  const root = await algoHostRoot(t);
  const before = await listTree(root);
  const asNobody = [...NOBODY, process.execPath, CLI_PATH, 'systemd'];

  const print = await sandbox.run([...asNobody, 'print'], { allowFailure: true });
  t.is(print.code, 0, print.stderr);
  t.regex(print.stdout, /^# \/etc\/systemd\/system\/algo-netns\.service\n/);

  for (const action of ['install', 'uninstall']) {
    const result = await sandbox.run([...asNobody, action, '--root', root], { allowFailure: true });
    t.is(result.code, 1, `${action} exits 1`);
    t.regex(result.stderr, /algo-netns systemd \w+ needs root/, `${action} says it needs root`);
  }
  t.deepEqual(await listTree(root), before, 'nothing was written');
});
