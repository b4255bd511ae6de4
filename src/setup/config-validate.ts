/**
 * Validation of a topology configuration: every field on its own, then the rules that join
 * fields (no overlapping networks, no shared names). All problems are collected and reported
 * together in one `ConfigError`, so an operator can fix a file in one pass.
 */

import { isAbsolute, posix } from 'node:path';

import { parseInterfaceAddress, parsePrefix, PrefixError, type IpPrefix } from './cidr.js';
import type { DnsConfig, FirewallConfig, StrongSwanConfig, TopologyConfig, WireGuardConfig } from './config.js';
import { checkCrossFieldRules } from './config-cross-check.js';
import { ConfigError, describeValue, isPlainMapping, ProblemList } from './errors.js';

/** IFNAMSIZ is 16 in include/uapi/linux/if.h, including the terminating NUL. */
const MAX_INTERFACE_NAME_BYTES = 15;

/** NAME_MAX: a namespace name is one file name under /run/netns. */
const MAX_NAMESPACE_NAME_BYTES = 255;

/**
 * Rule priorities 0, 32766 and 32767 belong to the kernel's default rules (local, main and
 * default tables). The isolation rules take rulePriority and rulePriority + 1, so both must
 * stay below the main table's rule.
 */
export const MIN_RULE_PRIORITY = 1;
export const MAX_RULE_PRIORITY = 32764;

/** RTPROT_UNSPEC (0) through RTPROT_STATIC (4) are the kernel's own values in rtm_protocol. */
export const MIN_ROUTE_PROTOCOL = 5;
export const MAX_ROUTE_PROTOCOL = 255;

/** Every transit network is an IPv4 /30: network+1 on the root side, network+2 in the namespace. */
const TRANSIT_IPV4_LENGTH = 30;

/**
 * An IPv6 transit network must hold network+1 and network+2, which a /127 cannot, and a link
 * needs no more than a /64, the usual size of one IPv6 subnet.
 */
const MIN_TRANSIT_IPV6_LENGTH = 64;
const MAX_TRANSIT_IPV6_LENGTH = 126;

/**
 * Checks a value against the shape and rules of `TopologyConfig` and returns it typed.
 * Throws one `ConfigError` that lists every problem found.
 */
export function validateConfig(value: unknown): TopologyConfig {
  const problems = new ProblemList();

  checkMapping(value, '', TOP_LEVEL_FIELDS, problems);

  if (isPlainMapping(value)) {
    checkCrossFieldRules(value, problems);
  }

  if (problems.items.length > 0) {
    throw ConfigError.fromProblems(problems.items);
  }

  return value as unknown as TopologyConfig;
}

/** Checks one field's value and records what is wrong with it. */
type FieldCheck = (value: unknown, path: string, problems: ProblemList) => void;

type FieldTable<T> = { readonly [K in keyof T]-?: FieldCheck };

function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

// ---------------------------------------------------------------------------------------------
// Shape: mappings, lists and field types

function checkMapping<T>(value: unknown, path: string, fields: FieldTable<T>, problems: ProblemList): void {
  const known = Object.keys(fields);
  const expected = path === '' ? 'a mapping of topology settings' : `a mapping of ${path} settings`;

  if (!isPlainMapping(value)) {
    problems.add(path, value, `${describeValue(value)} is not a mapping`, expected);
    return;
  }

  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      const suggestion = closestName(key, known);
      const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
      problems.add(joinPath(path, key), value[key], `"${key}" is not a known setting${hint}`, `one of ${known.join(', ')}`);
    }
  }

  for (const [key, check] of Object.entries<FieldCheck>(fields)) {
    const fieldPath = joinPath(path, key);

    if (!Object.hasOwn(value, key)) {
      problems.add(fieldPath, undefined, 'the setting is missing', 'a value for this setting');
      continue;
    }

    check(value[key], fieldPath, problems);
  }
}

/** Returns the known name closest to a misspelled one, if any is within two edits or differs only in case. */
function closestName(name: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;

  for (const candidate of known) {
    const distance = candidate.toLowerCase() === name.toLowerCase() ? 0 : editDistance(name, candidate);

    if (distance <= 2 && (best === undefined || distance < best.distance)) {
      best = { name: candidate, distance };
    }
  }

  return best?.name;
}

