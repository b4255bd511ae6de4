/**
 * wg-quick configuration files (such as the /etc/wireguard/wg0.conf that Algo writes): parsing,
 * the split into what `wg setconf` accepts and what only wg-quick reads, and the text that
 * `wg setconf` is given.
 *
 * The syntax follows wg(8) and wg-quick(8) from wireguard-tools: `[Interface]` once, then any
 * number of `[Peer]` sections, each line `Key = Value`. Section and key names are matched without
 * regard to case, `#` starts a comment that runs to the end of the line, and whitespace around
 * names and values is ignored. Unlike wg, which takes the last of two PrivateKey lines, the parser
 * rejects a single-valued key given twice, because either choice may not be what the operator meant.
 *
 * Messages never quote a value or a whole line, because either may hold a private or preshared key.
 */
import { networkOf, parseInterfaceAddress, PrefixError } from '../cidr.js';

/** A line that the parser rejects, with its 1-based number. */
export class WireGuardConfigError extends Error {
  override name = 'WireGuardConfigError';

  constructor(
    /** The file, as given to the parser, for messages. */
    readonly file: string,
    /** 1-based line number, or 0 for a problem with the file as a whole. */
    readonly line: number,
    /** Description of the fault, without the line's text. */
    readonly reason: string,
  ) {
    super(line === 0 ? `${file}: ${reason}` : `${file} line ${line}: ${reason}`);
  }
}

export interface WireGuardPeer {
  publicKey: string;
  presharedKey: string | null;
  /** Canonical networks ("10.49.0.2/32"), host bits cleared as the kernel stores them. */
  allowedIps: string[];
  endpoint: string | null;
  /** Seconds, or null when off. */
  persistentKeepalive: number | null;
}

/** Settings that `wg setconf` applies to an interface. */
export interface WireGuardSettings {
  privateKey: string;
  /** UDP port, or null to let the kernel pick one. */
  listenPort: number | null;
  /** Firewall mark on the interface's packets, or null when off. */
  fwMark: number | null;
  peers: WireGuardPeer[];
}

/** The keys that only wg-quick reads, which `wg setconf` would reject. */
export interface WgQuickSettings {
  /** Interface addresses with prefix length ("10.49.0.1/16"). An address without one gets /32 or /128. */
  addresses: string[];
  mtu: number | null;
  /** The names of the other wg-quick keys found (DNS, Table, PostUp, ...), which are ignored. */
  ignoredKeys: string[];
}

export interface WgQuickConfig {
  settings: WireGuardSettings;
  wgQuick: WgQuickSettings;
}

/** Keys of `[Interface]` that wg-quick reads and `wg setconf` rejects. */
export const WG_QUICK_ONLY_KEYS = ['Address', 'DNS', 'MTU', 'Table', 'PreUp', 'PostUp', 'PreDown', 'PostDown', 'SaveConfig'] as const;

const INTERFACE_KEYS = ['PrivateKey', 'ListenPort', 'FwMark', ...WG_QUICK_ONLY_KEYS] as const;
const PEER_KEYS = ['PublicKey', 'PresharedKey', 'AllowedIPs', 'Endpoint', 'PersistentKeepalive'] as const;

/** Keys that may appear more than once in a section, their values adding up. */
const LIST_KEYS = new Set(['Address', 'DNS', 'AllowedIPs', 'PreUp', 'PostUp', 'PreDown', 'PostDown']);

/** A WireGuard key is 32 bytes, which base64 writes as 43 characters and one `=`. */
const KEY_BYTES = 32;
const KEY_PATTERN = /^[A-Za-z0-9+/]{43}=$/;

/** Maximum length of a key name quoted in a message, because a longer one may be a value run into its key. */
const MAX_QUOTED_NAME_LENGTH = 20;

const MAX_PORT = 65535;
const MAX_FWMARK = 0xffffffff;
const MAX_KEEPALIVE_SECONDS = 65535;
/** Smallest MTU that the kernel accepts for an IPv4 link (RFC 791). */
const MIN_MTU = 68;
const MAX_MTU = 65535;

interface Section {
  kind: 'Interface' | 'Peer';
  /** Line of the section header. */
  line: number;
  /** Values by canonical key name, with the line each came from. */
  values: Map<string, { value: string; line: number }[]>;
}

/** Parses a wg-quick configuration file. `file` names it in error messages. */
export function parseWgQuickConfig(text: string, file: string): WgQuickConfig {
  const sections = splitSections(text, file);

  const [first, ...rest] = sections;
  if (first === undefined || first.kind !== 'Interface') {
    throw new WireGuardConfigError(file, first?.line ?? 0, 'expected an [Interface] section before any [Peer] section');
  }
  const second = rest.find((section) => section.kind === 'Interface');
  if (second !== undefined) {
    throw new WireGuardConfigError(file, second.line, `a second [Interface] section; the first is at line ${first.line}`);
  }

  const settings = interfaceSettings(first, file);
  settings.peers = rest.map((section) => peerSettings(section, file));

  const seen = new Map<string, number>();
  for (const [index, peer] of settings.peers.entries()) {
    const section = rest[index];
    const earlier = seen.get(peer.publicKey);
    if (earlier !== undefined && section !== undefined) {
      throw new WireGuardConfigError(file, section.line, `this [Peer] has the same PublicKey as the [Peer] at line ${earlier}`);
    }
    if (section !== undefined) seen.set(peer.publicKey, section.line);
  }

  return { settings, wgQuick: wgQuickSettings(first, file) };
}

