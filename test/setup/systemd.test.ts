import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import test, { type ExecutionContext } from 'ava';

import { defaultConfig, type TopologyConfig } from '../../src/setup/config.js';
import { SetupError } from '../../src/setup/setup-error.js';
import { installUnitFiles, uninstallUnitFiles } from '../../src/setup/systemd/install.js';
import { INSTALL_RECORD, GENERATED_MARKER, wireGuardUnit } from '../../src/setup/systemd/names.js';
import { reloadSystemd } from '../../src/setup/systemd/reload.js';
import { quoteExecWord } from '../../src/setup/systemd/unit-text.js';
import { generateUnitFiles, type UnitFile, type UnitOptions } from '../../src/setup/systemd/units.js';

const OPTIONS: UnitOptions = {
  command: ['/usr/bin/node', '/usr/lib/node_modules/algo-netns/dist/src/cli/main.js'],
  configPath: '/etc/algo-netns/config.yaml',
};

const MAIN_PATH = '/etc/systemd/system/algo-netns.service';
const STRONGSWAN_PATH = '/etc/systemd/system/strongswan-starter.service.d/algo-netns.conf';
const SOCKET_PATH = '/etc/systemd/system/dnscrypt-proxy.socket.d/algo-netns.conf';
const DNS_PATH = '/etc/systemd/system/dnscrypt-proxy.service.d/algo-netns.conf';
const WIREGUARD_PATH = '/etc/systemd/system/wg-quick@wg0.service.d/algo-netns.conf';

/** A unit file read back: each section's settings in order, comments and blank lines left out. */
type ParsedUnit = Map<string, [string, string][]>;

/** Parses unit file text the way systemd reads settings (no line continuations in our output). */
function parseUnit(text: string): ParsedUnit {
  const sections: ParsedUnit = new Map();
  let current: [string, string][] | undefined;

  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;

    const header = /^\[(\w+)\]$/.exec(line);
    if (header?.[1] !== undefined) {
      current = [];
      sections.set(header[1], current);
      continue;
    }

    const equals = line.indexOf('=');
    if (current === undefined || equals < 1) throw new Error(`unexpected line in unit text: ${line}`);
    current.push([line.slice(0, equals), line.slice(equals + 1)]);
  }

  return sections;
}

/** Returns every value of `key` in `section`, in order. */
function values(unit: ParsedUnit, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([name]) => name === key).map(([, value]) => value);
}

function fileAt(files: readonly UnitFile[], path: string): UnitFile {
  const file = files.find((candidate) => candidate.path === path);
  if (file === undefined) throw new Error(`no generated file at ${path}; got ${files.map((candidate) => candidate.path).join(', ')}`);
  return file;
}

function unitAt(files: readonly UnitFile[], path: string): ParsedUnit {
  return parseUnit(fileAt(files, path).text);
}

function configWith(change: (config: TopologyConfig) => void): TopologyConfig {
  const config = defaultConfig();
  change(config);
  return config;
}

test('files cover the main unit and four drop-ins', (t) => {
  const files = generateUnitFiles(defaultConfig(), OPTIONS);

  t.deepEqual(
    files.map((file) => file.path),
    [MAIN_PATH, STRONGSWAN_PATH, SOCKET_PATH, DNS_PATH, WIREGUARD_PATH],
  );
  for (const file of files) {
    t.true(file.text.startsWith(`${GENERATED_MARKER}\n`), `${file.path} starts with the marker`);
    t.true(file.text.endsWith('\n'), `${file.path} ends with a newline`);
  }
});

test('main unit runs up and down once', (t) => {
  const unit = unitAt(generateUnitFiles(defaultConfig(), OPTIONS), MAIN_PATH);
  const command = '/usr/bin/node /usr/lib/node_modules/algo-netns/dist/src/cli/main.js';

  t.deepEqual(values(unit, 'Service', 'Type'), ['oneshot']);
  t.deepEqual(values(unit, 'Service', 'RemainAfterExit'), ['yes']);
  t.deepEqual(values(unit, 'Service', 'ExecStart'), [`${command} up --config /etc/algo-netns/config.yaml`]);
  t.deepEqual(values(unit, 'Service', 'ExecStop'), [`${command} down --config /etc/algo-netns/config.yaml`]);
  t.deepEqual(values(unit, 'Service', 'TimeoutStartSec'), ['60']);
  t.deepEqual(values(unit, 'Service', 'TimeoutStopSec'), ['60']);
  t.deepEqual(values(unit, 'Install', 'WantedBy'), ['multi-user.target']);
});

