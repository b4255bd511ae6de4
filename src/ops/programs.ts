/**
 * Finding the system programs this tool runs as root (ip helpers, nsenter, nft, wg ...).
 *
 * Only the system folders are searched, never PATH: `npm run` and `npx` put node_modules/.bin
 * first in PATH, where an unrelated package's command can carry the same name (the npm package
 * @vercel/nft installs a command called `nft`), and a root tool must not run it.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';

/** Folders searched, in order; Debian puts nft, conntrack and ip in /usr/sbin. */
export const SYSTEM_FOLDERS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** Returns the path of the executable `name` in the system folders, or null. */
export async function findProgram(name: string): Promise<string | null> {
  if (name.includes('/')) return name;
  for (const folder of SYSTEM_FOLDERS) {
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
