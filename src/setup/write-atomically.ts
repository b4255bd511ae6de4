/** Replacing a file whole, for the files that other programs may read at any moment. */
import { rename, rm, writeFile } from 'node:fs/promises';

export interface WriteAtomicallyOptions {
  /** File mode of a new file (default: 0o666 less the umask, as writeFile makes it). */
  mode?: number;
  /** Temporary file to write first (default `PATH.tmp`), which must be on the same file system. */
  temporary?: string;
}

/**
 * Writes `text` to `path` through a temporary file and a rename, so that a reader sees the
 * old file or the new one, never half of one. A failed write removes the temporary file.
 */
export async function writeAtomically(path: string, text: string, options: WriteAtomicallyOptions = {}): Promise<void> {
  const temporary = options.temporary ?? `${path}.tmp`;
  try {
    await writeFile(temporary, text, options.mode === undefined ? {} : { mode: options.mode });
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
