/**
 * `up`: builds the topology, changing only what differs from the live state, and records
 * what it created so that `down` can remove exactly that.
 */
import { NetlinkError } from '../netlink/errors.js';
import { type Change } from '../ops/change.js';
import { ensureSysctl } from '../ops/ensure-sysctl.js';
import { openCurrentNamespace, openNamedNamespace, type NetnsHandle } from '../ops/handle.js';
import { ensureAddress } from '../ops/addresses.js';
import { createLink, ensureLinkInNamespace, ensureLinkUp, ensureVethPair, getLink, linkKind } from '../ops/links.js';
import { createNamespace, namespaceExists } from '../ops/netns.js';
import { ensureRoute } from '../ops/routes.js';
import { ensureRule } from '../ops/rules.js';
import type { TopologyConfig } from './config.js';
import { applyServices } from './services.js';
import { SetupError } from './setup-error.js';
import { readState, writeState, type TopologyState } from './state.js';
import { isolationRules, OWNER_ALIAS, serviceLayouts, type ServiceLayout } from './topology.js';
import { findUplink } from './uplink.js';

export interface UpResult {
  changes: Change[];
  /** Notes for the operator that are not failures ("WireGuard skipped: ..."). */
  notices: string[];
  uplink: string | null;
  elapsedMs: number;
}

export interface UpOptions {
  /** Called with each change as it is made, for progress output. */
  onChange?: (change: Change) => void;
  verbose?: boolean;
}

/** Root namespace sysctls the topology needs: forwarding for both families. */
const ROOT_SYSCTLS: [string, string][] = [
  ['net.ipv4.ip_forward', '1'],
  ['net.ipv6.conf.all.forwarding', '1'],
];

/** Builds or repairs the topology described by `config`. */
export async function up(config: TopologyConfig, options: UpOptions = {}): Promise<UpResult> {
  const started = performance.now();
  const result: UpResult = { changes: [], notices: [], uplink: null, elapsedMs: 0 };
  const record = (changes: Change[]): void => {
    for (const change of changes) {
      result.changes.push(change);
      options.onChange?.(change);
    }
  };

  const root = openCurrentNamespace();
  const state = await readState(config.stateDirectory);
  try {
    result.uplink = await findUplink(root, config.uplink);

    for (const [key, value] of ROOT_SYSCTLS) {
      const { changes, previous } = await ensureSysctl(root, key, value);
      if (changes.length > 0 && !(key in state.rootSysctls)) {
        state.rootSysctls[key] = previous;
        await writeState(config.stateDirectory, state);
      }
      record(changes);
    }

    for (const layout of serviceLayouts(config)) {
      const ns = await ensureServiceNamespace(layout, config, state, record);
      try {
        await buildService(root, ns, layout, config, state, record, result.notices);
      } finally {
        await ns.close();
      }
    }

    for (const rule of isolationRules(config)) record(await ensureRule(root, rule));
    await applyServices({ root, config, uplink: result.uplink, record, notices: result.notices, dryRun: false });
  } finally {
    await root.close();
  }

  result.elapsedMs = performance.now() - started;
  return result;
}

async function ensureServiceNamespace(
  layout: ServiceLayout,
  config: TopologyConfig,
  state: TopologyState,
  record: (changes: Change[]) => void,
): Promise<NetnsHandle> {
  if (await namespaceExists(layout.namespace)) {
    if (!state.namespaces.includes(layout.namespace)) {
      throw new SetupError(
        `namespace ${layout.namespace} already exists and was not created by algo-netns; remove it (ip netns delete ${layout.namespace}) or choose another name with ${layout.service}.namespace`,
      );
    }
  } else {
    // Recorded before it exists, so that `down` finds it even if this run dies right after.
    if (!state.namespaces.includes(layout.namespace)) state.namespaces.push(layout.namespace);
    await writeState(config.stateDirectory, state);
    await createNamespace(layout.namespace);
    record([`create namespace ${layout.namespace}`]);
  }
  return openNamedNamespace(layout.namespace);
}

