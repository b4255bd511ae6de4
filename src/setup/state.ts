/**
 * The record of what `up` created, so that `down` removes exactly that. It lives in the
 * state directory (under /run by default: like /run/netns, it is gone after a reboot, and so
 * is everything it describes).
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SetupError } from './setup-error.js';
import { ensureStateDirectory, removeStateDirectoryIfUnused } from './state-directory.js';
import { writeAtomically } from './write-atomically.js';

export interface TopologyState {
  version: 1;
  /** Namespaces `up` created, or took over with --adopt. Recorded before they are made. */
  namespaces: string[];
  /** Root namespace links `up` creates (veth ends, a kernel WireGuard link), recorded before they are made. */
  links: string[];
  /** Links `up` moved into a namespace that existed before it (an adopted wireguard-go interface). */
  adoptedLinks: { name: string; namespace: string }[];
  /** Root namespace sysctls `up` changed, with their earlier values, restored by `down`. */
  rootSysctls: Record<string, string>;
}

const STATE_FILE = 'state.json';

export function emptyState(): TopologyState {
  return { version: 1, namespaces: [], links: [], adoptedLinks: [], rootSysctls: {} };
}

/** Reads the state file; a missing file means nothing was created. */
export async function readState(directory: string): Promise<TopologyState> {
  let text: string;
  try {
    text = await readFile(join(directory, STATE_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw error;
  }

  const path = join(directory, STATE_FILE);
  let parsed: Partial<TopologyState>;
  try {
    parsed = JSON.parse(text) as Partial<TopologyState>;
  } catch (error) {
    throw unreadable(path, (error as Error).message);
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.version !== 1) throw unreadable(path, 'not a version 1 state record');

  const state = { ...emptyState(), ...parsed } as TopologyState;
  const listsOfNames = [state.namespaces, state.links, state.adoptedLinks.map((link) => link.name)];
  if (!listsOfNames.every((list) => Array.isArray(list) && list.every((name) => typeof name === 'string'))) {
    throw unreadable(path, 'a list of names contains something other than names');
  }
  return state;
}

function unreadable(path: string, reason: string): SetupError {
  return new SetupError(
    `state file ${path} is unreadable (${reason}); it records what up created. ` +
      `Move it aside, then run "algo-netns down --adopt" to remove the namespaces and links the configuration names`,
  );
}

/** Writes the state file atomically (write, then rename), so a crash never leaves half a file. */
export async function writeState(directory: string, state: TopologyState): Promise<void> {
  await ensureStateDirectory(directory);
  const path = join(directory, STATE_FILE);
  await writeAtomically(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** Removes the state file and the directory, when algo-netns created it and it is now empty. */
export async function removeState(directory: string): Promise<void> {
  await rm(join(directory, STATE_FILE), { force: true });
  await removeStateDirectoryIfUnused(directory);
}
