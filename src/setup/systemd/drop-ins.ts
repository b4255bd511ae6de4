/**
 * The drop-ins that start each Algo service inside its namespace, with hardening that the
 * service tolerates. Every setting carries its reason as a comment in the generated text, so
 * that an operator reading /etc/systemd/system can judge it.
 */
import { namespacePath } from '../../ops/netns.js';
import type { TopologyConfig } from '../config.js';
import { DNS_SERVICE_UNIT, DNS_SOCKET_UNIT, GENERATED_MARKER, MAIN_UNIT, PROGRAMS, STRONGSWAN_UNIT, wireGuardUnit } from './names.js';
import { execLine, section, unitFile, type UnitLine } from './unit-text.js';

export interface DropIn {
  /** The unit the drop-in changes, such as strongswan-starter.service. */
  unit: string;
  text: string;
}

/** Returns the drop-ins for the services that the configuration enables. */
export function dropIns(config: TopologyConfig): DropIn[] {
  const result: DropIn[] = [];

  if (config.strongswan.enabled) {
    result.push({ unit: STRONGSWAN_UNIT, text: strongSwanDropIn(config.strongswan.namespace) });
  }

  if (config.dns.enabled) {
    result.push({ unit: DNS_SOCKET_UNIT, text: dnsSocketDropIn(config.dns.namespace) });
    result.push({ unit: DNS_SERVICE_UNIT, text: dnsServiceDropIn(config.dns.namespace) });
  }

  if (config.wireguard.enabled) {
    const name = config.wireguard.adoptInterface ?? config.wireguard.interface;
    const adopted = config.wireguard.adoptInterface !== null;
    result.push({ unit: wireGuardUnit(name), text: wireGuardDropIn(config.wireguard.namespace, name, adopted) });
  }

  return result;
}

/** Returns the [Unit] lines of every drop-in, which start algo-netns.service before the service and stop it after. */
function requireMainUnit(): UnitLine[] {
  return [
    `${MAIN_UNIT} creates the namespace, so it starts first. Stopping it (which deletes the`,
    'namespace) stops this service first, and restarting it restarts this service.',
    ['Requires', MAIN_UNIT],
    ['After', MAIN_UNIT],
  ];
}

/** Returns the lines that point /etc/resolv.conf at the namespace's own file, as `ip netns exec` does. */
function namespaceResolver(namespace: string, reasons: readonly string[]): UnitLine[] {
  return [
    ...reasons,
    "The root namespace's resolver (systemd-resolved on 127.0.0.53) cannot be reached from",
    `${namespace}, so the service reads /etc/netns/${namespace}/resolv.conf instead, the file`,
    `"ip netns exec ${namespace}" uses. The leading "-" starts the service with the root`,
    "namespace's file when that one is missing.",
    ['BindReadOnlyPaths', `-/etc/netns/${namespace}/resolv.conf:/etc/resolv.conf`],
  ];
}

/** Returns the lines that replace any earlier RestrictAddressFamilies= list with `families`. */
function addressFamilies(families: readonly string[], reasons: readonly string[]): UnitLine[] {
  return [
    ...reasons,
    'Lists from several drop-ins are merged into one that allows all of them, so the empty',
    "assignment first clears earlier lists (Algo's own hardening drop-in sets one).",
    ['RestrictAddressFamilies', ''],
    ['RestrictAddressFamilies', families.join(' ')],
    'RestrictAddressFamilies= filters socket() only for the native architecture, so this line',
    'blocks the 32-bit system calls that would get around it.',
    ['SystemCallArchitectures', 'native'],
  ];
}

function strongSwanDropIn(namespace: string): string {
  const service = section('Service', [
    "charon's IKE sockets, its XFRM state and the routes it installs all live in the namespace.",
    ['NetworkNamespacePath', namespacePath(namespace)],
    '',
    ...namespaceResolver(namespace, ['charon resolves host names in ipsec.conf and in CRL and OCSP addresses.']),
    '',
    ...addressFamilies(
      ['AF_UNIX', 'AF_INET', 'AF_INET6', 'AF_NETLINK'],
      [
        'charon needs AF_INET and AF_INET6 for IKE (socket-default plugin), AF_NETLINK for XFRM',
        'and routes (kernel-netlink), and AF_UNIX for the stroke socket that starter and "ipsec"',
        'use. The dhcp and farp plugins would need AF_PACKET; Algo does not load them.',
      ],
    ),
    '',
    'charon and starter read nothing under /home, /root or /run/user.',
    ['ProtectHome', 'yes'],
    'ProtectSystem= is not set, because with cachecrls=yes charon writes the CRLs it fetches',
    'to /etc/ipsec.d/crls.',
  ]);

  return unitFile(
    [GENERATED_MARKER, `Starts the strongSwan starter and charon inside the network namespace ${namespace}.`],
    [section('Unit', requireMainUnit()), service],
  );
}

