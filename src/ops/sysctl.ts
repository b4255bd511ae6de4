/**
 * Kernel parameters under /proc/sys, read and written with plain file operations.
 *
 * /proc/sys/net resolves to the network namespace of the process that opens it, so these
 * functions act on this process's namespace. For another namespace, the parent maps the key
 * with sysctlPath and a relay (see relay/client.ts) opens that file inside the namespace.
 */
import { constants } from 'node:fs';
import { open, readFile } from 'node:fs/promises';

const SYSCTL_ROOT = '/proc/sys';

/** A sysctl key that is not valid, or a read or write of /proc/sys that failed. */
export class SysctlError extends Error {
  override name = 'SysctlError';
  /** The key, as given. */
  readonly key: string;
  /** errno name of the failed file operation ("ENOENT", "EINVAL"), or undefined for a bad key. */
  readonly code: string | undefined;

  constructor(key: string, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.key = key;
    this.code = (cause as NodeJS.ErrnoException | undefined)?.code;
  }
}

/**
 * Maps a sysctl key to its file under /proc/sys, as sysctl(8) from procps does.
 *
 * The first separator in the key decides its form. In a dotted key
 * ('net.ipv4.conf.ve-wg.rp_filter') dots separate components and a '/' stands for a dot
 * inside a component ('net.ipv4.conf.eth0/100.rp_filter'). In a slashed key
 * ('net/ipv4/conf/eth0.100/rp_filter') slashes separate components and dots are literal.
 * Throws a SysctlError for empty, '.' or '..' components and NUL characters.
 */
export function sysctlPath(key: string): string {
  const invalid = (expected: string): SysctlError =>
    new SysctlError(key, `Invalid sysctl key ${JSON.stringify(key)}: ${expected}`);

  if (typeof key !== 'string' || key === '') {
    throw invalid('expected a non-empty string');
  }
  if (key.includes('\0')) {
    throw invalid('expected no NUL character');
  }

  const firstSeparator = /[./]/.exec(key)?.[0];
  const components =
    firstSeparator === '.'
      ? key.split('.').map((component) => component.replaceAll('/', '.'))
      : key.split('/');

  for (const component of components) {
    if (component === '' || component === '.' || component === '..') {
      throw invalid(`expected no empty, "." or ".." component, got ${JSON.stringify(component)}`);
    }
  }
  return `${SYSCTL_ROOT}/${components.join('/')}`;
}

/** Reads a sysctl in this process's namespace and returns it without surrounding whitespace, like `sysctl -n KEY`. */
export async function readSysctl(key: string): Promise<string> {
  const path = sysctlPath(key);
  try {
    return await readSysctlFile(path);
  } catch (error) {
    throw new SysctlError(key, `Failed to read sysctl ${key} (${path}): ${describe(error)}`, error);
  }
}

/** Writes a sysctl in this process's namespace, like `sysctl -w KEY=VALUE`. */
export async function writeSysctl(key: string, value: string): Promise<void> {
  const path = sysctlPath(key);
  try {
    await writeSysctlFile(path, value);
  } catch (error) {
    throw new SysctlError(key, `Failed to write sysctl ${key}=${value} (${path}): ${describe(error)}`, error);
  }
}

/**
 * Returns whether `path` names a file under /proc/sys without a ".." component. Relays,
 * which get paths from their parent rather than keys, open no other file.
 */
export function isSysctlFile(path: string): boolean {
  return path.startsWith(`${SYSCTL_ROOT}/`) && !path.includes('\0') && !path.split('/').includes('..');
}

/** Reads the file of a sysctl and returns its text trimmed. Errors of the file system pass unchanged. */
export async function readSysctlFile(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).trim();
}

/** Writes `value` and a newline to the file of a sysctl. Errors of the file system pass unchanged. */
export async function writeSysctlFile(path: string, value: string): Promise<void> {
  // O_WRONLY without O_CREAT: some keys are write-only (net.ipv4.route.flush is 0200),
  // and a missing key must fail with ENOENT, not attempt to create a file.
  const file = await open(path, constants.O_WRONLY);
  try {
    // procfs applies a sysctl write per write(2) call, so the value goes out in one call.
    const data = Buffer.from(`${value}\n`, 'utf8');
    const { bytesWritten } = await file.write(data, 0, data.length, null);
    if (bytesWritten !== data.length) {
      throw new Error(`wrote ${bytesWritten} of ${data.length} bytes`);
    }
  } finally {
    await file.close();
  }
}

function describe(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const message = error instanceof Error ? error.message : String(error);
  return code === undefined || message.startsWith(code) ? message : `${code}: ${message}`;
}
