import test from 'ava';

import { formatSetconf, parseWgQuickConfig, settingsMatch, WireGuardConfigError } from '../../../src/setup/services/wireguard-conf.js';
import { redactKeys } from '../../../src/setup/services/wireguard-keys.js';

/** Returns a valid key: 32 bytes of `fill`, in base64 as wg prints keys. */
function key(fill: number): string {
  return Buffer.alloc(32, fill).toString('base64');
}

const SERVER = key(1);
const CLIENT_A = key(2);
const CLIENT_B = key(3);
const PSK = key(4);

/** A server file as Algo writes it, with wg-quick keys that `wg setconf` rejects. */
const ALGO_FILE = [
  '[Interface]',
  'Address = 10.49.0.1/16,2001:db8:a160::1/48',
  'ListenPort = 51820',
  `PrivateKey = ${SERVER}`,
  'SaveConfig = false',
  'DNS = 172.16.0.1',
  'PostUp = iptables -A FORWARD -i %i -j ACCEPT',
  '',
  '# phone',
  '[Peer]',
  `PublicKey = ${CLIENT_A}`,
  `PresharedKey = ${PSK}`,
  'AllowedIPs = 10.49.0.2/32,2001:db8:a160::2/128',
  '',
  '# laptop',
  '[Peer]',
  `PublicKey = ${CLIENT_B}`,
  'AllowedIPs = 10.49.0.3/32',
  '',
].join('\n');

function parseError(text: string): WireGuardConfigError {
  try {
    parseWgQuickConfig(text, 'wg0.conf');
  } catch (error) {
    if (error instanceof WireGuardConfigError) return error;
    throw error;
  }
  throw new Error('expected a WireGuardConfigError, but the text parsed');
}

test('Algo server file parses', (t) => {
  const { settings, wgQuick } = parseWgQuickConfig(ALGO_FILE, 'wg0.conf');

  t.is(settings.privateKey, SERVER);
  t.is(settings.listenPort, 51820);
  t.is(settings.fwMark, null);
  t.is(settings.peers.length, 2);
  t.deepEqual(settings.peers[0], { publicKey: CLIENT_A, presharedKey: PSK, allowedIps: ['10.49.0.2/32', '2001:db8:a160::2/128'], endpoint: null, persistentKeepalive: null });
  t.deepEqual(settings.peers[1]?.allowedIps, ['10.49.0.3/32']);
  t.deepEqual(wgQuick.addresses, ['10.49.0.1/16', '2001:db8:a160::1/48']);
  t.is(wgQuick.mtu, null);
  t.deepEqual(wgQuick.ignoredKeys, ['DNS', 'PostUp', 'SaveConfig']);
});

test('setconf text drops wg-quick keys', (t) => {
  const text = formatSetconf(parseWgQuickConfig(ALGO_FILE, 'wg0.conf').settings);

  for (const wgQuickKey of ['Address', 'DNS', 'MTU', 'SaveConfig', 'PostUp']) t.false(text.includes(wgQuickKey), `${wgQuickKey} is stripped`);
  t.is(
    text,
    [
      '[Interface]',
      `PrivateKey = ${SERVER}`,
      'ListenPort = 51820',
      '',
      '[Peer]',
      `PublicKey = ${CLIENT_A}`,
      `PresharedKey = ${PSK}`,
      'AllowedIPs = 10.49.0.2/32, 2001:db8:a160::2/128',
      '',
      '[Peer]',
      `PublicKey = ${CLIENT_B}`,
      'AllowedIPs = 10.49.0.3/32',
      '',
    ].join('\n'),
  );
});

test('setconf text parses back to the same settings', (t) => {
  const { settings } = parseWgQuickConfig(ALGO_FILE, 'wg0.conf');
  t.deepEqual(parseWgQuickConfig(formatSetconf(settings), 'again').settings, settings);
});

test('comments and blank lines are ignored', (t) => {
  const text = [
    '# Algo VPN',
    '[Interface]   # the server',
    `PrivateKey = ${SERVER}   # secret`,
    '   ',
    '\t# indented comment',
    'ListenPort=51820#no spaces',
  ].join('\n');
  const { settings } = parseWgQuickConfig(text, 'wg0.conf');

  t.is(settings.privateKey, SERVER);
  t.is(settings.listenPort, 51820);
});

