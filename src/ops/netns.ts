/**
 * Named network namespaces, made and removed the way iproute2's `ip netns` does it, so
 * that `ip netns`, `ip netns exec` and systemd's `NetworkNamespacePath=/run/netns/NAME`
 * all see them.
 *
 * A named namespace is a bind mount of a namespace file (nsfs) on an empty file in
 * /run/netns. Node never enters or creates a namespace itself: util-linux `unshare`,
 * `mount`, `umount` and `flock` do those steps as child processes.
 */
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, stat, unlink, type FileHandle } from 'node:fs/promises';
import { runHelper } from './spawn.js';

/** Directory of the named network namespaces (iproute2's NETNS_RUN_DIR). */
export const NETNS_RUN_DIR = '/run/netns';

/** NAME_MAX of Linux file systems: the most bytes in one path component. */
const NAME_MAX = 255;

/** Lazy unmounts tried on one name before giving up. Only stacked mounts need more than one. */
const MAX_STACKED_MOUNTS = 16;

export type NamespaceErrorReason = 'invalid-name' | 'exists' | 'not-found';

/** A namespace operation that failed because of the name or the state of /run/netns. */
export class NamespaceError extends Error {
  override name = 'NamespaceError';
  /** The namespace name, as given. */
  readonly namespace: string;
  readonly reason: NamespaceErrorReason;

  constructor(namespace: string, reason: NamespaceErrorReason, message: string) {
    super(message);
    this.namespace = namespace;
    this.reason = reason;
  }
}

/** Throws a NamespaceError unless `name` is one safe path component usable under /run/netns. */
export function validateNamespaceName(name: string): void {
  const invalid = (expected: string): NamespaceError =>
    new NamespaceError(name, 'invalid-name', `Invalid network namespace name ${JSON.stringify(name)}: ${expected}`);

  if (typeof name !== 'string' || name === '') {
    throw invalid('expected a non-empty string');
  }
  if (name === '.' || name === '..') {
    throw invalid('expected a name other than "." and ".."');
  }
  if (name.includes('/') || name.includes('\0')) {
    throw invalid('expected no "/" and no NUL character');
  }
  if (Buffer.byteLength(name, 'utf8') > NAME_MAX) {
    throw invalid(`expected at most ${NAME_MAX} bytes`);
  }
}

/** Returns /run/netns/NAME after checking the name. */
export function namespacePath(name: string): string {
  validateNamespaceName(name);
  return `${NETNS_RUN_DIR}/${name}`;
}

/** Lists the names under /run/netns, sorted, like `ip netns list`. An absent directory means none. */
export async function listNamespaces(): Promise<string[]> {
  try {
    const names = await readdir(NETNS_RUN_DIR);
    return names.sort();
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      return [];
    }
    throw error;
  }
}

/**
 * Returns whether /run/netns/NAME is a namespace, that is, a file with a namespace
 * bind-mounted on it. A leftover plain file (from a crash between the steps of
 * createNamespace) is not one.
 */
export async function namespaceExists(name: string): Promise<boolean> {
  const path = namespacePath(name);
  try {
    return await isNamespaceMount(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      return false;
    }
    throw error;
  }
}

/**
 * Creates a new network namespace and names it, like `ip netns add NAME`.
 *
 * As iproute2 does, it makes /run/netns a shared mount point, so that a later unmount
 * propagates to copies of the mount in other mount namespaces and frees the namespace.
 * An exclusive flock on /run/netns, the same lock `ip netns add` takes, keeps concurrent
 * callers from stacking bind mounts of /run/netns onto itself. Throws a NamespaceError
 * when the name is taken.
 */
