/** The part of `up` that builds one service namespace and its link to the root namespace. */
import { absentNamespace } from '../ops/absent.js';
import { ConflictError } from '../ops/change.js';
import { ensureAddress } from '../ops/addresses.js';
import { ensureSysctl } from '../ops/ensure-sysctl.js';
import { openNamedNamespace, type NetnsHandle } from '../ops/handle.js';
import { ensureLinkUp, ensureVethPair, getLink, removeLink } from '../ops/links.js';
import { createNamespace, deleteNamespace, namespaceExists } from '../ops/netns.js';
import { ensureRoute, removeRoute, type RouteSpec } from '../ops/routes.js';
import type { RunContext } from './run-context.js';
import { SetupError } from './setup-error.js';
import { writeState } from './state.js';
import { OWNER_ALIAS, type ServiceLayout } from './topology.js';
import { buildWireGuard } from './up-wireguard.js';

/** Creates the service's namespace if needed (journaled first) and opens a handle on it. */
export async function openServiceNamespace(run: RunContext, layout: ServiceLayout): Promise<NetnsHandle> {
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
    if (run.dryRun) {
      run.record([change]);
      return absentNamespace(name);
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
  return openNamedNamespace(name);
}

/** Builds the inside of the namespace, the veth pair, addresses, routes and sysctls. */
export async function buildService(run: RunContext, ns: NetnsHandle, layout: ServiceLayout): Promise<void> {
  const { root } = run;
  const dryRun = run.dryRun;
  const forwarding = layout.forwarding ? '1' : '0';
  const uplink = layout.namespaceInterface;

  run.record(await ensureLinkUp(ns, 'lo', { dryRun }));
  // Set explicitly: IPv4 values of a new namespace are copied from the root namespace, and
  // rp_filter takes the larger of "all" and the link's own value.
  for (const [key, value] of [
    ['net.ipv4.ip_forward', forwarding],
    ['net.ipv6.conf.all.forwarding', forwarding],
    ['net.ipv4.conf.all.rp_filter', '0'],
    ['net.ipv4.conf.default.rp_filter', '0'],
  ] as const) {
    run.record((await ensureSysctl(ns, key, value, { dryRun })).changes);
  }

  await ensureHostLink(run, ns, layout);
  for (const [handle, link] of [
    [root, layout.hostInterface],
    [ns, uplink],
  ] as const) {
    // The slash form keeps an interface name with a dot in it one key component. Without
    // duplicate address detection the link-local address, which IPv6 neighbour discovery
    // uses, works as soon as the link is up instead of seconds later.
    run.record((await ensureSysctl(handle, `net/ipv4/conf/${link}/rp_filter`, '1', { dryRun })).changes);
    run.record((await ensureSysctl(handle, `net/ipv6/conf/${link}/accept_ra`, '0', { dryRun })).changes);
    run.record((await ensureSysctl(handle, `net/ipv6/conf/${link}/accept_dad`, '0', { dryRun })).changes);
  }

  for (const address of layout.hostAddresses) run.record(await ensureAddress(root, layout.hostInterface, address, { noDad: true, dryRun }));
  for (const address of layout.namespaceAddresses) run.record(await ensureAddress(ns, uplink, address, { noDad: true, dryRun }));
  run.record(await ensureLinkUp(root, layout.hostInterface, { dryRun }));
  run.record(await ensureLinkUp(ns, uplink, { dryRun }));

  const protocol = run.config.routeProtocol;
  for (const family of [4, 6] as const) {
    run.record(await ensureRoute(ns, { destination: 'default', family, gateway: layout.gateways[family], device: uplink, protocol }, { dryRun }));
  }
  for (const prefix of layout.routedPrefixes) {
    const nextHop = prefix.includes(':') ? layout.nextHops[6] : layout.nextHops[4];
    const spec: RouteSpec = { destination: prefix, gateway: nextHop, device: layout.hostInterface, protocol };
    const replaceOnlyProtocol = run.adopt ? undefined : protocol;
    const changes = await withHint(ensureRoute(root, spec, { dryRun, replaceOnlyProtocol }), 'remove it, or pass --adopt to take it over');
    run.record(changes, async () => void (await removeRoute(root, spec)));
  }

  for (const address of layout.loopbackAddresses) run.record(await ensureAddress(ns, 'lo', address, { noDad: true, dryRun }));
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
