/**
 * `down`: removes what `up` created (namespaces in the state file, links marked with the
 * owner alias, routes and rules stamped with our protocol number) and restores the root
 * namespace's sysctls. Objects that are not ours are left alone.
 */
import { type Change } from '../ops/change.js';
import { ensureSysctl } from '../ops/ensure-sysctl.js';
import { openCurrentNamespace, openNamedNamespace, ROOT_LABEL, type NetnsHandle } from '../ops/handle.js';
import { ensureLinkInNamespace, getLink, linkKind, listLinks, removeLink } from '../ops/links.js';
import { deleteNamespace, namespaceExists, pidsInNamespace } from '../ops/netns.js';
import { deleteRouteMessage, listRoutes } from '../ops/routes.js';
import { deleteRuleMessage, listRules } from '../ops/rules.js';
import type { TopologyConfig } from './config.js';
import { removeServices } from './services.js';
import { readState, removeState, writeState } from './state.js';
import { OWNER_ALIAS, serviceLayouts } from './topology.js';

export interface DownResult {
  changes: Change[];
  /** Processes still running inside a removed namespace, which keep it alive. */
  remainingProcesses: { namespace: string; pids: number[] }[];
  elapsedMs: number;
}

export interface DownOptions {
  onChange?: (change: Change) => void;
  /** Also remove the namespaces and veth links the configuration names, even if up did not record them. */
  adopt?: boolean;
}

/** Removes the topology. Running it when nothing is up changes nothing. */
export async function down(config: TopologyConfig, options: DownOptions = {}): Promise<DownResult> {
  const started = performance.now();
  const result: DownResult = { changes: [], remainingProcesses: [], elapsedMs: 0 };
  const record = (changes: Change[]): void => {
    for (const change of changes) {
      result.changes.push(change);
      options.onChange?.(change);
    }
  };

  const state = await readState(config.stateDirectory);
  const root = openCurrentNamespace();
  try {
    await removeServices({ root, config, uplink: null, record, notices: [], dryRun: false });

    // Adopted links go back to the root namespace, where they were before `up`.
    for (const adopted of [...state.adoptedLinks]) {
      if (await namespaceExists(adopted.namespace)) {
        const ns = await openNamedNamespace(adopted.namespace);
        try {
          if (await getLink(ns, adopted.name)) record(await ensureLinkInNamespace(ns, root, adopted.name));
        } finally {
          await ns.close();
        }
      }
      state.adoptedLinks = state.adoptedLinks.filter((link) => link !== adopted);
      await writeState(config.stateDirectory, state);
    }

    // Ours: links with the owner alias, and links journaled by a run killed before it set one.
    const configured = new Set(serviceLayouts(config).map((layout) => layout.hostInterface));
    for (const link of await listLinks(root)) {
      const name = link.attributes.ifname;
      if (!name) continue;
      const adopted = options.adopt === true && configured.has(name) && linkKind(link) === 'veth';
      if (link.attributes.ifalias === OWNER_ALIAS || state.links.includes(name) || adopted) record(await removeLink(root, name));
    }
    state.links = [];
    await writeState(config.stateDirectory, state);

    const names = new Set([...state.namespaces]);
    for (const layout of serviceLayouts(config)) if (options.adopt) names.add(layout.namespace);
    for (const name of names) {
      if (await namespaceExists(name)) {
        const pids = await pidsInNamespace(name);
        if (pids.length > 0) result.remainingProcesses.push({ namespace: name, pids });
        await deleteNamespace(name);
        record([`delete namespace ${name}`]);
      } else if (state.namespaces.includes(name)) {
        // A run killed while it created the namespace may have left its empty file.
        await deleteNamespace(name);
      }
      state.namespaces = state.namespaces.filter((namespace) => namespace !== name);
      await writeState(config.stateDirectory, state);
    }

    await removeStamped(root, config.routeProtocol, record);

    for (const [key, previous] of Object.entries(state.rootSysctls)) {
      record((await ensureSysctl(root, key, previous)).changes);
      delete state.rootSysctls[key];
      await writeState(config.stateDirectory, state);
    }
  } finally {
    await root.close();
  }

  await removeState(config.stateDirectory);
  result.elapsedMs = performance.now() - started;
  return result;
}

// Routes and rules left in the root namespace with our protocol number (a route over a link
// that was deleted is already gone with it).
async function removeStamped(root: NetnsHandle, protocol: number, record: (changes: Change[]) => void): Promise<void> {
  for (const route of await listRoutes(root)) {
    if (route.protocol !== protocol) continue;
    const description = `delete route to ${route.attributes.dst ?? 'default'}/${route.dstLength} in the ${ROOT_LABEL}`;
    await deleteRouteMessage(root, route, description);
    record([description]);
  }
  for (const family of [4, 6] as const) {
    for (const rule of await listRules(root, family)) {
      if (rule.attributes.protocol !== protocol) continue;
      const description = `delete rule priority ${rule.attributes.priority ?? 0} from ${rule.attributes.src ?? 'all'}/${rule.srcLength} to ${rule.attributes.dst ?? 'all'}/${rule.dstLength} in the ${ROOT_LABEL}`;
      await deleteRuleMessage(root, rule, description);
      record([description]);
    }
  }
}