test('CRLF line ends and a byte order mark are accepted', (t) => {
  const { settings } = parseWgQuickConfig(`\uFEFF${ALGO_FILE.replaceAll('\n', '\r\n')}`, 'wg0.conf');

  t.is(settings.privateKey, SERVER);
  t.is(settings.peers.length, 2);
  t.deepEqual(settings.peers[1]?.allowedIps, ['10.49.0.3/32']);
});

test('section and key names ignore case', (t) => {
  const text = ['[interface]', `privatekey = ${SERVER}`, 'LISTENPORT = 1', '[PEER]', `publickey = ${CLIENT_A}`, 'allowedips = 10.49.0.2/32'].join('\n');
  const { settings } = parseWgQuickConfig(text, 'wg0.conf');

  t.is(settings.listenPort, 1);
  t.is(settings.peers[0]?.publicKey, CLIENT_A);
});

test('repeated list keys add up', (t) => {
  const text = [
    '[Interface]',
    `PrivateKey = ${SERVER}`,
    'Address = 10.49.0.1/16',
    'Address = 2001:db8:a160::1/48',
    '[Peer]',
    `PublicKey = ${CLIENT_A}`,
    'AllowedIPs = 10.49.0.2/32',
    'AllowedIPs = 10.49.0.20/32, 10.49.1.0/24',
  ].join('\n');
  const { settings, wgQuick } = parseWgQuickConfig(text, 'wg0.conf');

  t.deepEqual(wgQuick.addresses, ['10.49.0.1/16', '2001:db8:a160::1/48']);
  t.deepEqual(settings.peers[0]?.allowedIps, ['10.49.0.2/32', '10.49.0.20/32', '10.49.1.0/24']);
});

test('repeated single key names both lines', (t) => {
  const error = parseError(['[Interface]', `PrivateKey = ${SERVER}`, 'ListenPort = 51820', `PrivateKey = ${CLIENT_A}`].join('\n'));

  t.is(error.line, 4);
  t.is(error.reason, 'PrivateKey is given again; it was set at line 2');
  t.is(error.message, 'wg0.conf line 4: PrivateKey is given again; it was set at line 2');
});

test('bare addresses get a full-length prefix', (t) => {
  const text = ['[Interface]', `PrivateKey = ${SERVER}`, 'Address = 10.49.0.1, fd00::1', '[Peer]', `PublicKey = ${CLIENT_A}`, 'AllowedIPs = 10.49.0.2'].join('\n');
  const { settings, wgQuick } = parseWgQuickConfig(text, 'wg0.conf');

  t.deepEqual(wgQuick.addresses, ['10.49.0.1/32', 'fd00::1/128']);
  t.deepEqual(settings.peers[0]?.allowedIps, ['10.49.0.2/32']);
});

test('AllowedIPs host bits are cleared as the kernel does', (t) => {
  const text = ['[Interface]', `PrivateKey = ${SERVER}`, '[Peer]', `PublicKey = ${CLIENT_A}`, 'AllowedIPs = 10.49.0.7/24, 2001:db8::1/64'].join('\n');

  t.deepEqual(parseWgQuickConfig(text, 'wg0.conf').settings.peers[0]?.allowedIps, ['10.49.0.0/24', '2001:db8::/64']);
});

test('MTU, FwMark, endpoint and keepalive are read', (t) => {
  const text = [
    '[Interface]',
    `PrivateKey = ${SERVER}`,
    'MTU = 1380',
    'FwMark = 0x42',
    '[Peer]',
    `PublicKey = ${CLIENT_A}`,
    'Endpoint = [2001:db8::5]:51820',
    'PersistentKeepalive = 25',
    '[Peer]',
    `PublicKey = ${CLIENT_B}`,
    'Endpoint = vpn.example.org:443',
    'PersistentKeepalive = off',
  ].join('\n');
  const { settings, wgQuick } = parseWgQuickConfig(text, 'wg0.conf');

  t.is(wgQuick.mtu, 1380);
  t.is(settings.fwMark, 0x42);
  t.is(settings.peers[0]?.endpoint, '[2001:db8::5]:51820');
  t.is(settings.peers[0]?.persistentKeepalive, 25);
  t.is(settings.peers[1]?.endpoint, 'vpn.example.org:443');
  t.is(settings.peers[1]?.persistentKeepalive, null);
});