export async function createNamespace(name: string): Promise<void> {
  const path = namespacePath(name);
  await mkdir(NETNS_RUN_DIR, { recursive: true, mode: 0o755 });

  // The lock guards the step that makes /run/netns a shared mount point. A shared mount
  // point stays shared, so once it is one, creation skips the lock and its flock process.
  if (!(await runDirMountState()).isShared) {
    const lock = await open(NETNS_RUN_DIR, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      // flock(1) locks the open file description it inherits as fd 3. That description
      // stays open here after flock exits, so this process holds the lock until lock.close().
      await runHelper(['flock', '--exclusive', '3'], { passFds: [lock.fd] });
      await makeRunDirSharedMountPoint();
    } finally {
      await lock.close();
    }
  }

  // O_EXCL on the mount point file keeps two creators of one name apart.
  await createMountPointFile(name, path);
  try {
    // unshare(1) makes the namespace and bind-mounts it on the file from a child
    // process; the namespace then lives as long as the bind mount.
    await runHelper(['unshare', `--net=${path}`, 'true']);
  } catch (error) {
    await removeNamespaceFile(path);
    throw error;
  }
}

/**
 * Removes a named namespace, like `ip netns delete NAME`: detaches the bind mount
 * (`umount --lazy`) and removes the file. A missing name is not an error. Processes still
 * inside keep the namespace alive (see pidsInNamespace).
 */
export async function deleteNamespace(name: string): Promise<void> {
  await removeNamespaceFile(namespacePath(name));
}

/**
 * Opens /run/netns/NAME read-only. The descriptor can go into IFLA_NET_NS_FD or be passed
 * to a helper. Throws a NamespaceError when no namespace has that name.
 */
export async function openNamespace(name: string): Promise<FileHandle> {
  const path = namespacePath(name);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') {
      throw notFound(name);
    }
    throw error;
  }

  // fstat of the open descriptor, not stat of the path, so the check and the use agree.
  const [opened, nsfs] = await Promise.all([handle.stat(), stat('/proc/self/ns/net')]);
  if (opened.dev !== nsfs.dev) {
    await handle.close();
    throw notFound(name, `${path} exists but nothing is mounted on it`);
  }
  return handle;
}

/**
 * Lists the processes whose network namespace is NAME, sorted by PID, so that `down` can
 * report which processes keep a deleted namespace alive.
 */
export async function pidsInNamespace(name: string): Promise<number[]> {
  const path = namespacePath(name);
  const target = await stat(path, { bigint: true }).catch((error: unknown) => {
    throw errorCode(error) === 'ENOENT' ? notFound(name) : error;
  });
  const nsfs = await stat('/proc/self/ns/net', { bigint: true });
  if (target.dev !== nsfs.dev) {
    throw notFound(name, `${path} exists but nothing is mounted on it`);
  }

  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry)).map(Number);
  const members = await Promise.all(
    pids.map(async (pid) => {
      try {
        const namespace = await stat(`/proc/${pid}/ns/net`, { bigint: true });
        return namespace.dev === target.dev && namespace.ino === target.ino ? pid : undefined;
      } catch (error) {
        // NOTE: processes that exit meanwhile (ENOENT, ESRCH) and those this process may
        // not inspect (EACCES, e.g. under a Yama or container policy) are left out.
        // Threads that entered the namespace with setns() while their process stayed
        // elsewhere are not found either, because only /proc/PID is read, not its tasks.
        const code = errorCode(error);
        if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM') {
          return undefined;
        }
        throw error;
      }
    }),
  );
  return members.filter((pid): pid is number => pid !== undefined).sort((a, b) => a - b);
}

/** Returns whether a namespace (an nsfs inode) is mounted on `path`. Throws ENOENT if there is no such file. */
async function isNamespaceMount(path: string): Promise<boolean> {
  // Every namespace file lives on the one internal nsfs super block, so a bind-mounted
  // namespace shows the same st_dev as this process's own /proc/self/ns/net.
  const [file, nsfs] = await Promise.all([stat(path), stat('/proc/self/ns/net')]);
  return file.dev === nsfs.dev;
}

/** Creates the empty file that the namespace is bind-mounted on, failing if the name exists. */
async function createMountPointFile(name: string, path: string): Promise<void> {
  try {
    // Mode 0 and O_EXCL, as iproute2 uses: the file is never written, and two creators cannot share it.
    const file = await open(path, constants.O_RDONLY | constants.O_CREAT | constants.O_EXCL, 0o000);
    await file.close();
  } catch (error) {
    if (errorCode(error) !== 'EEXIST') {
      throw error;
    }
    const what = (await namespaceExists(name))
      ? 'it already exists'
      : `${path} exists but is not a namespace (a leftover file of an interrupted run; \`ip netns delete ${name}\` removes it)`;
    throw new NamespaceError(name, 'exists', `Cannot create network namespace ${name}: ${what}`);
  }
}

