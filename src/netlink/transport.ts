/**
 * A datagram channel to one kernel rtnetlink endpoint.
 *
 * Each `send` carries one netlink datagram (one or more messages), and each
 * `message` event delivers one datagram exactly as the kernel sent it. The
 * channel is either a socket in this process's namespace or a relay process
 * that owns a socket in another namespace.
 */
export interface NetlinkTransport {
  /** Sends one datagram to the kernel. */
  send(datagram: Buffer): void;

  /** Registers the receiver of every datagram from the kernel, in order. */
  onDatagram(listener: (datagram: Buffer) => void): void;

  /** Registers the receiver of a fatal transport failure (socket error, relay exit). */
  onFailure(listener: (error: Error) => void): void;

  /** Joins a multicast group (RTNLGRP_* number). */
  addMembership(group: number): Promise<void>;

  /** Closes the channel. Pending requests fail with a transport error. */
  close(): Promise<void>;

  /** Describes where the socket lives, for logs and error messages ("root namespace", "wireguard-ns"). */
  readonly where: string;
}
