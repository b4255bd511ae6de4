/**
 * A handle on a namespace that does not exist yet, for dry runs. Netlink reads find nothing,
 * so the ensure* operations report every link, address and route as a change to make.
 * Sysctls read what a brand-new namespace holds, from a throwaway one that lives only for
 * the read. It changes nothing and rejects any change.
 */
import { NLMSG_HDRLEN } from '../netlink/align.js';
import { NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_MULTI } from '../netlink/constants.js';
import { encodeMessage } from '../netlink/message.js';
import { RtnlSession } from '../netlink/session.js';
import type { NetlinkTransport } from '../netlink/transport.js';
import type { NetnsHandle } from './handle.js';
import { runHelper } from './spawn.js';
import { sysctlPath } from './sysctl.js';

const ENODEV = 19;
const EROFS = 30;
const ENOENT = 2;

// New namespaces take some values from the initial namespace and others from kernel
// defaults, so the value is read from a real new namespace instead of being guessed.
async function readFreshNamespaceSysctl(name: string, key: string): Promise<string> {
  try {
    const { stdout } = await runHelper(['unshare', '--net', '--', 'cat', sysctlPath(key)]);
    return stdout.trim();
  } catch (error) {
    const missing = new Error(`sysctl ${key} does not exist in a new namespace such as ${name} would be`, { cause: error });
    throw Object.assign(missing, { code: 'ENOENT', errno: ENOENT });
  }
}

/** Returns a handle on `name` as it will be right after creation, as far as reads can tell: empty. */
export function absentNamespace(name: string): NetnsHandle {
  const session = new RtnlSession(new EmptyKernel(name), { log: null });
  return {
    name,
    label: name,
    session,
    pid: 0,
    readSysctl: (key) => readFreshNamespaceSysctl(name, key),
    writeSysctl: async (key) => {
      throw new Error(`sysctl ${key} cannot be written: namespace ${name} does not exist yet (dry run)`);
    },
    close: () => session.close(),
  };
}

// Replies to dumps with an empty result and to everything else with an error: ENODEV for
// reads (as the kernel does for a get of a missing link), EROFS for changes.
class EmptyKernel implements NetlinkTransport {
  private listener: (datagram: Buffer) => void = () => undefined;

  constructor(readonly where: string) {}

  send(datagram: Buffer): void {
    const type = datagram.readUInt16LE(4);
    const flags = datagram.readUInt16LE(6);
    const seq = datagram.readUInt32LE(8);
    const isRead = type % 4 === 2; // RTM_GET* types are 18, 22, 26, 34: the third of each group of four.

    let reply: Buffer;
    if ((flags & NLM_F_DUMP) === NLM_F_DUMP) {
      reply = encodeMessage(NLMSG_DONE, NLM_F_MULTI, seq, Buffer.alloc(4));
    } else {
      const errno = isRead ? ENODEV : EROFS;
      const payload = Buffer.alloc(4 + NLMSG_HDRLEN);
      payload.writeInt32LE(-errno, 0);
      datagram.copy(payload, 4, 0, NLMSG_HDRLEN);
      reply = encodeMessage(NLMSG_ERROR, 0, seq, payload);
    }
    queueMicrotask(() => this.listener(reply));
  }

  onDatagram(listener: (datagram: Buffer) => void): void {
    this.listener = listener;
  }

  onFailure(): void {}

  async addMembership(): Promise<void> {}

  async close(): Promise<void> {}
}
