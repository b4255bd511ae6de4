/**
 * WireGuard's settings from a wg-quick file: the private key, listen port and peers set with
 * `wg setconf` run inside the WireGuard namespace, and the file's Address and MTU lines applied
 * over rtnetlink, as wg-quick would apply them.
 *
 * The private key never appears in a change, a notice or an error message: wg's own error output
 * can quote a key, so it is redacted before it is shown.
 */
import { readFile } from 'node:fs/promises';

import { ensureAddress } from '../../ops/addresses.js';
import type { Change } from '../../ops/change.js';
import { openNamedNamespace, type NetnsHandle } from '../../ops/handle.js';
import { ensureLinkMtu, getLink } from '../../ops/links.js';
import { namespaceExists, namespacePath } from '../../ops/netns.js';
import { HelperError, runHelper } from '../../ops/spawn.js';
import type { TopologyConfig } from '../config.js';
import { SetupError } from '../setup-error.js';
import { formatSetconf, parseWgQuickConfig, settingsMatch, WireGuardConfigError, type WgQuickConfig, type WireGuardSettings } from './wireguard-conf.js';
import { withPrivateFile } from './private-file.js';
import { findProgram } from './programs.js';

/**
 * Bytes WireGuard adds to a packet over IPv6: 40 for the IPv6 header, 8 for UDP and 32 for its
 * own header and authentication tag. wg-quick(8) sets the interface MTU to the route's MTU
 * minus this when the file gives no MTU.
 */
export const WIREGUARD_OVERHEAD = 80;

export interface WireGuardContext {
  root: NetnsHandle;
  config: TopologyConfig;
  uplink: string | null;
  record(changes: Change[]): void;
  notices: string[];
  dryRun: boolean;
  /** Handles already open on the service namespaces, used instead of opening another. */
  namespaces?: { get(name: string): NetnsHandle | undefined };
}

/** Applies the configured wg-quick file (if any) and the MTU to the interface in its namespace. */
export async function applyWireGuardSettings(context: WireGuardContext): Promise<void> {
  const { config } = context;
  if (!config.wireguard.enabled) return;

  const file = config.wireguard.configFile;
  const parsed = file === null ? null : await readWgQuickFile(file);
  const name = config.wireguard.adoptInterface ?? config.wireguard.interface;
  const namespace = config.wireguard.namespace;

  // In a plan for a host where the namespace or link is still to be made, everything is a change.
  // The caller's handle is used in a plan too, where a namespace still to be made reads as empty.
  const shared = context.namespaces?.get(namespace);
  const opened = shared === undefined && (await namespaceExists(namespace)) ? await openNamedNamespace(namespace) : null;
  const present = shared ?? opened;
  try {
    if (present === null || !(await getLink(present, name))) {
      if (context.dryRun && parsed !== null && file !== null) context.record([setconfChange(name, namespace, file, parsed.settings)]);
      else if (parsed !== null) context.notices.push(`WireGuard keys were not set: there is no link ${name} in ${namespace}`);
      return;
    }

    const options = { dryRun: context.dryRun };
    for (const address of parsed?.wgQuick.addresses ?? []) context.record(await ensureAddress(present, name, address, { ...options, noDad: true }));

    const mtu = parsed?.wgQuick.mtu ?? (await uplinkMtu(context));
    if (mtu !== null) context.record(await ensureLinkMtu(present, name, mtu, options));

    if (parsed !== null && file !== null) await setKeys(context, name, namespace, file, parsed);
  } finally {
    await opened?.close();
  }
}

async function readWgQuickFile(file: string): Promise<WgQuickConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    throw new SetupError(`wireguard.configFile ${file} could not be read (${code}); write the file, or set wireguard.configFile: null`);
  }

  try {
    return parseWgQuickConfig(text, file);
  } catch (error) {
    if (error instanceof WireGuardConfigError) throw new SetupError(`wireguard.configFile: ${error.message}`);
    throw error;
  }
}

/** Returns the uplink's MTU minus WireGuard's overhead, or null when the uplink is unknown. */
async function uplinkMtu(context: WireGuardContext): Promise<number | null> {
  if (context.uplink === null) return null;
  const mtu = (await getLink(context.root, context.uplink))?.attributes.mtu;
  return mtu === undefined ? null : mtu - WIREGUARD_OVERHEAD;
}

async function setKeys(context: WireGuardContext, name: string, namespace: string, file: string, parsed: WgQuickConfig): Promise<void> {
  const wg = await findProgram('wg');
  if (wg === null) throw new SetupError('wg was not found: install wireguard-tools, or set wireguard.configFile: null');

  const live = await readLiveSettings(wg, name, namespace);
  if (live !== null && settingsMatch(parsed.settings, live)) return;

  if (!context.dryRun) {
    await withPrivateFile(`${name}.conf`, formatSetconf(parsed.settings), async (path) => {
      try {
        await runHelper(['nsenter', `--net=${namespacePath(namespace)}`, '--', wg, 'setconf', name, path]);
      } catch (error) {
        if (!(error instanceof HelperError)) throw error;
        const detail = redactKeys(error.stderr.trim()) || `exit code ${error.exitCode}`;
        throw new SetupError(`wg setconf ${name} in ${namespace} failed: ${detail}`);
      }
    });
  }
  context.record([setconfChange(name, namespace, file, parsed.settings)]);
  if (parsed.wgQuick.ignoredKeys.length > 0) {
    context.notices.push(`${file}: ${parsed.wgQuick.ignoredKeys.join(', ')} ignored; they are wg-quick settings that algo-netns does not apply`);
  }
}

/** Reads the interface's settings with `wg showconf`, or returns null when they cannot be read or parsed. */
async function readLiveSettings(wg: string, name: string, namespace: string): Promise<WireGuardSettings | null> {
  try {
    const { stdout } = await runHelper(['nsenter', `--net=${namespacePath(namespace)}`, '--', wg, 'showconf', name]);
    return parseWgQuickConfig(stdout, `wg showconf ${name}`).settings;
  } catch (error) {
    // An interface without a private key yet has nothing to compare, and setconf sets it.
    if (error instanceof HelperError || error instanceof WireGuardConfigError) return null;
    throw error;
  }
}

function setconfChange(name: string, namespace: string, file: string, settings: WireGuardSettings): Change {
  const peers = settings.peers.length === 1 ? '1 peer' : `${settings.peers.length} peers`;
  return `set the private key, listen port and ${peers} of ${name} in ${namespace} from ${file} (wg setconf)`;
}

/** Replaces anything shaped like a WireGuard key (44 characters of base64) in `text`. */
export function redactKeys(text: string): string {
  return text.replace(/[A-Za-z0-9+/]{43}=/g, '(key redacted)');
}
