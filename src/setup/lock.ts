/**
 * One run at a time: `up` and `down` hold an exclusive flock on a file in the state
 * directory, so two runs never interleave their changes.
 */
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { HelperError, runHelper } from '../ops/spawn.js';
import { SetupError } from './setup-error.js';

const LOCK_FILE = 'lock';

/** flock(1) exits with 1 when --nonblock or --timeout gives up. */
const FLOCK_GAVE_UP = 1;

export interface Lock {
  release(): Promise<void>;
}

/**
 * Takes the lock, waiting up to `timeoutSeconds` for another run to finish. `onWait`
 * receives the other run's pid once, when the lock is busy.
 */
export async function acquireLock(directory: string, timeoutSeconds: number, onWait: (pid: string) => void): Promise<Lock> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const path = join(directory, LOCK_FILE);
  const handle = await open(path, 'a+', 0o600);

  try {
    // flock(1) locks the open file description it inherits as fd 3, which stays open in this
    // process after flock exits, so the lock lasts until the handle is closed.
    if (!(await tryFlock(handle, ['--nonblock']))) {
      onWait(await holderPid(path));
      if (!(await tryFlock(handle, ['--timeout', String(timeoutSeconds)]))) {
        throw new SetupError(
          `another algo-netns run (pid ${await holderPid(path)}) still holds ${path} after ${timeoutSeconds} s; ` +
            'wait for it to finish, or raise --lock-timeout',
        );
      }
    }
    await handle.truncate(0);
    await handle.write(`${process.pid}\n`, 0);
  } catch (error) {
    await handle.close();
    throw error;
  }

  return { release: () => handle.close() };
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
