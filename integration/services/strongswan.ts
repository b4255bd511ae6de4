/**
 * charon (Debian's charon-systemd, strongSwan 5.9) for the service tests: the server in
 * strongswan-ns, reached through the root namespace's DNAT, and a client in a namespace of
 * its own behind the internet namespace, both driven with swanctl over their vici sockets.
 *
 * Each charon runs in a mount namespace of its own with a private /run, because charon keeps its
 * runtime files there, and reads its own strongswan.conf through STRONGSWAN_CONF. The kernel of
 * the build machines has no ESP for XFRM, so ESP runs in user space with kernel-libipsec, which
 * needs:
 * - the kdf plugin, because Debian's default plugin set here has no openssl plugin for the PRF+;
 * - a firewall mark on charon's own sockets (socket-default fwmark) and the inverse mark on its
 *   routing rule (kernel-netlink fwmark !MARK), so that UDP-encapsulated ESP to the peer is not
 *   routed back into the tunnel that carries everything (remote_ts 0.0.0.0/0);
 * - kernel-libipsec allow_peer_ts, so that the client may tunnel a selector that contains the peer.
 * Authentication is a pre-shared key: the tests are about addresses and packets, not certificates.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { waitFor, type Daemon, type RunResult, type Sandbox } from '../sandbox.js';

/** The mark on charon's own packets, excluded from the tunnel's routing rule. */
const CHARON_MARK = '0x42';

/** Plugins each charon loads: crypto for IKE and ESP in software, the kernel interfaces, vici. */
const PLUGINS = 'random nonce aes sha1 sha2 hmac kdf curve25519 kernel-libipsec kernel-netlink socket-default vici attr';

const PROPOSALS = 'aes256-sha256-x25519';
const ESP_PROPOSALS = 'aes256-sha256';

/** A pre-shared key for a throwaway sandbox; it protects nothing. */
const TEST_PSK = 'algo-netns-test-only-pre-shared-key';

export const SERVER_ID = 'server.algo-netns.test';
export const CLIENT_ID = 'client.algo-netns.test';

export interface Charon {
  daemon: Daemon;
  /** The vici socket's URI, for swanctl --uri. */
  vici: string;
  /** The strongswan.conf this charon and its swanctl read. */
  conf: string;
}

/**
 * Starts charon-systemd in `namespace` with a private /run and waits for its vici socket. Its log
 * goes to stderr (the daemon's `stderr`), at level 1.
 */
export async function startCharon(sandbox: Sandbox, namespace: string, folder: string, name: string): Promise<Charon> {
  const vici = `unix://${join(folder, `${name}.vici`)}`;
  const conf = join(folder, `${name}-strongswan.conf`);
  await writeFile(
    conf,
    `charon-systemd {
  load = ${PLUGINS}
  filelog {
    stderr {
      default = 1
    }
  }
  journal {
    default = -1
  }
  plugins {
    vici {
      socket = ${vici}
    }
    socket-default {
      fwmark = ${CHARON_MARK}
    }
    kernel-netlink {
      fwmark = !${CHARON_MARK}
    }
    kernel-libipsec {
      allow_peer_ts = yes
    }
  }
}
swanctl {
  load = random
}
`,
  );

  // `ip netns exec` already gives the program a mount namespace of its own, so the tmpfs on /run
  // is seen by this charon only.
  const daemon = sandbox.spawnDaemon(['ip', 'netns', 'exec', namespace, 'sh', '-c', 'mount -n -t tmpfs algo-netns-charon /run && exec charon-systemd'], {
    env: { STRONGSWAN_CONF: conf },
  });
  await waitFor(
    `charon in ${namespace} to open its vici socket`,
    async () => {
      if (!daemon.running) throw new Error(`charon in ${namespace} exited: ${daemon.stderr.trim()}`);
      return (await swanctl(sandbox, { vici, conf }, ['--stats'])).code === 0;
    },
    10_000,
    100,
  );
  return { daemon, vici, conf };
}