/** Levenshtein distance, one row at a time. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);

  for (let i = 1; i <= a.length; i++) {
    const current = [i];

    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }

    previous = current;
  }

  return previous[b.length] ?? 0;
}

function mappingOf<T>(fields: FieldTable<T>): FieldCheck {
  return (value, path, problems) => checkMapping(value, path, fields, problems);
}

function nullable(check: FieldCheck, meaningOfNull: string): FieldCheck {
  return (value, path, problems) => {
    if (value === null) {
      return;
    }

    const before = problems.items.length;
    check(value, path, problems);

    // Mention the null option in whatever the inner check reported.
    for (const problem of problems.items.slice(before)) {
      problem.expected = `${problem.expected}, or null ${meaningOfNull}`;
    }
  };
}

/** Checks a non-empty list whose items are checked one by one. */
function listOf(itemCheck: FieldCheck, itemsExpected: string): FieldCheck {
  return (value, path, problems) => {
    if (!Array.isArray(value)) {
      problems.add(path, value, `${describeValue(value)} is not a list`, `a list of ${itemsExpected}`);
      return;
    }

    if (value.length === 0) {
      problems.add(path, value, 'the list is empty', `at least one of ${itemsExpected}`);
      return;
    }

    value.forEach((item, index) => itemCheck(item, `${path}[${index}]`, problems));
  };
}

function checkBoolean(value: unknown, path: string, problems: ProblemList): void {
  if (typeof value !== 'boolean') {
    problems.add(path, value, `${describeValue(value)} is not a boolean`, 'true or false');
  }
}

function integerIn(min: number, max: number, explain: (value: number) => string | undefined, example: number): FieldCheck {
  const expected = `a whole number from ${min} to ${max}, such as ${example}`;

  return (value, path, problems) => {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      problems.add(path, value, `${describeValue(value)} is not a whole number`, expected);
      return;
    }

    if (value < min || value > max) {
      const explanation = explain(value);
      const detail = explanation === undefined ? '' : ` (${explanation})`;
      problems.add(path, value, `${value} is out of range${detail}`, expected);
    }
  };
}

const checkRulePriority = integerIn(
  MIN_RULE_PRIORITY,
  MAX_RULE_PRIORITY,
  (value) =>
    value <= 0
      ? 'priority 0 is the local table rule, which must stay first'
      : 'our rules must come before the main table rule at priority 32766, which matches almost everything',
  10400,
);

const checkRouteProtocol = integerIn(
  MIN_ROUTE_PROTOCOL,
  MAX_ROUTE_PROTOCOL,
  (value) =>
    value >= 0 && value < MIN_ROUTE_PROTOCOL
      ? 'protocols 0 to 4 are reserved by the kernel: unspec, redirect, kernel, boot and static'
      : value > MAX_ROUTE_PROTOCOL
        ? 'rtm_protocol is one byte'
        : undefined,
  245,
);

/**
 * Folders of the base system that `up` must not take as its state directory: it writes its lock
 * and state files there, and `down` removes the folder when it is empty. Subfolders such as
 * /run/algo-netns or /var/lib/algo-netns are fine.
 */
const SYSTEM_DIRECTORIES = new Set([
  '/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib64', '/media', '/mnt', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp',
  '/usr', '/usr/bin', '/usr/lib', '/usr/local', '/usr/sbin', '/var', '/var/lib', '/var/run', '/var/tmp',
]);

const STATE_DIRECTORY_EXPECTED = 'an absolute path to a folder of its own, such as /run/algo-netns or /var/lib/algo-netns';

function checkStateDirectory(value: unknown, path: string, problems: ProblemList): void {
  const before = problems.items.length;
  checkAbsolute(value, path, problems, STATE_DIRECTORY_EXPECTED);
  if (problems.items.length > before || typeof value !== 'string') return;

  // Compared in normal form, because "/etc/" and "/usr/../etc" name /etc too.
  const normal = posix.normalize(value);
  const trimmed = normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
  if (SYSTEM_DIRECTORIES.has(trimmed)) {
    problems.add(path, value, `${describeValue(value)} is a system folder; up would write its lock and state files there, and down could remove it`, STATE_DIRECTORY_EXPECTED);
  } else if (trimmed !== value) {
    problems.add(path, value, `${describeValue(value)} is not in normal form (write ${describeValue(trimmed)})`, STATE_DIRECTORY_EXPECTED);
  }
}

function checkAbsoluteFilePath(value: unknown, path: string, problems: ProblemList): void {
  checkAbsolute(value, path, problems, 'an absolute file path such as /etc/wireguard/wg0.conf');
}

function checkAbsolute(value: unknown, path: string, problems: ProblemList, expected: string): void {
  if (typeof value !== 'string') {
    problems.add(path, value, `${describeValue(value)} is not a string`, expected);
  } else if (value.includes('\0')) {
    problems.add(path, value, `${describeValue(value)} contains a NUL character`, expected);
  } else if (!isAbsolute(value)) {
    problems.add(path, value, `${describeValue(value)} is not an absolute path`, expected);
  }
}

