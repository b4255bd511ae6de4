/** Telling the running systemd to read the unit files again, where one runs. */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import { runHelper } from '../../ops/spawn.js';

/** Milliseconds `systemctl daemon-reload` may take; it reloads every unit on the host. */
const DAEMON_RELOAD_TIMEOUT_MS = 90_000;

/** Returns the name of PID 1 (`systemd`, `init`, …), or null when /proc/1/comm cannot be read. */
export async function initProcessName(): Promise<string | null> {
  try {
    return (await readFile('/proc/1/comm', 'utf8')).trim();
  } catch {
    return null;
  }
}

/**
 * Runs `systemctl daemon-reload` when the files went where the running systemd reads them (root
 * "/") and PID 1 is systemd. Returns a sentence for the operator saying what happened.
 */
export async function reloadSystemd(root: string): Promise<string> {
  if (resolve(root) !== '/') {
    return `systemctl daemon-reload skipped, because the files are under ${root}, where no running systemd reads them`;
  }

  const init = await initProcessName();
  if (init !== 'systemd') {
    return `systemctl daemon-reload skipped, because systemd is not running (PID 1 is ${init ?? 'unknown: /proc/1/comm cannot be read'})`;
  }

  await runHelper(['systemctl', 'daemon-reload'], { timeoutMs: DAEMON_RELOAD_TIMEOUT_MS });
  return 'ran systemctl daemon-reload';
}