/** Formats the settings as a file that `wg setconf` accepts: no wg-quick keys, one value per line. */
export function formatSetconf(settings: WireGuardSettings): string {
  const lines = ['[Interface]', `PrivateKey = ${settings.privateKey}`];
  if (settings.listenPort !== null) lines.push(`ListenPort = ${settings.listenPort}`);
  if (settings.fwMark !== null) lines.push(`FwMark = ${settings.fwMark}`);

  for (const peer of settings.peers) {
    lines.push('', '[Peer]', `PublicKey = ${peer.publicKey}`);
    if (peer.presharedKey !== null) lines.push(`PresharedKey = ${peer.presharedKey}`);
    if (peer.allowedIps.length > 0) lines.push(`AllowedIPs = ${peer.allowedIps.join(', ')}`);
    if (peer.endpoint !== null) lines.push(`Endpoint = ${peer.endpoint}`);
    if (peer.persistentKeepalive !== null) lines.push(`PersistentKeepalive = ${peer.persistentKeepalive}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * Reports whether the live settings (from `wg showconf`) already match the expected ones. A peer's
 * endpoint counts only where the file gives one, because the kernel learns a roaming client's
 * endpoint from its packets. The listen port counts only where the file gives one, because
 * `wg setconf` without a port lets the kernel choose one.
 */
export function settingsMatch(expected: WireGuardSettings, live: WireGuardSettings): boolean {
  if (expected.privateKey !== live.privateKey) return false;
  if (expected.listenPort !== null && expected.listenPort !== live.listenPort) return false;
  if ((expected.fwMark ?? 0) !== (live.fwMark ?? 0)) return false;
  if (expected.peers.length !== live.peers.length) return false;

  const livePeers = new Map(live.peers.map((peer) => [peer.publicKey, peer]));
  return expected.peers.every((peer) => {
    const other = livePeers.get(peer.publicKey);
    if (other === undefined) return false;
    if (peer.presharedKey !== other.presharedKey) return false;
    if ((peer.persistentKeepalive ?? 0) !== (other.persistentKeepalive ?? 0)) return false;
    if (peer.endpoint !== null && peer.endpoint !== other.endpoint) return false;
    return [...peer.allowedIps].sort().join(',') === [...other.allowedIps].sort().join(',');
  });
}

// ---------------------------------------------------------------------------------------------
// Lines and sections

function splitSections(text: string, file: string): Section[] {
  const sections: Section[] = [];
  const lines = text.replace(/^\uFEFF/, '').split('\n');

  for (const [index, raw] of lines.entries()) {
    const number = index + 1;
    const line = stripComment(raw.replace(/\r$/, '')).trim();
    if (line === '') continue;

    const header = /^\[\s*([A-Za-z]+)\s*\]$/.exec(line);
    if (header) {
      const name = header[1]?.toLowerCase();
      if (name !== 'interface' && name !== 'peer') {
        throw new WireGuardConfigError(file, number, 'unknown section; expected [Interface] or [Peer]');
      }
      sections.push({ kind: name === 'interface' ? 'Interface' : 'Peer', line: number, values: new Map() });
      continue;
    }

    const section = sections.at(-1);
    if (section === undefined) {
      throw new WireGuardConfigError(file, number, 'expected [Interface] before the first setting');
    }
    addSetting(section, line, number, file);
  }
  return sections;
}

// wg and wg-quick both drop everything from the first `#`; no value in their syntax contains one.
function stripComment(line: string): string {
  const hash = line.indexOf('#');
  return hash === -1 ? line : line.slice(0, hash);
}

function addSetting(section: Section, line: string, number: number, file: string): void {
  const equals = line.indexOf('=');
  if (equals === -1) {
    throw new WireGuardConfigError(file, number, 'expected "Key = Value" or a section header such as [Peer]');
  }

  const name = line.slice(0, equals).trim();
  const value = line.slice(equals + 1).trim();
  const known: readonly string[] = section.kind === 'Interface' ? INTERFACE_KEYS : PEER_KEYS;
  const key = known.find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  if (key === undefined) {
    const where = section.kind === 'Interface' ? 'an [Interface]' : 'a [Peer]';
    const quotable = /^[A-Za-z]+$/.test(name) && name.length <= MAX_QUOTED_NAME_LENGTH;
    const hint = quotable ? `"${name}" is not a key of ${where} section` : `not a key of ${where} section`;
    throw new WireGuardConfigError(file, number, `${hint}; expected one of ${known.join(', ')}`);
  }
  if (value === '') {
    throw new WireGuardConfigError(file, number, `${key} has no value`);
  }

  const previous = section.values.get(key);
  if (previous !== undefined && !LIST_KEYS.has(key)) {
    throw new WireGuardConfigError(file, number, `${key} is given again; it was set at line ${previous[0]?.line}`);
  }
  section.values.set(key, [...(previous ?? []), { value, line: number }]);
}

// ---------------------------------------------------------------------------------------------
// Values

function interfaceSettings(section: Section, file: string): WireGuardSettings {
  const privateKey = single(section, 'PrivateKey');
  if (privateKey === undefined) {
    throw new WireGuardConfigError(file, section.line, 'the [Interface] section has no PrivateKey');
  }

  const listenPort = single(section, 'ListenPort');
  const fwMark = single(section, 'FwMark');
  return {
    privateKey: parseKey(privateKey, 'PrivateKey', file),
    listenPort: listenPort === undefined ? null : parseInteger(listenPort, 'ListenPort', 0, MAX_PORT, file),
    fwMark: fwMark === undefined || fwMark.value.toLowerCase() === 'off' ? null : parseInteger(fwMark, 'FwMark', 0, MAX_FWMARK, file),
    peers: [],
  };
}

function peerSettings(section: Section, file: string): WireGuardPeer {
  const publicKey = single(section, 'PublicKey');
  if (publicKey === undefined) {
    throw new WireGuardConfigError(file, section.line, 'this [Peer] section has no PublicKey');
  }

  const presharedKey = single(section, 'PresharedKey');
  const endpoint = single(section, 'Endpoint');
  const keepalive = single(section, 'PersistentKeepalive');
  // wg treats a keepalive of 0 as off, as showconf then omits it.
  const keepaliveSeconds = keepalive === undefined || keepalive.value.toLowerCase() === 'off' ? 0 : parseInteger(keepalive, 'PersistentKeepalive', 0, MAX_KEEPALIVE_SECONDS, file);
  return {
    publicKey: parseKey(publicKey, 'PublicKey', file),
    presharedKey: presharedKey === undefined ? null : parseKey(presharedKey, 'PresharedKey', file),
    allowedIps: (section.values.get('AllowedIPs') ?? []).flatMap((entry) => parsePrefixList(entry, 'AllowedIPs', file).map((prefix) => networkText(prefix))),
    endpoint: endpoint === undefined ? null : parseEndpoint(endpoint, file),
    persistentKeepalive: keepaliveSeconds === 0 ? null : keepaliveSeconds,
  };
}

function wgQuickSettings(section: Section, file: string): WgQuickSettings {
  const mtu = single(section, 'MTU');
  return {
    addresses: (section.values.get('Address') ?? []).flatMap((entry) => parsePrefixList(entry, 'Address', file).map((prefix) => prefix.text)),
    mtu: mtu === undefined ? null : parseInteger(mtu, 'MTU', MIN_MTU, MAX_MTU, file),
    ignoredKeys: WG_QUICK_ONLY_KEYS.filter((key) => key !== 'Address' && key !== 'MTU' && section.values.has(key)),
  };
}

function single(section: Section, key: string): { value: string; line: number } | undefined {
  return section.values.get(key)?.[0];
}

function parseKey(entry: { value: string; line: number }, key: string, file: string): string {
  if (!KEY_PATTERN.test(entry.value) || Buffer.from(entry.value, 'base64').length !== KEY_BYTES) {
    throw new WireGuardConfigError(file, entry.line, `${key} is not a WireGuard key; expected 44 characters of base64, as wg genkey prints`);
  }
  return entry.value;
}

function parseInteger(entry: { value: string; line: number }, key: string, min: number, max: number, file: string): number {
  const text = entry.value;
  const value = /^0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new WireGuardConfigError(file, entry.line, `${key} ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`);
  }
  return value;
}

/** Parses "10.49.0.1/16, 2001:db8::1" (a bare address gets /32 or /128). */
function parsePrefixList(entry: { value: string; line: number }, key: string, file: string): ReturnType<typeof parseInterfaceAddress>[] {
  return entry.value.split(',').map((item) => {
    const text = item.trim();
    const withLength = text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`;
    try {
      return parseInterfaceAddress(withLength);
    } catch (error) {
      if (!(error instanceof PrefixError)) throw error;
      throw new WireGuardConfigError(file, entry.line, `${key} entry ${JSON.stringify(text)} is not an address with a prefix length (${error.reason})`);
    }
  });
}

function networkText(prefix: ReturnType<typeof parseInterfaceAddress>): string {
  return networkOf(prefix).text;
}

/** Accepts HOST:PORT and [IPv6]:PORT, as wg does; the host is resolved by wg, not here. */
function parseEndpoint(entry: { value: string; line: number }, file: string): string {
  const match = /^(\[[0-9A-Fa-f:.%\w]+\]|[^\s:[\]]+):(\d+)$/.exec(entry.value);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > MAX_PORT) {
    throw new WireGuardConfigError(file, entry.line, `Endpoint ${JSON.stringify(entry.value)} is not HOST:PORT or [IPv6]:PORT`);
  }
  return entry.value;
}