// ---------------------------------------------------------------------------------------------
// Names

const INTERFACE_NAME_EXPECTED =
  'an interface name of 1 to 15 printable ASCII characters without "/", ":", "%" or spaces, such as ve-wg';

/**
 * Checks a network interface name as the kernel's dev_valid_name() does, and more strictly.
 * Only printable ASCII is allowed, because the kernel's isspace() also matches byte 0xA0, which
 * occurs inside UTF-8 characters. '%' is rejected because the kernel expands `%d` in a new name.
 */
function checkInterfaceName(value: unknown, path: string, problems: ProblemList): void {
  const reason = interfaceNameProblem(value);

  if (reason !== undefined) {
    problems.add(path, value, reason, INTERFACE_NAME_EXPECTED);
  }
}

function interfaceNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    return `${describeValue(value)} is not a string`;
  }

  const text = JSON.stringify(value);
  const bytes = Buffer.byteLength(value);

  if (bytes === 0) {
    return 'the name is empty';
  }

  if (value === '.' || value === '..') {
    return `${text} is reserved by the kernel`;
  }

  const badCharacter = [...value].find((character) => !/^[\x21-\x7e]$/.test(character) || '/:%'.includes(character));

  if (badCharacter === '%') {
    return `${text} contains "%", which the kernel expands into a number when it creates an interface`;
  }

  if (badCharacter !== undefined) {
    return `${text} contains ${JSON.stringify(badCharacter)}, which is not allowed in interface names`;
  }

  if (bytes > MAX_INTERFACE_NAME_BYTES) {
    return `${text} is ${bytes} bytes long, more than the kernel limit of ${MAX_INTERFACE_NAME_BYTES}`;
  }

  return undefined;
}

const NAMESPACE_NAME_EXPECTED =
  'a namespace name of 1 to 255 characters from A-Z, a-z, 0-9, "_", "." and "-", not starting with "-", such as wireguard-ns';

/** Checks a namespace name, which becomes the file /run/netns/NAME and a command-line argument. */
function checkNamespaceName(value: unknown, path: string, problems: ProblemList): void {
  const reason = namespaceNameProblem(value);

  if (reason !== undefined) {
    problems.add(path, value, reason, NAMESPACE_NAME_EXPECTED);
  }
}

function namespaceNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') {
    return `${describeValue(value)} is not a string`;
  }

  const text = JSON.stringify(value);

  if (value.length === 0) {
    return 'the name is empty';
  }

  if (value === '.' || value === '..') {
    return `${text} names a directory, not a file under /run/netns`;
  }

  if (value.includes('/')) {
    return `${text} contains "/", so it would name a path outside /run/netns`;
  }

  if (value.includes('\0')) {
    return `${text} contains a NUL character`;
  }

  if (!/^[A-Za-z0-9_.-]+$/.test(value)) {
    return `${text} contains characters other than A-Z, a-z, 0-9, "_", "." and "-"`;
  }

  if (value.startsWith('-')) {
    return `${text} starts with "-", so ip netns and other commands would read it as an option`;
  }

  if (value.length > MAX_NAMESPACE_NAME_BYTES) {
    return `${text} is ${value.length} characters long, more than the file name limit of ${MAX_NAMESPACE_NAME_BYTES}`;
  }

  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Addresses and prefixes

function parseOrReport(
  value: unknown,
  path: string,
  problems: ProblemList,
  parse: (text: string) => IpPrefix,
  kind: string,
  expected: string,
): IpPrefix | undefined {
  if (typeof value !== 'string') {
    problems.add(path, value, `${describeValue(value)} is not a string`, expected);
    return undefined;
  }

  try {
    return parse(value);
  } catch (error) {
    if (!(error instanceof PrefixError)) {
      throw error;
    }

    problems.add(path, value, `${describeValue(value)} is not a valid ${kind} (${error.reason})`, expected);
    return undefined;
  }
}

function checkTransitIPv4(value: unknown, path: string, problems: ProblemList): void {
  const expected = 'an IPv4 /30 network such as 10.47.255.0/30';
  const prefix = parseOrReport(value, path, problems, parsePrefix, 'IPv4 prefix', expected);

  if (prefix === undefined) {
    return;
  }

  if (prefix.family !== 4) {
    problems.add(path, value, `${describeValue(value)} is an IPv6 prefix`, expected);
  } else if (prefix.prefixLength !== TRANSIT_IPV4_LENGTH) {
    problems.add(
      path,
      value,
      `${describeValue(value)} is a /${prefix.prefixLength}, but a transit network is a /30 that holds ` +
        'network+1 for the root side and network+2 for the namespace',
      expected,
    );
  }
}

