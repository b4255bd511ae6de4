/**
 * Finding the external programs the services need (nft, wg, conntrack) before running them, so
 * that a missing package becomes a clear message or a notice instead of a failed spawn.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Folders searched after PATH. Debian puts nft and conntrack in /usr/sbin, which is missing from
 * the PATH of some ordinary shells that sudo or a service manager may hand on.
 */
const SYSTEM_FOLDERS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Returns the path of the executable `name` found in PATH or the system folders, or null. */
export async function findProgram(name: string): Promise<string | null> {
  const pathFolders = (process.env['PATH'] ?? '').split(':').filter((folder) => folder !== '');
  for (const folder of [...pathFolders, ...SYSTEM_FOLDERS]) {
    const candidate = join(folder, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this folder.
    }
  }
  return null;
}
