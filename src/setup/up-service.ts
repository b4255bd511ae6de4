/** The part of `up` that builds one service namespace and its link to the root namespace. */
import { absentNamespace } from '../ops/absent.js';
import { ConflictError, type Change } from '../ops/change.js';
import { ensureAddress } from '../ops/addresses.js';
import { ensureSysctl } from '../ops/ensure-sysctl.js';
import type { NetnsHandle } from '../ops/handle.js';
import { ensureLinkUp, ensureVethPair, getLink, removeLink } from '../ops/links.js';
import { createNamespace, deleteNamespace, namespaceExists } from '../ops/netns.js';
import { ensureRoute, removeRoute, type RouteSpec } from '../ops/routes.js';
import type { NamespaceHandles } from './namespace-handles.js';
import type { RunContext } from './run-context.js';
import { SetupError } from './setup-error.js';
import { writeState } from './state.js';
import { OWNER_ALIAS, type ServiceLayout } from './topology.js';
import { buildWireGuard } from './up-wireguard.js';

/**
 * Creates the service's namespace if needed (journaled first) and opens a handle on it,
 * which `handles` keeps open until the run ends.
 */
export async function openServiceNamespace(run: RunContext, layout: ServiceLayout, handles: NamespaceHandles): Promise<NetnsHandle> {
  const name = layout.namespace;
  const exists = await namespaceExists(name);
  const ours = run.state.namespaces.includes(name);

  if (exists && !ours) {
    if (!run.adopt) {
      throw new SetupError(
        `namespace ${name} already exists and was not created by algo-netns; remove it (ip netns delete ${name}), ` +
          `choose another name with ${layout.service}.namespace, or pass --adopt to take it over`,
      );
    }
    run.state.namespaces.push(name);
    await run.journal();
    run.record([`adopt namespace ${name}`]);
  }

  if (!exists) {
    if (!ours) {
      run.state.namespaces.push(name);
      await run.journal();
    }
    const change = `create namespace ${name}`;
    await handles.discardAhead(name);
    if (run.dryRun) {
      run.record([change]);
      const absent = absentNamespace(name);
      handles.hold(name, absent);
      return absent;
    }

    // A file left by a run killed while it created this namespace.
    if (ours) await deleteNamespace(name);
    await createNamespace(name);
    run.record([change], async () => {
      await deleteNamespace(name);
      run.state.namespaces = run.state.namespaces.filter((namespace) => namespace !== name);
      await writeState(run.config.stateDirectory, run.state);
    });
  }
  return handles.open(name);
}

/**
 * Builds the inside of the namespace, the veth pair, addresses, routes and sysctls.
 *
 * Steps that do not depend on each other and have nothing to undo go out together (see
 * RunContext.recordInOrder), and their changes are recorded in the order of the plan. Steps
 * that write the journal or have an inverse for rollback run alone, one after another.
 */
export async function buildService(run: RunContext, ns: NetnsHandle, layout: ServiceLayout): Promise<void> {
  const { root } = run;
  const dryRun = run.dryRun;
  const forwarding = layout.forwarding ? '1' : '0';
  const uplink = layout.namespaceInterface;
  const sysctl = async (handle: NetnsHandle, key: string, value: string): Promise<Change[]> => (await ensureSysctl(handle, key, value, { dryRun })).changes;

  // Set explicitly: IPv4 values of a new namespace are copied from the root namespace, and
  // rp_filter takes the larger of "all" and the link's own value.
  await run.recordInOrder([
    ensureLinkUp(ns, 'lo', { dryRun }),
    sysctl(ns, 'net.ipv4.ip_forward', forwarding),
    sysctl(ns, 'net.ipv6.conf.all.forwarding', forwarding),
    sysctl(ns, 'net.ipv4.conf.all.rp_filter', '0'),
    sysctl(ns, 'net.ipv4.conf.default.rp_filter', '0'),
  ]);

  await ensureHostLink(run, ns, layout);
  // The slash form keeps an interface name with a dot in it one key component. Without
  // duplicate address detection the link-local address, which IPv6 neighbour discovery
  // uses, works as soon as the link is up instead of seconds later.
  const linkSysctls: Promise<Change[]>[] = [];
  for (const [handle, link] of [
    [root, layout.hostInterface],
    [ns, uplink],
  ] as const) {
    linkSysctls.push(
      sysctl(handle, `net/ipv4/conf/${link}/rp_filter`, '1'),
      sysctl(handle, `net/ipv6/conf/${link}/accept_ra`, '0'),
      sysctl(handle, `net/ipv6/conf/${link}/accept_dad`, '0'),
    );
  }
  await run.recordInOrder(linkSysctls);

  // Addresses before the links go up, and both before the routes, whose gateways must be
  // reachable over a link that is up.
  await run.recordInOrder([
    ...layout.hostAddresses.map((address) => ensureAddress(root, layout.hostInterface, address, { noDad: true, dryRun })),
    ...layout.namespaceAddresses.map((address) => ensureAddress(ns, uplink, address, { noDad: true, dryRun })),
  ]);
  await run.recordInOrder([ensureLinkUp(root, layout.hostInterface, { dryRun }), ensureLinkUp(ns, uplink, { dryRun })]);

  const protocol = run.config.routeProtocol;
  await run.recordInOrder(
    ([4, 6] as const).map((family) => ensureRoute(ns, { destination: 'default', family, gateway: layout.gateways[family], device: uplink, protocol }, { dryRun })),
  );
  for (const prefix of layout.routedPrefixes) {
    const nextHop = prefix.includes(':') ? layout.nextHops[6] : layout.nextHops[4];
    const spec: RouteSpec = { destination: prefix, gateway: nextHop, device: layout.hostInterface, protocol };
    const replaceOnlyProtocol = run.adopt ? undefined : protocol;
    const changes = await withHint(ensureRoute(root, spec, { dryRun, replaceOnlyProtocol }), 'remove it, or pass --adopt to take it over');
    run.record(changes, async () => void (await removeRoute(root, spec)));
  }

  await run.recordInOrder(layout.loopbackAddresses.map((address) => ensureAddress(ns, 'lo', address, { noDad: true, dryRun })));
  if (layout.wireguard) await buildWireGuard(run, ns, layout.wireguard);
}

// The veth pair: its root end is journaled before it is made, and one that exists without
// our alias or a journal entry belongs to someone else.
async function ensureHostLink(run: RunContext, ns: NetnsHandle, layout: ServiceLayout): Promise<void> {
  const name = layout.hostInterface;
  const existing = await getLink(run.root, name);
  const journaled = run.state.links.includes(name);
  if (existing && existing.attributes.ifalias !== OWNER_ALIAS && !journaled && !run.adopt) {
    throw new SetupError(
      `link ${name} already exists in the root namespace and was not created by algo-netns; remove it, ` +
        `choose another name with ${layout.service}.hostInterface, or pass --adopt to take it over`,
    );
  }
  if (!journaled) {
    run.state.links.push(name);
    await run.journal();
  }

  const pair = { name, peerName: layout.namespaceInterface, alias: OWNER_ALIAS };
  const hint = 'if it is left from an earlier configuration, run algo-netns down with that configuration first';
  run.record(await withHint(ensureVethPair(run.root, ns, pair, { dryRun: run.dryRun }), hint), async () => void (await removeLink(run.root, name)));
}

// A conflict found by an operation becomes a SetupError with what the operator can do.
async function withHint<T>(operation: Promise<T>, hint: string): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (error instanceof ConflictError) throw new SetupError(`${error.message}; ${hint}`);
    throw error;
  }
}