test('main unit waits for the network', (t) => {
  const unit = unitAt(generateUnitFiles(defaultConfig(), OPTIONS), MAIN_PATH);

  t.deepEqual(values(unit, 'Unit', 'Wants'), ['network-online.target']);
  t.deepEqual(values(unit, 'Unit', 'After'), ['network-online.target']);
  t.deepEqual(values(unit, 'Unit', 'Before'), ['strongswan-starter.service dnscrypt-proxy.socket dnscrypt-proxy.service wg-quick@wg0.service']);
});

test('main unit without a file uses defaults', (t) => {
  const unit = unitAt(generateUnitFiles(defaultConfig(), { ...OPTIONS, command: ['/usr/local/bin/algo-netns'], configPath: null }), MAIN_PATH);

  t.deepEqual(values(unit, 'Service', 'ExecStart'), ['/usr/local/bin/algo-netns up']);
  t.deepEqual(values(unit, 'Service', 'ExecStop'), ['/usr/local/bin/algo-netns down']);
});

test('main unit quotes unusual paths', (t) => {
  const unit = unitAt(generateUnitFiles(defaultConfig(), { command: ['/opt/algo netns/bin/algo-netns'], configPath: '/etc/algo-netns/100%.yaml' }), MAIN_PATH);

  t.deepEqual(values(unit, 'Service', 'ExecStart'), ['"/opt/algo netns/bin/algo-netns" up --config /etc/algo-netns/100%%.yaml']);
});

test('exec words are quoted for systemd', (t) => {
  const cases: [string, string][] = [
    ['/usr/bin/node', '/usr/bin/node'],
    ['--config', '--config'],
    ['wg-quick@wg0', 'wg-quick@wg0'],
    ['with space', '"with space"'],
    ['50%', '50%%'],
    ['$HOME', '$$HOME'],
    ['say "hi"', '"say \\"hi\\""'],
    ['back\\slash', '"back\\\\slash"'],
    [';', '";"'],
    ["it's", '"it\'s"'],
  ];

  for (const [word, expected] of cases) {
    t.is(quoteExecWord(word), expected, `quoting ${JSON.stringify(word)}`);
  }
});

test('exec words reject control characters', (t) => {
  for (const word of ['', 'line\nbreak', 'tab\there', 'nul\0']) {
    const error = t.throws(() => quoteExecWord(word), { instanceOf: TypeError }, `rejecting ${JSON.stringify(word)}`);
    t.regex(error?.message ?? '', /without control characters/);
  }
});

test('drop-ins require the main unit', (t) => {
  const files = generateUnitFiles(defaultConfig(), OPTIONS);

  for (const path of [STRONGSWAN_PATH, SOCKET_PATH, DNS_PATH, WIREGUARD_PATH]) {
    const unit = unitAt(files, path);
    t.true(values(unit, 'Unit', 'Requires').includes('algo-netns.service'), `${path} requires algo-netns.service`);
    t.true(values(unit, 'Unit', 'After').includes('algo-netns.service'), `${path} starts after algo-netns.service`);
  }
});

test('drop-ins use the configured namespaces', (t) => {
  const config = configWith((changed) => {
    changed.strongswan.namespace = 'ipsec-jail';
    changed.dns.namespace = 'resolver';
    changed.wireguard.namespace = 'wg-jail';
  });
  const files = generateUnitFiles(config, OPTIONS);

  t.deepEqual(values(unitAt(files, STRONGSWAN_PATH), 'Service', 'NetworkNamespacePath'), ['/run/netns/ipsec-jail']);
  t.deepEqual(values(unitAt(files, SOCKET_PATH), 'Socket', 'NetworkNamespacePath'), ['/run/netns/resolver']);
  t.deepEqual(values(unitAt(files, DNS_PATH), 'Service', 'NetworkNamespacePath'), ['/run/netns/resolver']);
  t.deepEqual(values(unitAt(files, WIREGUARD_PATH), 'Service', 'NetworkNamespacePath'), ['/run/netns/wg-jail']);
  t.deepEqual(values(unitAt(files, STRONGSWAN_PATH), 'Service', 'BindReadOnlyPaths'), ['-/etc/netns/ipsec-jail/resolv.conf:/etc/resolv.conf']);
  t.deepEqual(values(unitAt(files, DNS_PATH), 'Service', 'BindReadOnlyPaths'), ['-/etc/netns/resolver/resolv.conf:/etc/resolv.conf']);
});

