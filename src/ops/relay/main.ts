/**
 * The Node relay process: owns one NETLINK_ROUTE socket in the network namespace it was
 * started in (by `nsenter --net=…`) and passes datagrams between that socket and its parent,
 * framed on stdin and stdout (see protocol.ts). It also reads and writes sysctl files, which
 * resolve to the namespace of the process that opens /proc/sys. The parent runs it where
 * perl is missing or ALGO_NETNS_RELAY=node; perl-relay.ts is the default relay.
 *
 * It never decodes netlink messages. It exits when stdin ends, which happens when the
 * parent closes it or dies, so it cannot outlive the parent. Diagnostics go to stderr only,
 * because stdout carries frames.
 */
import { constants } from 'node:os';
// The deep import loads only the raw socket. The package index also loads its generated
// higher layers, which adds about 30 ms to every relay start (Node 20, measured here).
import { RawNetlinkSocket } from 'netlink/dist/raw.js';
import { isSysctlFile, readSysctlFile, writeSysctlFile } from '../sysctl.js';
import { encodeMessage, FrameDecoder, type RelayMessage } from './protocol.js';

/** Netlink protocol number of rtnetlink (<linux/netlink.h>: #define NETLINK_ROUTE 0). */
const NETLINK_ROUTE = 0;

/**
 * SO_RCVBUF requested for the socket, large enough for a full dump plus a burst of
 * multicast events. NOTE: the kernel caps it at net.core.rmem_max (the package sets
 * SO_RCVBUF, not SO_RCVBUFFORCE), so the real size can be smaller.
 */
const RECEIVE_BUFFER_SIZE = 8 * 1024 * 1024;
const SEND_BUFFER_SIZE = 1024 * 1024;

function main(): void {
  // ps shows the same name as for the Perl relay instead of node and the script's path.
  process.title = 'algo-netns-relay';
  let socket: RawNetlinkSocket;
  try {
    socket = new RawNetlinkSocket(NETLINK_ROUTE, {
      recvBufferSize: RECEIVE_BUFFER_SIZE,
      sendBufferSize: SEND_BUFFER_SIZE,
    });
  } catch (error) {
    fail(`cannot open a NETLINK_ROUTE socket: ${describe(error)}`);
  }

  const send = (message: RelayMessage): void => {
    process.stdout.write(encodeMessage(message));
  };
  const reportSocketError = (error: unknown): void => {
    send({ type: 'socketError', errno: errnoOf(error), message: describe(error) });
  };

  socket.on('message', (datagram) => send({ type: 'fromKernel', datagram }));
  socket.on('error', reportSocketError);
  socket.on('truncatedMessage', (_, info) => {
    // Unreachable while message peeking is on (the default), which sizes each read.
    send({ type: 'socketError', errno: constants.errno.EMSGSIZE, message: `datagram truncated from ${info.truncated} bytes` });
  });

  const handle = (message: RelayMessage): void => {
    switch (message.type) {
      case 'toKernel':
        socket.send(message.datagram, {}, (error) => {
          if (error !== undefined) {
            reportSocketError(error);
          }
        });
        return;
      case 'joinGroup':
        try {
          socket.addMembership(message.group);
          send({ type: 'replyOk', id: message.id, value: '' });
        } catch (error) {
          send({ type: 'replyError', id: message.id, errno: errnoOf(error), message: describe(error) });
        }
        return;
      case 'readSysctl':
      case 'writeSysctl': {
        if (!isSysctlFile(message.path)) {
          const reason = `expected a file under /proc/sys, got ${JSON.stringify(message.path)}`;
          send({ type: 'replyError', id: message.id, errno: constants.errno.EINVAL, message: reason });
          return;
        }
        const done =
          message.type === 'readSysctl'
            ? readSysctlFile(message.path)
            : writeSysctlFile(message.path, message.value).then(() => '');
        // The parent names the key and namespace itself, so only the cause goes back.
        done.then(
          (value) => send({ type: 'replyOk', id: message.id, value }),
          (error: unknown) => send({ type: 'replyError', id: message.id, errno: errnoOf(error), message: describe(error) }),
        );
        return;
      }
      default:
        fail(`unexpected ${message.type} frame from the parent`);
    }
  };

  const decoder = new FrameDecoder();
  process.stdin.on('data', (chunk: Buffer) => {
    let messages: RelayMessage[];
    try {
      messages = decoder.push(chunk);
    } catch (error) {
      fail(describe(error));
    }
    messages.forEach(handle);
  });

  // With stdin at its end and the socket closed, nothing keeps the event loop alive: the
  // process exits once pending writes to stdout are flushed.
  process.stdin.on('end', () => socket.close());
  // EPIPE on stdout means the parent is gone.
  process.stdout.on('error', () => process.exit(0));

  send({ type: 'ready', pid: process.pid, port: socket.address().port });
}

function fail(message: string): never {
  process.stderr.write(`algo-netns relay: ${message}\n`);
  process.exit(1);
}

/** Returns the positive errno of a Node or netlink error, or 0 when it has none. */
function errnoOf(error: unknown): number {
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  const byName = typeof code === 'string' ? (constants.errno as Record<string, number>)[code] : undefined;
  if (byName !== undefined) {
    return byName;
  }
  // Node's own errors carry libuv's negative errno, the netlink package's a positive one.
  return typeof errno === 'number' ? Math.abs(errno) : 0;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

main();
