/**
 * /etc/netns/NAME/resolv.conf for each service namespace. `ip netns exec NAME` bind-mounts the
 * files of /etc/netns/NAME over those of /etc, so programs started that way ask the DNS
 * namespace's service addresses instead of the host's resolver (often systemd-resolved at
 * 127.0.0.53, which exists only in the root namespace). systemd's NetworkNamespacePath= does no
 * such mount: a unit needs BindReadOnlyPaths=/etc/netns/NAME/resolv.conf:/etc/resolv.conf.
 *
 * The first line marks the file as ours, so that `down` removes only files that `up` wrote.
 */
import { mkdir, readFile, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { Change } from '../../ops/change.js';
import type { TopologyConfig } from '../config.js';
import { SERVICE_NAMES } from '../config.js';
import { serviceLayouts } from '../topology.js';
import { writeAtomically } from '../write-atomically.js';

/** iproute2's NETNS_ETC_DIR. */
export const NETNS_ETC_DIR = '/etc/netns';

/** First line of every resolv.conf that algo-netns writes. */
export const RESOLV_CONF_MARKER = '# Written by algo-netns up; algo-netns down removes this file.';

/** glibc reads at most 3 nameserver lines (MAXNS in resolv.h) and ignores the rest. */
const MAX_NAMESERVERS = 3;

export interface ResolvContext {
  config: TopologyConfig;
  record(changes: Change[]): void;
  notices: string[];
  dryRun: boolean;
}

/** Returns the text of the resolv.conf that points at the DNS service addresses. */
export function resolvConfText(serviceAddresses: readonly string[]): string {
  const servers = serviceAddresses.map((address) => address.slice(0, address.indexOf('/'))).slice(0, MAX_NAMESERVERS);
  return [RESOLV_CONF_MARKER, ...servers.map((server) => `nameserver ${server}`), ''].join('\n');
}

/**
 * Writes resolv.conf for every enabled service namespace, and removes ours from the others (all
 * of them when dns or dns.resolvConf is off). A file not written by us is left alone.
 */
export async function applyResolvConf(context: ResolvContext): Promise<void> {
  const { config } = context;
  const namespaces = config.dns.enabled && config.dns.resolvConf ? serviceLayouts(config).map((layout) => layout.namespace) : [];
  await removeResolvConf(context, namespaces);
  if (namespaces.length === 0) return;

  if (config.dns.serviceAddresses.length > MAX_NAMESERVERS) {
    context.notices.push(`resolv.conf lists only the first ${MAX_NAMESERVERS} of dns.serviceAddresses, because glibc reads no more`);
  }
  const text = resolvConfText(config.dns.serviceAddresses);

  for (const namespace of namespaces) {
    const folder = join(NETNS_ETC_DIR, namespace);
    const path = join(folder, 'resolv.conf');
    const current = await readOptional(path);
    if (current === text) continue;
    if (current !== null && !isOurs(current)) {
      context.notices.push(`${path} exists and was not written by algo-netns, so it was left as it is; programs in ${namespace} use it`);
      continue;
    }

    const change = `write ${path} (nameservers ${config.dns.serviceAddresses.join(', ')})`;
    if (!context.dryRun) {
      await mkdir(folder, { recursive: true, mode: 0o755 });
      await writeAtomically(path, text, { mode: 0o644, temporary: temporaryPathOf(namespace) });
    }
    context.record([change]);
  }
}

/**
 * Removes the resolv.conf files that we wrote for the service namespaces named in the
 * configuration (enabled or not) except those in `keep`, and then their folders if empty.
 */
export async function removeResolvConf(context: ResolvContext, keep: readonly string[] = []): Promise<void> {
  for (const service of SERVICE_NAMES) {
    const namespace = context.config[service].namespace;
    if (keep.includes(namespace)) continue;

    const folder = join(NETNS_ETC_DIR, namespace);
    const path = join(folder, 'resolv.conf');
    // Left behind only when a run was killed between writing and renaming it.
    if (!context.dryRun) await rm(temporaryPathOf(namespace), { force: true });
    const current = await readOptional(path);
    if (current === null || !isOurs(current)) continue;

    if (!context.dryRun) {
      await rm(path, { force: true });
      await rmdir(folder).catch(() => undefined); // Not empty (files of the operator's): keep it.
    }
    context.record([`delete ${path}`]);
  }
}

/**
 * Returns the temporary file for a namespace's resolv.conf. It sits in /etc/netns itself, not
 * in the namespace's folder, because `ip netns exec` bind-mounts every file of that folder
 * over /etc, and a leftover one there made it fail.
 */
function temporaryPathOf(namespace: string): string {
  return join(NETNS_ETC_DIR, `.${namespace}.resolv.conf.tmp`);
}

function isOurs(text: string): boolean {
  return text.split('\n', 1)[0] === RESOLV_CONF_MARKER;
}

async function readOptional(path: string): Promise<string | null> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
