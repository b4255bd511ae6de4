/**
 * A handle on one network namespace: an rtnetlink session whose socket lives there, and
 * sysctl access resolved there. The current namespace is reached directly; any other
 * through a relay process started inside it.
 */
import { RtnlSession, type SessionOptions } from '../netlink/session.js';
import { SocketTransport } from '../netlink/socket-transport.js';
import { namespaceExists, NamespaceError, NETNS_RUN_DIR } from './netns.js';
import { startRelay } from './relay/client.js';
import { readSysctl, writeSysctl } from './sysctl.js';

export interface NetnsHandle {
  /** Namespace name under /run/netns, or null for the namespace this process runs in. */
  readonly name: string | null;
  /** Name used in messages: "root namespace" or the namespace name. */
  readonly label: string;
  readonly session: RtnlSession;
  /** Pid of a process inside the namespace (this process, or the relay), for IFLA_NET_NS_PID. */
  readonly pid: number;
  readSysctl(key: string): Promise<string>;
  writeSysctl(key: string, value: string): Promise<void>;
  close(): Promise<void>;
}

/** Label used for the namespace this process runs in. */
export const ROOT_LABEL = 'root namespace';

/** Opens a handle on the namespace this process runs in (the host's, for `algo-netns up`). */
export function openCurrentNamespace(options: SessionOptions = {}): NetnsHandle {
  const session = new RtnlSession(new SocketTransport(ROOT_LABEL), options);
  return {
    name: null,
    label: ROOT_LABEL,
    session,
    pid: process.pid,
    readSysctl,
    writeSysctl,
    close: () => session.close(),
  };
}

/** Opens a handle on the named namespace, through a relay started inside it. */
export async function openNamedNamespace(name: string, options: SessionOptions = {}): Promise<NetnsHandle> {
  if (!(await namespaceExists(name))) throw new NamespaceError(name, 'not-found', `network namespace ${name} not found under ${NETNS_RUN_DIR}`);
  const relay = await startRelay(name);
  const session = new RtnlSession(relay, options);
  return {
    name,
    label: name,
    session,
    pid: relay.pid,
    readSysctl: (key) => relay.readSysctl(key),
    writeSysctl: (key, value) => relay.writeSysctl(key, value),
    close: () => session.close(),
  };
}

/** Returns " in NAME" or " in the root namespace", to end descriptions of changes. */
export function inNamespace(handle: NetnsHandle): string {
  return handle.name === null ? ` in the ${ROOT_LABEL}` : ` in ${handle.name}`;
}