function checkTransitIPv6(value: unknown, path: string, problems: ProblemList): void {
  const expected = 'an IPv6 network with a prefix length from /64 to /126, such as fd47:255::/126';
  const prefix = parseOrReport(value, path, problems, parsePrefix, 'IPv6 prefix', expected);

  if (prefix === undefined) {
    return;
  }

  if (prefix.family !== 6) {
    problems.add(path, value, `${describeValue(value)} is an IPv4 prefix`, expected);
  } else if (prefix.prefixLength > MAX_TRANSIT_IPV6_LENGTH) {
    problems.add(
      path,
      value,
      `${describeValue(value)} is too small: the transit network must hold network+1 for the root side and network+2 for the namespace`,
      expected,
    );
  } else if (prefix.prefixLength < MIN_TRANSIT_IPV6_LENGTH) {
    problems.add(
      path,
      value,
      `${describeValue(value)} is larger than one IPv6 subnet (/64) and would take address space a link does not need`,
      expected,
    );
  }
}

function checkNetwork(value: unknown, path: string, problems: ProblemList): void {
  parseOrReport(value, path, problems, parsePrefix, 'IP prefix', 'a network such as 10.49.0.0/16 or 2001:db8:a160::/48');
}

function checkInterfaceAddress(value: unknown, path: string, problems: ProblemList): void {
  parseOrReport(
    value,
    path,
    problems,
    parseInterfaceAddress,
    'interface address',
    'an address with its prefix length, such as 10.49.0.1/16 or 2001:db8:a160::1/48',
  );
}

function checkHostPrefix(value: unknown, path: string, problems: ProblemList): void {
  const expected = 'a single address as a /32 or /128 prefix, such as 172.16.0.1/32 or fd00::1/128';
  const prefix = parseOrReport(value, path, problems, parseInterfaceAddress, 'host prefix', expected);

  if (prefix !== undefined && prefix.prefixLength !== (prefix.family === 4 ? 32 : 128)) {
    problems.add(path, value, `${describeValue(value)} is a /${prefix.prefixLength}, not a single address`, expected);
  }
}

// ---------------------------------------------------------------------------------------------
// The field tables, typed against the config interfaces so that a field added there must be
// added here

const SERVICE_FIELDS = {
  enabled: checkBoolean,
  namespace: checkNamespaceName,
  hostInterface: checkInterfaceName,
  namespaceInterface: checkInterfaceName,
  transitIPv4: checkTransitIPv4,
  transitIPv6: checkTransitIPv6,
};

const WIREGUARD_FIELDS: FieldTable<WireGuardConfig> = {
  ...SERVICE_FIELDS,
  interface: checkInterfaceName,
  addresses: listOf(checkInterfaceAddress, 'interface addresses such as 10.49.0.1/16'),
  clientPools: listOf(checkNetwork, 'networks such as 10.49.0.0/16'),
  adoptInterface: nullable(checkInterfaceName, 'to create the interface with the kernel module'),
  configFile: nullable(checkAbsoluteFilePath, 'to leave keys and peers unset'),
};

const STRONGSWAN_FIELDS: FieldTable<StrongSwanConfig> = {
  ...SERVICE_FIELDS,
  clientPools: listOf(checkNetwork, 'networks such as 10.48.0.0/16'),
};

const DNS_FIELDS: FieldTable<DnsConfig> = {
  ...SERVICE_FIELDS,
  serviceAddresses: listOf(checkHostPrefix, 'host prefixes such as 172.16.0.1/32'),
  resolvConf: checkBoolean,
};

const FIREWALL_FIELDS: FieldTable<FirewallConfig> = {
  enabled: checkBoolean,
  egressNat: checkBoolean,
};

const TOP_LEVEL_FIELDS: FieldTable<TopologyConfig> = {
  uplink: nullable(checkInterfaceName, 'to use the device of the IPv4 default route'),
  stateDirectory: checkStateDirectory,
  rulePriority: checkRulePriority,
  routeProtocol: checkRouteProtocol,
  wireguard: mappingOf(WIREGUARD_FIELDS),
  strongswan: mappingOf(STRONGSWAN_FIELDS),
  dns: mappingOf(DNS_FIELDS),
  firewall: mappingOf(FIREWALL_FIELDS),
};