async function buildService(
  root: NetnsHandle,
  ns: NetnsHandle,
  layout: ServiceLayout,
  config: TopologyConfig,
  state: TopologyState,
  record: (changes: Change[]) => void,
  notices: string[],
): Promise<void> {
  const forwarding = layout.forwarding ? '1' : '0';
  const uplink = layout.namespaceInterface;

  record(await ensureLinkUp(ns, 'lo'));
  // Set explicitly: IPv4 values of a new namespace are copied from the root namespace, and
  // rp_filter takes the larger of "all" and the link's own value.
  for (const [key, value] of [
    ['net.ipv4.ip_forward', forwarding],
    ['net.ipv6.conf.all.forwarding', forwarding],
    ['net.ipv4.conf.all.rp_filter', '0'],
    ['net.ipv4.conf.default.rp_filter', '0'],
  ] as const) {
    record((await ensureSysctl(ns, key, value)).changes);
  }

  record(await ensureVethPair(root, ns, { name: layout.hostInterface, peerName: uplink, alias: OWNER_ALIAS }));
  for (const [handle, link] of [
    [root, layout.hostInterface],
    [ns, uplink],
  ] as const) {
    // The slash form keeps an interface name with a dot in it one key component.
    record((await ensureSysctl(handle, `net/ipv4/conf/${link}/rp_filter`, '1')).changes);
    record((await ensureSysctl(handle, `net/ipv6/conf/${link}/accept_ra`, '0')).changes);
  }

  for (const address of layout.hostAddresses) record(await ensureAddress(root, layout.hostInterface, address, { noDad: true }));
  for (const address of layout.namespaceAddresses) record(await ensureAddress(ns, uplink, address, { noDad: true }));
  record(await ensureLinkUp(root, layout.hostInterface));
  record(await ensureLinkUp(ns, uplink));

  const protocol = config.routeProtocol;
  record(await ensureRoute(ns, { destination: 'default', family: 4, gateway: layout.gateways[4], device: uplink, protocol }));
  record(await ensureRoute(ns, { destination: 'default', family: 6, gateway: layout.gateways[6], device: uplink, protocol }));
  for (const prefix of layout.routedPrefixes) {
    const nextHop = prefix.includes(':') ? layout.nextHops[6] : layout.nextHops[4];
    record(await ensureRoute(root, { destination: prefix, gateway: nextHop, device: layout.hostInterface, protocol }));
  }

  for (const address of layout.loopbackAddresses) record(await ensureAddress(ns, 'lo', address, { noDad: true }));
  if (layout.wireguard) await buildWireGuard(root, ns, layout.wireguard, config, state, record, notices);
}

async function buildWireGuard(
  root: NetnsHandle,
  ns: NetnsHandle,
  wireguard: NonNullable<ServiceLayout['wireguard']>,
  config: TopologyConfig,
  state: TopologyState,
  record: (changes: Change[]) => void,
  notices: string[],
): Promise<void> {
  const name = wireguard.adopt ?? wireguard.interface;

  if (!(await getLink(ns, name))) {
    const inRoot = await getLink(root, name);
    if (wireguard.adopt) {
      if (!inRoot) {
        throw new SetupError(`wireguard.adoptInterface names ${name}, but there is no link ${name} in the root namespace; start wireguard-go ${name} first`);
      }
      if (!state.adoptedLinks.some((link) => link.name === name)) state.adoptedLinks.push({ name, namespace: ns.label });
      await writeState(config.stateDirectory, state);
    } else if (inRoot) {
      if (linkKind(inRoot) !== 'wireguard' || inRoot.attributes.ifalias !== OWNER_ALIAS) {
        throw new SetupError(
          `link ${name} already exists in the root namespace and was not created by algo-netns; set wireguard.adoptInterface: ${name} to move it into ${ns.label}`,
        );
      }
    } else {
      try {
        await createLink(root, name, 'wireguard', OWNER_ALIAS);
        record([`add wireguard link ${name} in the root namespace`]);
      } catch (error) {
        if (error instanceof NetlinkError && (error.code === 'EOPNOTSUPP' || error.code === 'ENOENT')) {
          notices.push(
            `WireGuard skipped: the kernel has no WireGuard module (adding link ${name} failed: ${error.message}). ` +
              `Start wireguard-go ${name} and set wireguard.adoptInterface: ${name} to move its interface instead.`,
          );
          return;
        }
        throw error;
      }
    }
    record(await ensureLinkInNamespace(root, ns, name));
  }

  for (const address of wireguard.addresses) record(await ensureAddress(ns, name, address, { noDad: true }));
  record(await ensureLinkUp(ns, name));
}