/** Runs swanctl against one charon; a non-zero exit is returned, not thrown. */
export function swanctl(sandbox: Sandbox, charon: Pick<Charon, 'vici' | 'conf'>, args: readonly string[], timeoutMs = 20_000): Promise<RunResult> {
  return sandbox.run(['swanctl', ...args, '--uri', charon.vici], { allowFailure: true, timeoutMs, env: { STRONGSWAN_CONF: charon.conf } });
}

/** Loads a swanctl.conf text into a charon, or throws with swanctl's output. */
export async function loadSwanctlConf(sandbox: Sandbox, charon: Charon, folder: string, name: string, text: string): Promise<void> {
  const path = join(folder, `${name}-swanctl.conf`);
  await writeFile(path, text, { mode: 0o600 });
  const loaded = await swanctl(sandbox, charon, ['--load-all', '--file', path]);
  if (loaded.code !== 0) throw new Error(`swanctl --load-all for ${name} failed: ${loaded.stderr}${loaded.stdout}`);
}

const SECRETS = `secrets {
  ike-test {
    id-server = ${SERVER_ID}
    id-client = ${CLIENT_ID}
    secret = "${TEST_PSK}"
  }
}
`;

/** Returns the server's swanctl.conf: any client with the test key gets a virtual IP from `pool`, a full tunnel and `dns` as resolver. */
export function serverConf(pool: string, dns: string): string {
  return `connections {
  rw {
    version = 2
    proposals = ${PROPOSALS}
    pools = clients
    local {
      auth = psk
      id = ${SERVER_ID}
    }
    remote {
      auth = psk
      id = ${CLIENT_ID}
    }
    children {
      full {
        local_ts = 0.0.0.0/0
        esp_proposals = ${ESP_PROPOSALS}
      }
    }
  }
}
pools {
  clients {
    addrs = ${pool}
    dns = ${dns}
  }
}
${SECRETS}`;
}

/** Returns the client's swanctl.conf: one connection to `server` that requests a virtual IP and tunnels everything. */
export function clientConf(server: string): string {
  return `connections {
  home {
    version = 2
    remote_addrs = ${server}
    vips = 0.0.0.0
    proposals = ${PROPOSALS}
    local {
      auth = psk
      id = ${CLIENT_ID}
    }
    remote {
      auth = psk
      id = ${SERVER_ID}
    }
    children {
      home {
        remote_ts = 0.0.0.0/0
        esp_proposals = ${ESP_PROPOSALS}
      }
    }
  }
}
${SECRETS}`;
}

export interface IkeSa {
  state: string;
  remoteHost: string;
  virtualIps: string[];
  children: { state: string; mode: string; packetsIn: number; packetsOut: number }[];
}

/** Lists the IKE SAs of a charon with `swanctl --list-sas --raw`, parsed. */
export async function listSas(sandbox: Sandbox, charon: Charon): Promise<IkeSa[]> {
  const result = await swanctl(sandbox, charon, ['--list-sas', '--raw']);
  if (result.code !== 0) throw new Error(`swanctl --list-sas failed: ${result.stderr}`);

  // --raw prints one line per SA: `list-sa event {name {key=value key=[list] child-sas {...}}}`.
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('list-sa event'))
    .map((line) => ({
      state: /\bstate=(\w+)/.exec(line)?.[1] ?? '',
      remoteHost: /\bremote-host=([^\s}]+)/.exec(line)?.[1] ?? '',
      virtualIps: [...(/\b(?:local|remote)-vips=\[([^\]]*)\]/.exec(line)?.[1] ?? '').split(/\s+/).filter((ip) => ip !== '')],
      children: [...line.matchAll(/\bchild-sas \{(.*)\}\}\}/g)].flatMap((match) =>
        [...(match[1] ?? '').matchAll(/\bstate=(\w+) mode=(\w+).*?packets-in=(\d+).*?packets-out=(\d+)/g)].map((child) => ({
          state: child[1] ?? '',
          mode: child[2] ?? '',
          packetsIn: Number(child[3]),
          packetsOut: Number(child[4]),
        })),
      ),
    }));
}