test('address families replace earlier lists', (t) => {
  const files = generateUnitFiles(defaultConfig(), OPTIONS);
  const expected: [string, string][] = [
    [STRONGSWAN_PATH, 'AF_UNIX AF_INET AF_INET6 AF_NETLINK'],
    [DNS_PATH, 'AF_INET AF_INET6'],
    [WIREGUARD_PATH, 'AF_NETLINK AF_INET AF_INET6'],
  ];

  for (const [path, families] of expected) {
    const unit = unitAt(files, path);
    t.deepEqual(values(unit, 'Service', 'RestrictAddressFamilies'), ['', families], `${path} clears, then sets its list`);
    t.deepEqual(values(unit, 'Service', 'SystemCallArchitectures'), ['native'], `${path} allows native system calls only`);
    t.deepEqual(values(unit, 'Service', 'ProtectHome'), ['yes'], `${path} hides home folders`);
  }
});

test('socket drop-in avoids the sockets.target cycle', (t) => {
  const unit = unitAt(generateUnitFiles(defaultConfig(), OPTIONS), SOCKET_PATH);

  t.deepEqual(values(unit, 'Unit', 'DefaultDependencies'), ['no']);
  t.deepEqual(values(unit, 'Unit', 'Requires'), ['algo-netns.service', 'sysinit.target']);
  t.deepEqual(values(unit, 'Unit', 'After'), ['algo-netns.service', 'sysinit.target']);
  t.deepEqual(values(unit, 'Unit', 'Conflicts'), ['shutdown.target']);
  t.deepEqual(values(unit, 'Unit', 'Before'), ['shutdown.target']);
  t.false(unit.has('Service'), 'a socket drop-in has no [Service] section');
});

test('WireGuard drop-in replaces the wg-quick commands', (t) => {
  const unit = unitAt(generateUnitFiles(defaultConfig(), OPTIONS), WIREGUARD_PATH);

  t.deepEqual(values(unit, 'Service', 'ExecStartPre'), ['/usr/bin/test -r /etc/wireguard/wg0.conf']);
  t.deepEqual(values(unit, 'Service', 'ExecStart'), [
    '',
    '/bin/bash -c "set -o pipefail; /usr/bin/wg-quick strip wg0 | /usr/bin/wg setconf wg0 /dev/stdin"',
    '/usr/sbin/ip link set dev wg0 up',
  ]);
  t.deepEqual(values(unit, 'Service', 'ExecStop'), ['', '/usr/sbin/ip link set dev wg0 down']);
  t.deepEqual(values(unit, 'Service', 'BindReadOnlyPaths'), [], 'wg needs no resolver on a server');
});

test('WireGuard drop-in follows the interface name', (t) => {
  const renamed = generateUnitFiles(configWith((config) => (config.wireguard.interface = 'wg7')), OPTIONS);
  const path = '/etc/systemd/system/wg-quick@wg7.service.d/algo-netns.conf';

  t.deepEqual(values(unitAt(renamed, path), 'Service', 'ExecStop'), ['', '/usr/sbin/ip link set dev wg7 down']);
  t.regex(values(unitAt(renamed, MAIN_PATH), 'Unit', 'Before')[0] ?? '', /\bwg-quick@wg7\.service$/);
});

test('adopted interface also allows AF_UNIX', (t) => {
  const files = generateUnitFiles(configWith((config) => (config.wireguard.adoptInterface = 'wg1')), OPTIONS);
  const unit = unitAt(files, '/etc/systemd/system/wg-quick@wg1.service.d/algo-netns.conf');

  t.deepEqual(values(unit, 'Service', 'RestrictAddressFamilies'), ['', 'AF_UNIX AF_NETLINK AF_INET AF_INET6']);
  t.deepEqual(values(unit, 'Service', 'ExecStartPre'), ['/usr/bin/test -r /etc/wireguard/wg1.conf']);
});

test('disabled services get no drop-in', (t) => {
  const config = configWith((changed) => {
    changed.strongswan.enabled = false;
    changed.wireguard.enabled = false;
  });
  const files = generateUnitFiles(config, OPTIONS);

  t.deepEqual(
    files.map((file) => file.path),
    [MAIN_PATH, SOCKET_PATH, DNS_PATH],
  );
  t.deepEqual(values(unitAt(files, MAIN_PATH), 'Unit', 'Before'), ['dnscrypt-proxy.socket dnscrypt-proxy.service']);
});