function dnsSocketDropIn(namespace: string): string {
  const unit = section('Unit', [
    ...requireMainUnit(),
    '',
    'A socket unit is ordered before sockets.target by default, and basic.target, which',
    `${MAIN_UNIT} follows, waits for sockets.target. With the lines above that makes an`,
    'ordering cycle, so the default dependencies are turned off and all but that one restated.',
    ['DefaultDependencies', 'no'],
    ['Requires', 'sysinit.target'],
    ['After', 'sysinit.target'],
    ['Conflicts', 'shutdown.target'],
    ['Before', 'shutdown.target'],
  ]);

  const socket = section('Socket', [
    'The listening sockets are bound inside the namespace, where algo-netns up puts the',
    "service addresses on lo. dnscrypt-proxy.service runs in the same namespace.",
    ['NetworkNamespacePath', namespacePath(namespace)],
  ]);

  return unitFile([GENERATED_MARKER, `Binds the resolver's listening sockets inside the network namespace ${namespace}.`], [unit, socket]);
}

function dnsServiceDropIn(namespace: string): string {
  const service = section('Service', [
    'The same namespace as dnscrypt-proxy.socket. Upstream queries leave through its default route.',
    ['NetworkNamespacePath', namespacePath(namespace)],
    '',
    ...namespaceResolver(namespace, [
      'dnscrypt-proxy uses the system resolver only with ignore_system_dns = false. Its',
      'fallback_resolver setting is separate, and must not be 127.0.0.53 in this namespace.',
    ]),
    '',
    ...addressFamilies(
      ['AF_INET', 'AF_INET6'],
      [
        "The same two families as Algo's own hardening drop-in: dnscrypt-proxy opens only",
        'Internet sockets, and systemd passes the listening sockets in. use_syslog = true in',
        'dnscrypt-proxy.toml would need AF_UNIX.',
      ],
    ),
    '',
    'dnscrypt-proxy reads nothing under /home, /root or /run/user.',
    ['ProtectHome', 'yes'],
    "ProtectSystem= is left to Algo's drop-in, which also opens the cache folder for writing.",
  ]);

  return unitFile(
    [GENERATED_MARKER, `Runs dnscrypt-proxy inside the network namespace ${namespace}.`],
    [section('Unit', requireMainUnit()), service],
  );
}

function wireGuardDropIn(namespace: string, name: string, adopted: boolean): string {
  const stripAndLoad = `set -o pipefail; ${PROGRAMS.wgQuick} strip ${name} | ${PROGRAMS.wg} setconf ${name} /dev/stdin`;
  const families = adopted ? ['AF_UNIX', 'AF_NETLINK', 'AF_INET', 'AF_INET6'] : ['AF_NETLINK', 'AF_INET', 'AF_INET6'];
  const familyReasons = [
    'wg and ip configure the interface over netlink, and wg opens an AF_INET6 datagram',
    'socket while it reads the configuration (wireguard-tools 1.0.20210914, seen with strace).',
    ...(adopted ? [`wg reaches wireguard-go through its UNIX socket, /var/run/wireguard/${name}.sock.`] : []),
  ];

  const service = section('Service', [
    `ip, and wg with the kernel module, find ${name} only in the namespace that holds it.`,
    ['NetworkNamespacePath', namespacePath(namespace)],
    '',
    `The empty assignments clear the template's wg-quick commands. algo-netns up has given ${name}`,
    `its addresses already. These lines load the keys and peers from /etc/wireguard/${name}.conf`,
    'without the settings only wg-quick reads (Address, DNS, MTU, PostUp and others), which',
    '"wg-quick strip" removes.',
    'A missing file fails the start here, before wg setconf runs, because with no input wg',
    'setconf would apply an empty configuration and remove the keys and peers. pipefail',
    'reports any other failure of wg-quick strip.',
    ['ExecStartPre', execLine([PROGRAMS.test, '-r', `/etc/wireguard/${name}.conf`])],
    ['ExecStart', ''],
    ['ExecStart', execLine([PROGRAMS.bash, '-c', stripAndLoad])],
    ['ExecStart', execLine([PROGRAMS.ip, 'link', 'set', 'dev', name, 'up'])],
    `Stopping only takes ${name} down, so that it carries no traffic. The interface belongs to`,
    'algo-netns, and "algo-netns down" deletes it (or moves an adopted one back).',
    "The template's ExecReload= (wg syncconf) runs in the namespace too and stays as it is.",
    ['ExecStop', ''],
    ['ExecStop', execLine([PROGRAMS.ip, 'link', 'set', 'dev', name, 'down'])],
    '',
    ...addressFamilies(families, familyReasons),
    '',
    'wg-quick strip and wg read nothing under /home, /root or /run/user.',
    ['ProtectHome', 'yes'],
    'There is no BindReadOnlyPaths= for resolv.conf, because wg resolves names only in peer',
    "Endpoint= lines, and Algo's server configuration has none.",
  ]);

  return unitFile(
    [
      GENERATED_MARKER,
      `Configures ${name} inside the network namespace ${namespace}, where algo-netns up moved it.`,
      `wg-quick itself cannot run there: "wg-quick up" creates the interface, so it would fail`,
      `because ${name} exists, and an interface created inside the namespace would open its UDP`,
      'socket there instead of on the public address.',
    ],
    [section('Unit', requireMainUnit()), service],
  );
}
