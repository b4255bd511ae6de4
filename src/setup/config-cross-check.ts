/**
 * Configuration rules that join fields: networks that must not overlap, addresses that must
 * lie in a pool, and names that must be unique within a namespace.
 *
 * These run after the field checks and skip every value those already reported, so each
 * mistake appears once. Conflicts count only among enabled services, because a disabled service
 * creates nothing.
 */

import { containsAddress, parseInterfaceAddress, parsePrefix, prefixesOverlap, type IpPrefix } from './cidr.js';
import { SERVICE_NAMES, type ServiceName } from './config.js';
import { describeValue, isPlainMapping, pathsNest, type ProblemList } from './errors.js';

type Mapping = Record<string, unknown>;

/** A value found at a path, for messages that name both sides of a conflict. */
interface Located<T> {
  path: string;
  raw: unknown;
  parsed: T;
}

/** Records a problem for each cross-field rule that `config` breaks. */
export function checkCrossFieldRules(config: Mapping, problems: ProblemList): void {
  const enabled = SERVICE_NAMES.filter((name) => {
    const service = config[name];
    return isPlainMapping(service) && service.enabled === true;
  });

  const values = new ValidValues(config, problems);

  checkNetworksDisjoint(values, enabled, problems);
  checkWireGuardAddressesInPools(values, problems);
  checkNamespacesDistinct(values, enabled, problems);
  checkRootInterfacesDistinct(values, enabled, problems);
  checkNamespaceInterfaces(values, enabled, problems);
}

/** Reads the values of `config` that passed their field checks. */
class ValidValues {
  private readonly config: Mapping;
  private readonly reportedPaths: readonly string[];

  /** Takes the paths reported so far, so that problems the rules add later do not hide values. */
  constructor(config: Mapping, problems: ProblemList) {
    this.config = config;
    this.reportedPaths = problems.items.map((problem) => problem.path);
  }

  /** Returns the string at `section.key`, or undefined when it is missing or was reported. */
  text(section: ServiceName | '', key: string): Located<string> | undefined {
    const path = section === '' ? key : `${section}.${key}`;
    const raw = this.mapping(section)[key];

    if (typeof raw !== 'string' || this.isReported(path)) {
      return undefined;
    }

    return { path, raw, parsed: raw };
  }

  /** Returns the prefix at `section.key` parsed with `parse`, or undefined as for `text`. */
  prefix(section: ServiceName, key: string, parse: (text: string) => IpPrefix): Located<IpPrefix> | undefined {
    const found = this.text(section, key);
    return found === undefined ? undefined : { ...found, parsed: parse(found.parsed) };
  }

  /** Returns every entry of the list at `section.key` parsed, or undefined when any was reported. */
  prefixList(section: ServiceName, key: string, parse: (text: string) => IpPrefix): Located<IpPrefix>[] | undefined {
    const path = `${section}.${key}`;
    const list = this.mapping(section)[key];

    if (!Array.isArray(list) || this.isReported(path)) {
      return undefined;
    }

    return list.map((raw: unknown, index) => ({ path: `${path}[${index}]`, raw, parsed: parse(String(raw)) }));
  }

  private isReported(path: string): boolean {
    return this.reportedPaths.some((reported) => pathsNest(path, reported));
  }

  private mapping(section: ServiceName | ''): Mapping {
    const value = section === '' ? this.config : this.config[section];
    return isPlainMapping(value) ? value : {};
  }
}

/** Transit networks, client pools and service addresses must not share any address. */
function checkNetworksDisjoint(values: ValidValues, enabled: readonly ServiceName[], problems: ProblemList): void {
  const networks: Located<IpPrefix>[] = [];

  for (const name of enabled) {
    networks.push(
      ...[values.prefix(name, 'transitIPv4', parsePrefix), values.prefix(name, 'transitIPv6', parsePrefix)].filter(isPresent),
      ...(values.prefixList(name, 'clientPools', parsePrefix) ?? []),
      ...(values.prefixList(name, 'serviceAddresses', parseInterfaceAddress) ?? []),
    );
  }

  networks.forEach((later, laterIndex) => {
    const earlier = networks.slice(0, laterIndex).find((candidate) => prefixesOverlap(candidate.parsed, later.parsed));

    if (earlier !== undefined) {
      problems.add(
        later.path,
        later.raw,
        `${describeValue(later.raw)} overlaps ${earlier.path} ${describeValue(earlier.raw)}`,
        'transit networks, client pools and service addresses that share no address',
      );
    }
  });
}