test('no service leaves Before unset', (t) => {
  const config = configWith((changed) => {
    changed.strongswan.enabled = false;
    changed.wireguard.enabled = false;
    changed.dns.enabled = false;
  });
  const unit = unitAt(generateUnitFiles(config, OPTIONS), MAIN_PATH);

  t.deepEqual(values(unit, 'Unit', 'Before'), []);
});

test('hardening settings carry a comment', (t) => {
  const hardening = ['NetworkNamespacePath', 'BindReadOnlyPaths', 'RestrictAddressFamilies', 'SystemCallArchitectures', 'ProtectHome', 'DefaultDependencies'];

  for (const file of generateUnitFiles(defaultConfig(), OPTIONS).slice(1)) {
    // Paragraphs are separated by blank lines; each one that sets a hardening key explains it.
    for (const paragraph of file.text.split('\n\n')) {
      const lines = paragraph.split('\n');
      const keys = lines.filter((line) => !line.startsWith('#')).map((line) => line.split('=')[0] ?? '');
      if (!keys.some((key) => hardening.includes(key))) continue;
      t.true(
        lines.some((line) => line.startsWith('# ')),
        `${file.path}: the paragraph setting ${keys.join(', ')} has a comment`,
      );
    }
  }
});

test('WireGuard unit name rejects odd names', (t) => {
  t.is(wireGuardUnit('wg0'), 'wg-quick@wg0.service');
  t.throws(() => wireGuardUnit('wg+0'), { instanceOf: TypeError, message: /wg-quick@NAME\.service/ });
});

/** Lists every path under `root` with its kind, so that two listings can be compared. */
async function listTree(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.map((entry) => `${relative(root, join(entry.path, entry.name))}${entry.isDirectory() ? '/' : ''}`).sort();
}

/** Makes a temporary root with an existing unit folder and one of Algo's drop-ins in it. */
async function algoLikeRoot(t: ExecutionContext): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'algo-netns-systemd-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'etc/systemd/system/strongswan-starter.service.d'), { recursive: true });
  await writeFile(join(root, 'etc/systemd/system/strongswan-starter.service.d/100-CustomLimitations.conf'), '[Service]\nProtectHome=yes\n');
  return root;
}

test('install writes and records each file', async (t) => {
  const root = await algoLikeRoot(t);
  const files = generateUnitFiles(defaultConfig(), OPTIONS);

  const result = await installUnitFiles(files, { root });

  for (const file of files) {
    t.is(await readFile(join(root, file.path), 'utf8'), file.text, `${file.path} holds the generated text`);
    t.true(result.changes.includes(`write ${join(root, file.path)}`), `the changes name ${file.path}`);
  }
  const record = JSON.parse(await readFile(join(root, INSTALL_RECORD), 'utf8')) as { files: string[]; directories: string[] };
  t.deepEqual(record.files.sort(), files.map((file) => file.path).sort());
  t.false(record.directories.includes('/etc/systemd/system/strongswan-starter.service.d'), 'a folder that existed is not recorded');
  t.true(record.directories.includes('/etc/systemd/system/dnscrypt-proxy.socket.d'));
  t.is((await stat(join(root, MAIN_PATH))).mode & 0o777, 0o644);
  t.deepEqual(result.notices, []);
});

test('second install changes nothing', async (t) => {
  const root = await algoLikeRoot(t);
  const files = generateUnitFiles(defaultConfig(), OPTIONS);
  await installUnitFiles(files, { root });
  const before = await listTree(root);

  const again = await installUnitFiles(files, { root });

  t.deepEqual(again.changes, []);
  t.deepEqual(await listTree(root), before);
});

test('install updates a changed file', async (t) => {
  const root = await algoLikeRoot(t);
  await installUnitFiles(generateUnitFiles(defaultConfig(), OPTIONS), { root });

  const moved = generateUnitFiles(defaultConfig(), { ...OPTIONS, configPath: '/srv/algo-netns.yaml' });
  const result = await installUnitFiles(moved, { root });

  t.deepEqual(result.changes, [`update ${join(root, MAIN_PATH)}`]);
  t.regex(await readFile(join(root, MAIN_PATH), 'utf8'), /up --config \/srv\/algo-netns\.yaml/);
});

