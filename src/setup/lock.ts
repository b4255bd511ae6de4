/**
 * One run at a time: `up` and `down` hold an exclusive flock on a file in the state
 * directory, so two runs never interleave their changes.
 */
import { open, readFile, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { HelperError, runHelper } from '../ops/spawn.js';
import { SetupError } from './setup-error.js';
import { ensureStateDirectory, removeStateDirectoryIfUnused } from './state-directory.js';

const LOCK_FILE = 'lock';

/** flock(1) exits with 1 when --nonblock or --timeout gives up. */
const FLOCK_GAVE_UP = 1;

export interface Lock {
  /** Deletes the lock file while still holding the lock, for a `down` that leaves no trace. */
  remove(): Promise<void>;
  release(): Promise<void>;
}

/**
 * Takes the lock, waiting up to `timeoutSeconds` for another run to finish. `onWait`
 * receives the other run's pid once, when the lock is busy.
 */
export async function acquireLock(directory: string, timeoutSeconds: number, onWait: (pid: string) => void): Promise<Lock> {
  const path = join(directory, LOCK_FILE);
  const deadline = Date.now() + timeoutSeconds * 1000;
  let reported = false;

  // down removes the lock file, which leaves any waiter locking the old inode. So after each
  // lock the file on disk must still be the one locked, and otherwise the loop starts over.
  for (;;) {
    const handle = await openLockFile(directory, path);
    try {
      if (!(await tryFlock(handle, ['--nonblock']))) {
        if (!reported) onWait(await holderPid(path));
        reported = true;
        const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
        if (!(await tryFlock(handle, ['--timeout', String(left)]))) {
          throw new SetupError(
            `another algo-netns run (pid ${await holderPid(path)}) still holds ${path} after ${timeoutSeconds} s; ` +
              'wait for it to finish, or raise --lock-timeout',
          );
        }
      }
      if (await sameFile(handle, path)) {
        await handle.truncate(0);
        await handle.write(`${process.pid}\n`, 0);
        return {
          remove: async () => {
            await rm(path, { force: true });
            await removeStateDirectoryIfUnused(directory);
          },
          release: () => handle.close(),
        };
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    await handle.close();
  }
}

// A finishing down removes the file and then its folder, so either may vanish between the
// mkdir and the open; that only means trying again.
async function openLockFile(directory: string, path: string): Promise<FileHandle> {
  for (;;) {
    try {
      await ensureStateDirectory(directory);
      return await open(path, 'a+', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

async function sameFile(handle: FileHandle, path: string): Promise<boolean> {
  const [held, onDisk] = await Promise.all([handle.stat(), stat(path).catch(() => null)]);
  return onDisk !== null && held.ino === onDisk.ino && held.dev === onDisk.dev;
}

async function tryFlock(handle: FileHandle, mode: string[]): Promise<boolean> {
  try {
    await runHelper(['flock', '--exclusive', ...mode, '3'], { passFds: [handle.fd], timeoutMs: 24 * 3600 * 1000 });
    return true;
  } catch (error) {
    if (error instanceof HelperError && error.exitCode === FLOCK_GAVE_UP) return false;
    throw error;
  }
}

async function holderPid(path: string): Promise<string> {
  const text = (await readFile(path, 'utf8').catch(() => '')).trim();
  return text === '' ? 'unknown' : text;
}
