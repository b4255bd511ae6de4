/**
 * The WireGuard interface: made in the root namespace with the kernel module (so its UDP
 * socket stays on the public address) and moved, or an existing one adopted and moved.
 */
import { NetlinkError } from '../netlink/errors.js';
import { ensureAddress } from '../ops/addresses.js';
import { openCurrentNamespace, openNamedNamespace, type NetnsHandle } from '../ops/handle.js';
import { createLink, ensureLinkInNamespace, ensureLinkUp, getLink, linkKind, removeLink } from '../ops/links.js';
import type { RunContext } from './run-context.js';
import { SetupError } from './setup-error.js';
import { OWNER_ALIAS, type ServiceLayout } from './topology.js';

type WireGuardLayout = NonNullable<ServiceLayout['wireguard']>;

/** Puts the WireGuard interface into `ns` and gives it its addresses. */
export async function buildWireGuard(run: RunContext, ns: NetnsHandle, wireguard: WireGuardLayout): Promise<void> {
  const name = wireguard.adopt ?? wireguard.interface;

  if (!(await getLink(ns, name))) {
    const ready = wireguard.adopt ? await prepareAdopted(run, ns, name) : await prepareKernelLink(run, ns, name);
    if (!ready) return;

    const moved = await ensureLinkInNamespace(run.root, ns, name, { dryRun: run.dryRun });
    run.record(moved, () => moveBackToRoot(ns.label, name));
  }

  for (const address of wireguard.addresses) run.record(await ensureAddress(ns, name, address, { noDad: true, dryRun: run.dryRun }));
  run.record(await ensureLinkUp(ns, name, { dryRun: run.dryRun }));
}

// An interface made by someone else (wireguard-go): journaled so that `down` moves it back.
async function prepareAdopted(run: RunContext, ns: NetnsHandle, name: string): Promise<boolean> {
  const link = await getLink(run.root, name);
  if (!link) {
    throw new SetupError(`wireguard.adoptInterface names ${name}, but there is no link ${name} in the root namespace; start wireguard-go ${name} first`);
  }
  // wireguard-go makes a TUN device; anything else (the uplink, a bridge) must never move.
  const kind = linkKind(link);
  if (kind !== 'tun' && kind !== 'wireguard') {
    throw new SetupError(`wireguard.adoptInterface names ${name}, which is a ${kind ?? 'device without a kind'}, not a WireGuard or TUN interface; it was not moved`);
  }
  if (!run.state.adoptedLinks.some((link) => link.name === name)) {
    run.state.adoptedLinks.push({ name, namespace: ns.label });
    await run.journal();
  }
  return true;
}

// A link made here with the kernel module; false when the kernel has no WireGuard.
async function prepareKernelLink(run: RunContext, ns: NetnsHandle, name: string): Promise<boolean> {
  const inRoot = await getLink(run.root, name);
  const journaled = run.state.links.includes(name);
  if (inRoot) {
    const ours = linkKind(inRoot) === 'wireguard' && (inRoot.attributes.ifalias === OWNER_ALIAS || journaled);
    if (!ours && !run.adopt) {
      throw new SetupError(
        `link ${name} already exists in the root namespace and was not created by algo-netns; ` +
          `set wireguard.adoptInterface: ${name} to move it into ${ns.label}, or pass --adopt`,
      );
    }
    return true;
  }

  const change = `add wireguard link ${name} in the root namespace`;
  if (run.dryRun) {
    run.record([change]);
    run.notices.push(`the plan assumes the kernel has the WireGuard module; where it has not, up skips ${name} and says so`);
    return true;
  }

  if (!journaled) {
    run.state.links.push(name);
    await run.journal();
  }
  try {
    await createLink(run.root, name, 'wireguard', OWNER_ALIAS);
  } catch (error) {
    if (error instanceof NetlinkError && (error.code === 'EOPNOTSUPP' || error.code === 'ENOENT')) {
      run.state.links = run.state.links.filter((link) => link !== name);
      await run.journal();
      run.notices.push(
        `WireGuard skipped: the kernel has no WireGuard module (${error.message}). ` +
          `Start wireguard-go ${name} and set wireguard.adoptInterface: ${name} to move its interface instead.`,
      );
      return false;
    }
    throw error;
  }
  run.record([change], async () => void (await removeLink(run.root, name)));
  return true;
}

async function moveBackToRoot(namespace: string, name: string): Promise<void> {
  const ns = await openNamedNamespace(namespace);
  const root = openCurrentNamespace();
  try {
    if (await getLink(ns, name)) await ensureLinkInNamespace(ns, root, name);
  } finally {
    await ns.close();
    await root.close();
  }
}