test('uninstall restores the tree exactly', async (t) => {
  const root = await algoLikeRoot(t);
  const before = await listTree(root);
  await installUnitFiles(generateUnitFiles(defaultConfig(), OPTIONS), { root });

  const result = await uninstallUnitFiles({ root });

  t.deepEqual(await listTree(root), before);
  t.true(result.changes.includes(`remove ${join(root, STRONGSWAN_PATH)}`));
  t.true(result.changes.includes(`remove folder ${join(root, 'etc/systemd/system/wg-quick@wg0.service.d')}`));
  t.false(result.changes.some((change) => change.endsWith('strongswan-starter.service.d')), 'the existing unit folder stays');
  t.deepEqual(result.notices, []);
});

test('uninstall of nothing changes nothing', async (t) => {
  const root = await algoLikeRoot(t);
  const before = await listTree(root);

  const result = await uninstallUnitFiles({ root });

  t.deepEqual(result.changes, []);
  t.deepEqual(await listTree(root), before);
});

test('install rejects a foreign file', async (t) => {
  const root = await algoLikeRoot(t);
  await mkdir(join(root, 'etc/systemd/system/dnscrypt-proxy.service.d'));
  await writeFile(join(root, DNS_PATH), '[Service]\nUser=nobody\n');
  const before = await listTree(root);

  const error = await t.throwsAsync(installUnitFiles(generateUnitFiles(defaultConfig(), OPTIONS), { root }), { instanceOf: SetupError });

  t.regex(error?.message ?? '', /dnscrypt-proxy\.service\.d\/algo-netns\.conf exists and was not written by algo-netns/);
  t.deepEqual(await listTree(root), before, 'nothing was written');
  t.is(await readFile(join(root, DNS_PATH), 'utf8'), '[Service]\nUser=nobody\n');
});

test('install adopts its own file without a record', async (t) => {
  const root = await algoLikeRoot(t);
  const files = generateUnitFiles(defaultConfig(), OPTIONS);
  await installUnitFiles(files, { root });
  await rm(join(root, INSTALL_RECORD));

  const result = await installUnitFiles(files, { root });

  t.deepEqual(result.changes, []);
  const record = JSON.parse(await readFile(join(root, INSTALL_RECORD), 'utf8')) as { files: string[] };
  t.is(record.files.length, files.length);
});

test('install removes files no longer generated', async (t) => {
  const root = await algoLikeRoot(t);
  await installUnitFiles(generateUnitFiles(defaultConfig(), OPTIONS), { root });

  const withoutWireGuard = generateUnitFiles(
    configWith((config) => (config.wireguard.enabled = false)),
    OPTIONS,
  );
  const result = await installUnitFiles(withoutWireGuard, { root });

  t.true(result.changes.includes(`remove ${join(root, WIREGUARD_PATH)}`));
  t.true(result.changes.includes(`remove folder ${join(root, 'etc/systemd/system/wg-quick@wg0.service.d')}`));
  t.true(result.changes.includes(`update ${join(root, MAIN_PATH)}`), 'Before= no longer names wg-quick@wg0.service');
  const record = JSON.parse(await readFile(join(root, INSTALL_RECORD), 'utf8')) as { files: string[]; directories: string[] };
  t.false(record.files.includes(WIREGUARD_PATH));
  t.false(record.directories.includes('/etc/systemd/system/wg-quick@wg0.service.d'));
});

test('uninstall keeps a folder with other files', async (t) => {
  const root = await algoLikeRoot(t);
  await installUnitFiles(generateUnitFiles(defaultConfig(), OPTIONS), { root });
  const foreign = join(root, 'etc/systemd/system/dnscrypt-proxy.socket.d/10-algo-override.conf');
  await writeFile(foreign, '[Socket]\nListenDatagram=172.16.0.1:53\n');

  const result = await uninstallUnitFiles({ root });

  t.is(await readFile(foreign, 'utf8'), '[Socket]\nListenDatagram=172.16.0.1:53\n');
  t.deepEqual(result.notices, [
    `kept folder ${join(root, 'etc/systemd/system/dnscrypt-proxy.socket.d')}, because it contains files that algo-netns did not write`,
  ]);
  await t.throwsAsync(stat(join(root, SOCKET_PATH)), { code: 'ENOENT' });
  await t.throwsAsync(stat(join(root, INSTALL_RECORD)), { code: 'ENOENT' });
});

test('reload is skipped under another root', async (t) => {
  t.is(await reloadSystemd('/tmp/staging'), 'systemctl daemon-reload skipped, because the files are under /tmp/staging, where no running systemd reads them');
});