test('file with no peers parses', (t) => {
  const { settings } = parseWgQuickConfig(`[Interface]\nPrivateKey = ${SERVER}\n`, 'wg0.conf');
  t.deepEqual(settings.peers, []);
});

const BAD_FILES: { name: string; text: string; line: number; reason: RegExp }[] = [
  { name: 'empty file', text: '', line: 0, reason: /expected an \[Interface\] section/ },
  { name: 'setting before any section', text: `PrivateKey = ${SERVER}\n[Interface]`, line: 1, reason: /expected \[Interface\] before the first setting/ },
  { name: 'peer before interface', text: `[Peer]\nPublicKey = ${CLIENT_A}\n[Interface]\nPrivateKey = ${SERVER}`, line: 1, reason: /before any \[Peer\]/ },
  { name: 'second interface', text: `[Interface]\nPrivateKey = ${SERVER}\n[Interface]`, line: 3, reason: /second \[Interface\] section; the first is at line 1/ },
  { name: 'unknown section', text: '[Interfaces]', line: 1, reason: /unknown section/ },
  { name: 'line without equals sign', text: `[Interface]\nPrivateKey = ${SERVER}\nListenPort 51820`, line: 3, reason: /expected "Key = Value"/ },
  { name: 'key run into its value', text: `[Interface]\nPrivateKey ${SERVER}`, line: 2, reason: /^not a key of an \[Interface\] section/ },
  { name: 'unknown interface key', text: `[Interface]\nPrivateKey = ${SERVER}\nListenPorts = 1`, line: 3, reason: /"ListenPorts" is not a key of an \[Interface\] section/ },
  { name: 'peer key in interface', text: `[Interface]\nPublicKey = ${CLIENT_A}`, line: 2, reason: /"PublicKey" is not a key of an \[Interface\] section/ },
  { name: 'wg-quick key in a peer', text: `[Interface]\nPrivateKey = ${SERVER}\n[Peer]\nPublicKey = ${CLIENT_A}\nAddress = 10.49.0.2/32`, line: 5, reason: /"Address" is not a key of a \[Peer\]/ },
  { name: 'empty value', text: '[Interface]\nPrivateKey =', line: 2, reason: /PrivateKey has no value/ },
  { name: 'missing private key', text: '[Interface]\nListenPort = 51820', line: 1, reason: /has no PrivateKey/ },
  { name: 'short key', text: '[Interface]\nPrivateKey = abc=', line: 2, reason: /PrivateKey is not a WireGuard key/ },
  { name: 'key of 33 bytes', text: `[Interface]\nPrivateKey = ${Buffer.alloc(33, 1).toString('base64')}`, line: 2, reason: /PrivateKey is not a WireGuard key/ },
  { name: 'peer without public key', text: `[Interface]\nPrivateKey = ${SERVER}\n[Peer]\nAllowedIPs = 10.49.0.2/32`, line: 3, reason: /has no PublicKey/ },
  { name: 'same peer twice', text: `[Interface]\nPrivateKey = ${SERVER}\n[Peer]\nPublicKey = ${CLIENT_A}\n[Peer]\nPublicKey = ${CLIENT_A}`, line: 5, reason: /same PublicKey as the \[Peer\] at line 3/ },
  { name: 'port out of range', text: `[Interface]\nPrivateKey = ${SERVER}\nListenPort = 65536`, line: 3, reason: /ListenPort "65536" is not a whole number from 0 to 65535/ },
  { name: 'port not a number', text: `[Interface]\nPrivateKey = ${SERVER}\nListenPort = -1`, line: 3, reason: /ListenPort "-1"/ },
  { name: 'MTU too small', text: `[Interface]\nPrivateKey = ${SERVER}\nMTU = 10`, line: 3, reason: /MTU "10" is not a whole number from 68/ },
  { name: 'bad address', text: `[Interface]\nPrivateKey = ${SERVER}\nAddress = 10.49.0.1/33`, line: 3, reason: /Address entry "10.49.0.1\/33" is not an address/ },
  { name: 'bad allowed IP', text: `[Interface]\nPrivateKey = ${SERVER}\n[Peer]\nPublicKey = ${CLIENT_A}\nAllowedIPs = 10.49.0.2/32, nonsense`, line: 5, reason: /AllowedIPs entry "nonsense"/ },
  { name: 'endpoint without port', text: `[Interface]\nPrivateKey = ${SERVER}\n[Peer]\nPublicKey = ${CLIENT_A}\nEndpoint = 203.0.113.1`, line: 5, reason: /Endpoint "203.0.113.1" is not HOST:PORT/ },
  { name: 'CRLF file with a bad line', text: `[Interface]\r\nPrivateKey = ${SERVER}\r\nBogus = 1\r\n`, line: 3, reason: /"Bogus" is not a key/ },
];

