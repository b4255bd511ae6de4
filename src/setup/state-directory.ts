/**
 * The state directory's life: `up` creates it when missing and marks it as its own, and `down`
 * removes it only when it carries that mark and nothing else is left in it. A folder that
 * existed before, such as one an operator made or shares with other files, is never removed.
 */
import { mkdir, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Empty file in a state directory that algo-netns created. */
export const CREATED_MARKER = '.created-by-algo-netns';

/** Creates `directory` (mode 0700) when it is missing and marks it as created by algo-netns. */
export async function ensureStateDirectory(directory: string): Promise<void> {
  // mkdir returns the first folder it created, or undefined when `directory` existed already.
  const created = await mkdir(directory, { recursive: true, mode: 0o700 });
  if (created !== undefined) await writeFile(join(directory, CREATED_MARKER), '', { mode: 0o600 });
}

/**
 * Removes `directory` when algo-netns created it and only the marker is left in it. Otherwise it
 * leaves the folder as it is.
 */
export async function removeStateDirectoryIfUnused(directory: string): Promise<void> {
  const entries = await readdir(directory).catch(() => null);
  if (entries === null || entries.length !== 1 || entries[0] !== CREATED_MARKER) return;

  await rm(join(directory, CREATED_MARKER), { force: true });
  try {
    await rmdir(directory);
  } catch (error) {
    // Another run put its lock file there in the meantime, so the folder stays, still marked.
    if ((error as NodeJS.ErrnoException).code === 'ENOTEMPTY') await writeFile(join(directory, CREATED_MARKER), '', { mode: 0o600 });
  }
}
