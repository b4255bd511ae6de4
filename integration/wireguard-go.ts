/**
 * wireguard-go (the Debian package, v0.0.20220316) inside a sandbox, for machines whose kernel
 * has no WireGuard module.
 *
 * wireguard-go takes one argument, the interface name, and forks into the background unless it
 * gets `--foreground` (or `-f`) first. Any other argument, `--help` included, is taken as an
 * interface name. Its UAPI socket, which `wg` talks to, is /var/run/wireguard/NAME.sock. That path
 * is inside the sandbox's private /run, so each sandbox has its own.
 */

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './command.js';
import { probeProgram, probeTun, waitFor, type Daemon, type Sandbox } from './sandbox.js';

/** Milliseconds wireguard-go may take to create its interface and socket. */
const STARTUP_TIMEOUT_MS = 5_000;

/** wireguard-go's limit: Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
const MAX_INTERFACE_NAME_LENGTH = 15;

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

/** Generates a key pair with `wg genkey` and `wg pubkey` (no kernel or network involved). */
export async function generateKeyPair(): Promise<KeyPair> {
  const privateKey = (await runCommand(['wg', 'genkey'])).stdout.trim();
  const publicKey = (await runCommand(['wg', 'pubkey'], { input: `${privateKey}\n` })).stdout.trim();
  return { privateKey, publicKey };
}

/** Resolves with null when wireguard-go can run here, else with the reason to skip. */
export async function probeWireguardGo(): Promise<string | null> {
  return (await probeProgram('wireguard-go')) ?? (await probeProgram('wg')) ?? (await probeTun());
}

/**
 * Starts wireguard-go in the foreground inside the sandbox, so the sandbox tracks its pid, and
 * resolves once its interface and UAPI socket exist.
 */
export async function startWireguardGo(sandbox: Sandbox, interfaceName: string): Promise<Daemon> {
  if (interfaceName.length === 0 || interfaceName.length > MAX_INTERFACE_NAME_LENGTH || interfaceName.startsWith('-')) {
    throw new RangeError(
      `Expected an interface name of 1 to ${MAX_INTERFACE_NAME_LENGTH} characters not starting with "-", got "${interfaceName}"`,
    );
  }

  // WG_PROCESS_FOREGROUND=1 also silences the banner that recommends the kernel module.
  const daemon = sandbox.spawnDaemon(['wireguard-go', '--foreground', interfaceName], {
    env: { WG_PROCESS_FOREGROUND: '1' },
  });

  await waitFor(
    `wireguard-go to create ${interfaceName} in sandbox ${sandbox.pid}`,
    async () => {
      if (!daemon.running) {
        const status = await daemon.exited;
        throw new Error(
          `wireguard-go ${interfaceName} exited with code ${status.code} (signal ${status.signal}): ${daemon.stderr.trim()}`,
        );
      }
      const check = await sandbox.run(['sh', '-c', 'ip link show dev "$1" && test -S "/run/wireguard/$1.sock"', 'sh', interfaceName], {
        allowFailure: true,
      });
      return check.code === 0;
    },
    STARTUP_TIMEOUT_MS,
  );
  return daemon;
}

export interface WireguardPeer {
  publicKey: string;
  endpoint?: string;
  allowedIps: readonly string[];
  persistentKeepalive?: number;
}

export interface WireguardSettings {
  privateKey: string;
  listenPort?: number;
  peers: readonly WireguardPeer[];
}

/** Applies a configuration with `wg setconf NAME FILE` inside the sandbox. */
export async function configureWireguard(sandbox: Sandbox, interfaceName: string, settings: WireguardSettings): Promise<void> {
  const lines = ['[Interface]', `PrivateKey = ${settings.privateKey}`];
  if (settings.listenPort !== undefined) {
    lines.push(`ListenPort = ${settings.listenPort}`);
  }
  for (const peer of settings.peers) {
    lines.push('', '[Peer]', `PublicKey = ${peer.publicKey}`, `AllowedIPs = ${peer.allowedIps.join(', ')}`);
    if (peer.endpoint !== undefined) {
      lines.push(`Endpoint = ${peer.endpoint}`);
    }
    if (peer.persistentKeepalive !== undefined) {
      lines.push(`PersistentKeepalive = ${peer.persistentKeepalive}`);
    }
  }

  // A file, not /dev/stdin: Node's stdio pipes are sockets, which cannot be opened by path.
  const folder = await mkdtemp(join(tmpdir(), 'algo-netns-wg-'));
  const path = join(folder, `${interfaceName}.conf`);
  await writeFile(path, `${lines.join('\n')}\n`, { mode: 0o600 });
  try {
    await sandbox.run(['wg', 'setconf', interfaceName, path]);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** One peer as `wg show NAME dump` prints it. */
export interface WireguardPeerState {
  publicKey: string;
  endpoint: string | null;
  allowedIps: string[];
  /** Unix time of the last handshake in seconds, 0 if none happened. */
  latestHandshake: number;
  transferRx: number;
  transferTx: number;
}

/** Reads the peers of an interface with `wg show NAME dump` inside the sandbox. */
export async function showWireguardPeers(sandbox: Sandbox, interfaceName: string): Promise<WireguardPeerState[]> {
  const { stdout } = await sandbox.run(['wg', 'show', interfaceName, 'dump']);

  // The first line describes the interface, each following line one peer, fields tab-separated:
  // public-key preshared-key endpoint allowed-ips latest-handshake rx tx persistent-keepalive.
  return stdout
    .trim()
    .split('\n')
    .slice(1)
    .filter((line) => line !== '')
    .map((line) => {
      const [publicKey = '', , endpoint = '(none)', allowedIps = '(none)', handshake = '0', rx = '0', tx = '0'] = line.split('\t');
      return {
        publicKey,
        endpoint: endpoint === '(none)' ? null : endpoint,
        allowedIps: allowedIps === '(none)' ? [] : allowedIps.split(','),
        latestHandshake: Number(handshake),
        transferRx: Number(rx),
        transferTx: Number(tx),
      };
    });
}
