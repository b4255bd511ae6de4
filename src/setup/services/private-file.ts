/**
 * Short-lived files handed to helper programs that read their input by path (`wg setconf`,
 * `nft -f`). Node's stdio pipes are sockets, which those programs cannot open as
 * /dev/stdin, so the text goes into a file that only root can read.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Writes `text` to FOLDER/name, where FOLDER is a new folder of mode 0700 under the temporary
 * folder and the file has mode 0600, calls `use` with the path, and removes both afterwards,
 * also when `use` throws.
 */
export async function withPrivateFile<T>(name: string, text: string, use: (path: string) => Promise<T>): Promise<T> {
  const folder = await mkdtemp(join(tmpdir(), 'algo-netns-'));
  try {
    const path = join(folder, name);
    // 'wx' fails rather than writing through anything that appeared at the path meanwhile.
    await writeFile(path, text, { mode: 0o600, flag: 'wx' });
    return await use(path);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}
