/**
 * A transport over a NETLINK_ROUTE socket of this process, from the npm `netlink` package.
 * Only its RawNetlinkSocket is used: every byte above the datagram is this library's.
 */
// The deep import loads only the raw socket. The package index also loads its generated
// higher layers, which this library never uses and which slowed every command's start.
import { RawNetlinkSocket } from 'netlink/dist/raw.js';
import { NETLINK_ROUTE } from './constants.js';
import { TransportError } from './errors.js';
import type { NetlinkTransport } from './transport.js';

// Large enough that a burst of notifications or a fast dump does not overflow the socket
// before Node reads it. The kernel caps it at net.core.rmem_max for unprivileged callers.
const RECEIVE_BUFFER_BYTES = 8 * 1024 * 1024;
const SEND_BUFFER_BYTES = 1024 * 1024;

export interface SocketTransportOptions {
  /** SO_RCVBUF to request, in bytes (default 8 MiB); the kernel caps it at net.core.rmem_max. */
  receiveBufferBytes?: number;
}

export class SocketTransport implements NetlinkTransport {
  readonly where: string;
  private readonly socket: RawNetlinkSocket;
  private readonly failureListeners: ((error: Error) => void)[] = [];
  private closed = false;

  /** Opens a socket in this process's network namespace; `where` names it in messages. */
  constructor(where = 'the current network namespace', options: SocketTransportOptions = {}) {
    this.where = where;
    // Message peeking (the package's default) sizes each read to the datagram, so no reply
    // is ever truncated whatever its size.
    this.socket = new RawNetlinkSocket(NETLINK_ROUTE, {
      recvBufferSize: options.receiveBufferBytes ?? RECEIVE_BUFFER_BYTES,
      sendBufferSize: SEND_BUFFER_BYTES,
    });
    // NOTE: an overrun (ENOBUFS) never arrives here. libuv reports the socket error as a poll
    // error, and the netlink package (0.3.0) then throws from native code, which aborts the
    // process. A socket that joins multicast groups belongs in a relay process instead.
    this.socket.on('error', (error) => this.emitFailure(new TransportError(`netlink socket in ${this.where} failed: ${error.message}`, { cause: error })));
    this.socket.on('truncatedMessage', (_message, info) =>
      this.emitFailure(new TransportError(`netlink reply in ${this.where} was truncated (${info.truncated ?? '?'} bytes)`)),
    );
  }

  send(datagram: Buffer): void {
    if (this.closed) throw new TransportError(`netlink socket in ${this.where} is closed`);
    this.socket.send(datagram, {}, (error) => {
      if (error) this.emitFailure(new TransportError(`sending to the kernel in ${this.where} failed: ${error.message}`, { cause: error }));
    });
  }

  onDatagram(listener: (datagram: Buffer) => void): void {
    this.socket.on('message', (message) => listener(message));
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  async addMembership(group: number): Promise<void> {
    this.socket.addMembership(group);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
  }

  private emitFailure(error: Error): void {
    for (const listener of this.failureListeners) listener(error);
  }
}