/** Detaches every namespace mounted on `path`, then removes the file. An absent file is not an error. */
async function removeNamespaceFile(path: string): Promise<void> {
  for (let attempt = 0; attempt < MAX_STACKED_MOUNTS; attempt++) {
    let mounted: boolean;
    try {
      mounted = await isNamespaceMount(path);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') {
        return;
      }
      throw error;
    }
    if (!mounted) {
      break;
    }
    await runHelper(['umount', '--lazy', path]);
  }

  try {
    await unlink(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') {
      throw error;
    }
  }
}

/**
 * Makes /run/netns a shared mount point, like `mount --make-rshared`, bind-mounting it on
 * itself first if it is not a mount point yet. Does nothing when it already is one.
 */
async function makeRunDirSharedMountPoint(): Promise<void> {
  const { isMountPoint, isShared } = await runDirMountState();
  if (isShared) {
    return;
  }
  if (!isMountPoint) {
    await runHelper(['mount', '--rbind', NETNS_RUN_DIR, NETNS_RUN_DIR]);
  }
  await runHelper(['mount', '--make-rshared', NETNS_RUN_DIR]);
}

/** Returns whether /run/netns is a mount point, and whether it is a shared one. */
async function runDirMountState(): Promise<{ isMountPoint: boolean; isShared: boolean }> {
  const directory = await realpath(NETNS_RUN_DIR);
  const mounts = parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));

  const visible = visibleMount(mounts, directory);
  const isMountPoint = visible?.mountPoint === directory;
  return { isMountPoint, isShared: isMountPoint && visible.optionalFields.some((field) => field.startsWith('shared:')) };
}

interface MountInfoEntry {
  id: number;
  parentId: number;
  mountPoint: string;
  /** Propagation tags such as "shared:12" or "master:3". */
  optionalFields: string[];
}

/** Parses the fields of /proc/PID/mountinfo that this module needs (see proc(5)). */
function parseMountInfo(text: string): MountInfoEntry[] {
  const entries: MountInfoEntry[] = [];
  for (const line of text.split('\n')) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the optional
    // fields run from the 7th field up to the lone "-".
    const fields = line.split(' ');
    const separator = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    if (mountPoint === undefined || separator === -1) {
      continue;
    }
    entries.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      mountPoint: unescapeMountPath(mountPoint),
      optionalFields: fields.slice(6, separator),
    });
  }
  return entries;
}

/**
 * Finds the mount that path resolution reaches for an absolute, symlink-free `path`.
 *
 * A path string in mountinfo can name a mount that is hidden: a later mount on a parent
 * directory (a fresh tmpfs on /run) covers a /run/netns mount still listed. So this walks
 * the mount tree from the root. Below each mount, the child whose mount point is the
 * shortest prefix of `path` covers all longer ones, because it was mounted over them.
 */
function visibleMount(mounts: MountInfoEntry[], path: string): MountInfoEntry | undefined {
  const ids = new Set(mounts.map((mount) => mount.id));
  let current = mounts.find((mount) => !ids.has(mount.parentId) || mount.parentId === mount.id);

  while (current !== undefined) {
    const parent: MountInfoEntry = current;
    const next = mounts
      .filter((mount) => mount.parentId === parent.id && mount.id !== parent.id && isPathPrefix(mount.mountPoint, path))
      .sort((a, b) => a.mountPoint.length - b.mountPoint.length)[0];
    if (next === undefined) {
      return current;
    }
    current = next;
  }
  return undefined;
}

function isPathPrefix(prefix: string, path: string): boolean {
  return path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
}

/** Decodes the octal escapes ("\040") that the kernel writes for space, tab, newline and backslash in mount paths. */
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

function notFound(name: string, detail = `${NETNS_RUN_DIR}/${name} does not exist`): NamespaceError {
  return new NamespaceError(name, 'not-found', `Network namespace ${name} not found: ${detail}`);
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}
