/** Taking the run lock for a command, with a progress line while it waits. */
import type { TopologyConfig } from '../setup/config.js';
import { acquireLock } from '../setup/lock.js';
import type { CommandContext, OptionSpec } from './command.js';

/** Seconds a run waits for another one by default. */
export const DEFAULT_LOCK_TIMEOUT_SECONDS = 60;

export const LOCK_OPTION: Record<string, OptionSpec> = { 'lock-timeout': { type: 'string' } };

export const LOCK_OPTION_HELP = `  --lock-timeout SECONDS
                  wait this long for another algo-netns run to finish (default ${DEFAULT_LOCK_TIMEOUT_SECONDS})`;

/**
 * Runs `work` while holding the state directory's lock. With `removeAfter` the lock file is
 * deleted before the lock is released, so `down` leaves no file behind.
 */
export async function withRunLock<T>(context: CommandContext, work: (config: TopologyConfig) => Promise<T>, removeAfter = false): Promise<T> {
  const timeout = lockTimeout(context.options['lock-timeout']);
  const lock = await acquireLock(context.config.stateDirectory, timeout, (pid) =>
    context.streams.stderr.write(`waiting up to ${timeout} s for another algo-netns run (pid ${pid}) to finish\n`),
  );
  try {
    const result = await work(context.config);
    if (removeAfter) await lock.remove();
    return result;
  } finally {
    await lock.release();
  }
}

/** Thrown for a --lock-timeout that is not a whole number of seconds. */
export class UsageError extends Error {
  override name = 'UsageError';
}

function lockTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_LOCK_TIMEOUT_SECONDS;
  const seconds = Number(value);
  if (typeof value !== 'string' || !/^[0-9]+$/.test(value) || seconds > 86_400) {
    throw new UsageError(`--lock-timeout expects whole seconds from 0 to 86400, got "${String(value)}"`);
  }
  return seconds;
}