/** The WireGuard interface serves clients in its pools, so each of its addresses must lie in one of them. */
function checkWireGuardAddressesInPools(values: ValidValues, problems: ProblemList): void {
  const pools = values.prefixList('wireguard', 'clientPools', parsePrefix);
  const addresses = values.prefixList('wireguard', 'addresses', parseInterfaceAddress);

  if (pools === undefined || addresses === undefined) {
    return;
  }

  const poolTexts = pools.map((pool) => pool.parsed.text).join(', ');

  for (const address of addresses) {
    if (!pools.some((pool) => containsAddress(pool.parsed, address.parsed))) {
      problems.add(
        address.path,
        address.raw,
        `${describeValue(address.raw)} is not inside any of wireguard.clientPools`,
        `an address inside one of ${poolTexts}`,
      );
    }
  }
}

function checkNamespacesDistinct(values: ValidValues, enabled: readonly ServiceName[], problems: ProblemList): void {
  const names = enabled.map((name) => values.text(name, 'namespace')).filter(isPresent);
  reportDuplicates(names, 'a namespace name used by one service only', problems);
}

/**
 * Interfaces that live in the root namespace: the uplink, the WireGuard interface, which is
 * created there (or adopted from there) before it moves, and each veth's host end.
 */
function checkRootInterfacesDistinct(values: ValidValues, enabled: readonly ServiceName[], problems: ProblemList): void {
  const uplink = values.text('', 'uplink');
  const created = enabled.includes('wireguard') ? [wireGuardInterface(values)] : [];
  created.push(...enabled.map((name) => values.text(name, 'hostInterface')));

  const createdNames = created.filter(isPresent);
  reportLoopback(createdNames, problems);
  reportDuplicates([uplink, ...createdNames].filter(isPresent), 'an interface name used once in the root namespace', problems);
}

/** Inside each service namespace, the veth end and the WireGuard interface need their own names. */
function checkNamespaceInterfaces(values: ValidValues, enabled: readonly ServiceName[], problems: ProblemList): void {
  for (const name of enabled) {
    const candidates = name === 'wireguard' ? [wireGuardInterface(values)] : [];
    candidates.push(values.text(name, 'namespaceInterface'));

    const names = candidates.filter(isPresent);
    reportLoopback(names, problems);
    reportDuplicates(names, `an interface name used once in the ${name} namespace`, problems);
  }
}

/** Returns the interface that moves into the WireGuard namespace: the adopted one when set, else the one `up` creates. */
function wireGuardInterface(values: ValidValues): Located<string> | undefined {
  return values.text('wireguard', 'adoptInterface') ?? values.text('wireguard', 'interface');
}

/** Reports a name used twice, at the later of the two paths. */
function reportDuplicates(names: readonly Located<string>[], expected: string, problems: ProblemList): void {
  names.forEach((later, laterIndex) => {
    const earlier = names.slice(0, laterIndex).find((candidate) => candidate.parsed === later.parsed);

    if (earlier !== undefined) {
      problems.add(later.path, later.raw, `${describeValue(later.raw)} is also used by ${earlier.path}`, expected);
    }
  });
}

function reportLoopback(names: readonly Located<string>[], problems: ProblemList): void {
  for (const name of names) {
    if (name.parsed === 'lo') {
      problems.add(
        name.path,
        name.raw,
        '"lo" is the loopback interface, which every namespace already has',
        'another interface name, such as uplink',
      );
    }
  }
}

function isPresent<T>(value: T | undefined): value is T {
  return value !== undefined;
}