for (const bad of BAD_FILES) {
  test(`rejects ${bad.name}`, (t) => {
    const error = parseError(bad.text);

    t.is(error.line, bad.line);
    t.regex(error.reason, bad.reason);
    t.is(error.file, 'wg0.conf');
  });
}

test('errors never quote a key', (t) => {
  const secret = key(9);
  const texts = [
    `[Interface]\nPrivateKey ${secret}`,
    `[Interface]\nPrivateKey=${secret}\nPrivateKey=${secret}`,
    `[Interface]\nPrivateKey = ${secret.slice(1)}`,
    `[Interface]\nPrivateKey = ${secret}\n[Peer]\nPublicKey = ${CLIENT_A}\nPresharedKey = ${secret}x`,
    `[Interface]\n${secret.replace(/[^A-Za-z]/g, 'a')} = 1`,
  ];
  for (const text of texts) {
    const error = parseError(text);
    t.false(error.message.includes(secret), error.message);
    t.false(error.message.includes(secret.slice(1, 40)), error.message);
  }
});

test('settingsMatch ignores a learned endpoint', (t) => {
  const expected = parseWgQuickConfig(ALGO_FILE, 'wg0.conf').settings;
  const live = structuredClone(expected);
  const roaming = live.peers[0];
  if (roaming) roaming.endpoint = '198.51.100.7:40000';

  t.true(settingsMatch(expected, live));
});

test('settingsMatch sees each difference', (t) => {
  const expected = parseWgQuickConfig(ALGO_FILE, 'wg0.conf').settings;
  const changes: [string, (live: typeof expected) => void][] = [
    ['private key', (live) => void (live.privateKey = key(7))],
    ['listen port', (live) => void (live.listenPort = 51821)],
    ['fwmark', (live) => void (live.fwMark = 1)],
    ['a peer less', (live) => void live.peers.pop()],
    ['another peer', (live) => void (live.peers[1] && (live.peers[1].publicKey = key(8)))],
    ['preshared key', (live) => void (live.peers[0] && (live.peers[0].presharedKey = null))],
    ['allowed IPs', (live) => void live.peers[1]?.allowedIps.push('10.49.0.99/32')],
    ['keepalive', (live) => void (live.peers[1] && (live.peers[1].persistentKeepalive = 25))],
  ];
  for (const [what, change] of changes) {
    const live = structuredClone(expected);
    change(live);
    t.false(settingsMatch(expected, live), what);
  }
  t.true(settingsMatch(expected, structuredClone(expected)), 'an identical copy matches');
});

test('allowed IPs order does not matter', (t) => {
  const expected = parseWgQuickConfig(ALGO_FILE, 'wg0.conf').settings;
  const live = structuredClone(expected);
  live.peers[0]?.allowedIps.reverse();
  live.peers.reverse();

  t.true(settingsMatch(expected, live));
});

test('redactKeys hides keys in wg output', (t) => {
  const message = `Key is not the correct length or format: \`${SERVER}'`;

  t.is(redactKeys(message), "Key is not the correct length or format: `(key redacted)'");
});
