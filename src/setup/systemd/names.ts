/**
 * Names and paths of the systemd units that algo-netns generates, and of the services it
 * moves into namespaces.
 *
 * TODO: the service unit names, the program paths and the record path are constants until the
 * configuration has keys for them. They fit Algo on Ubuntu 22.04 and 24.04.
 */

/** Folder for units the administrator installs, which systemd reads before the packages' units. */
export const UNIT_DIRECTORY = '/etc/systemd/system';

/** The unit that runs `algo-netns up` at start and `algo-netns down` at stop. */
export const MAIN_UNIT = 'algo-netns.service';

/** File name of every drop-in, in the `<unit>.d/` folder of the unit it changes. */
export const DROP_IN_FILE = 'algo-netns.conf';

/**
 * strongSwan's unit. Algo runs the `ipsec.conf` flavour (starter and charon, with the stroke
 * plugin) on Ubuntu 20.04 and later, whose unit is strongswan-starter.service. The other unit,
 * strongswan.service, runs charon-systemd configured through swanctl, which Algo does not use.
 */
export const STRONGSWAN_UNIT = 'strongswan-starter.service';

/** The resolver's socket unit; Algo binds the service addresses through it. */
export const DNS_SOCKET_UNIT = 'dnscrypt-proxy.socket';

/** The resolver's service unit, started by the socket. */
export const DNS_SERVICE_UNIT = 'dnscrypt-proxy.service';

/** Characters systemd accepts in a unit name's instance part without escaping. */
const PLAIN_INSTANCE = /^[A-Za-z0-9_.-]+$/;

/** Returns the wg-quick unit of one interface, as Algo enables it: wg-quick@wg0.service. */
export function wireGuardUnit(interfaceName: string): string {
  if (!PLAIN_INSTANCE.test(interfaceName)) {
    throw new TypeError(
      `Expected a WireGuard interface name of letters, digits, "_", "." and "-" for the unit wg-quick@NAME.service, got ${JSON.stringify(interfaceName)}`,
    );
  }

  return `wg-quick@${interfaceName}.service`;
}

/** Returns the path of a unit's drop-in, such as /etc/systemd/system/X.service.d/algo-netns.conf. */
export function dropInPath(unit: string): string {
  return `${UNIT_DIRECTORY}/${unit}.d/${DROP_IN_FILE}`;
}

/**
 * Programs the generated units run, at their paths on Ubuntu 22.04 and 24.04 and Debian 12
 * (all with /bin merged into /usr/bin, so /bin/bash and /usr/bin/bash are the same file).
 */
export const PROGRAMS = {
  bash: '/bin/bash',
  ip: '/usr/sbin/ip',
  test: '/usr/bin/test',
  wg: '/usr/bin/wg',
  wgQuick: '/usr/bin/wg-quick',
} as const;

/**
 * Path of the record of the files and folders `install` created, so that `uninstall` removes
 * exactly those. It is under /var/lib, not /run, because the units outlive a reboot.
 */
export const INSTALL_RECORD = '/var/lib/algo-netns/systemd-install.json';

/**
 * First line of every generated file. `install` overwrites a file that starts with it even when
 * the record does not list the file (the record was lost), and no other file.
 */
export const GENERATED_MARKER = '# Written by "algo-netns systemd install"; "algo-netns systemd uninstall" removes it.';
