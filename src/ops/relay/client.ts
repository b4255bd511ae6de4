/**
 * The parent side of a relay: starts the relay process in a network namespace and offers
 * its netlink socket as a NetlinkTransport, plus sysctl access inside that namespace. The
 * relay is the Perl one where perl is installed and the Node one otherwise (see
 * implementation.ts); the parent treats both alike.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { NetlinkTransport } from '../../netlink/transport.js';
import { namespacePath } from '../netns.js';
import { DEFAULT_HELPER_TIMEOUT_MS, HelperError, validateTimeout, type HelperOutcome } from '../spawn.js';
import { SysctlError, sysctlPath } from '../sysctl.js';
import { chooseRelay, RELAY_VARIABLE, relayCommand, type RelayImplementation } from './implementation.js';
import { encodeMessage, FrameDecoder, RelayProtocolError, type RelayMessage } from './protocol.js';
import { findProgram } from '../programs.js';

/** The compiled relay program, next to this file in dist/. */
const RELAY_MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

/** Time close() waits for the relay to exit after closing its stdin, before SIGKILL. */
const CLOSE_GRACE_MS = 2_000;

/** Most stderr kept from a relay, in UTF-16 code units; older output is dropped first. */
const STDERR_LIMIT = 64 * 1024;

/** An operation the relay reported as failed, or an error its socket reported. */
export class RelayError extends Error {
  override name = 'RelayError';
  /** errno of the failure, or 0 when it had none. */
  readonly errno: number;
  /** errno name ("ENOBUFS"), or undefined when errno is 0 or unknown. */
  readonly code: string | undefined;
  /** The namespace of the relay, as in RelayTransport.where. */
  readonly where: string;

  constructor(message: string, errno: number, where: string) {
    super(message);
    this.errno = errno;
    this.code = errnoName(errno);
    this.where = where;
  }
}

export interface StartRelayOptions {
  /** Time to wait for the relay to open its socket, in milliseconds (default 10000). */
  timeoutMs?: number;
  /**
   * The relay program: "perl" or "node". Default: the value of ALGO_NETNS_RELAY if set,
   * else perl when it is in the system folders, else node.
   */
  implementation?: RelayImplementation;
}

/**
 * Starts a relay process with a NETLINK_ROUTE socket in the named namespace
 * (`nsenter --net=/run/netns/NAME`), or in this process's namespace when `namespace` is
 * null. Resolves once the relay has opened its socket. Rejects with a HelperError, which
 * carries the relay's stderr, when the relay exits first or does not report in time, and
 * with an Error for an invalid ALGO_NETNS_RELAY.
 */
export async function startRelay(namespace: string | null, options: StartRelayOptions = {}): Promise<RelayTransport> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  validateTimeout(timeoutMs);
  const namespaceFile = namespace === null ? null : namespacePath(namespace);

  const perlPath = await findProgram('perl');
  const implementation = chooseRelay(options.implementation ?? process.env[RELAY_VARIABLE], perlPath);
  const nsenterPath = (await findProgram('nsenter')) ?? 'nsenter';
  const { argv, displayArgv } = relayCommand({ implementation, perlPath, nodePath: process.execPath, nodeMain: RELAY_MAIN, nsenterPath, namespaceFile });
  const [file, ...args] = argv as [string, ...string[]];

  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const transport = new RelayTransport(child, displayArgv, namespace ?? 'current namespace');
  try {
    await transport.waitUntilReady(timeoutMs);
  } catch (error) {
    // A perl that is present but broken would otherwise leave the operator no way forward.
    if (implementation === 'perl' && error instanceof HelperError) {
      error.message += `; if perl itself fails on this host, set ${RELAY_VARIABLE}=node to use the Node relay`;
    }
    throw error;
  }
  return transport;
}

type RelayState = 'starting' | 'ready' | 'closing' | 'exited';

interface PendingRequest {
  resolve(value: string): void;
  reject(error: Error): void;
  /** Description of the request for its error message ("read sysctl net.ipv4.ip_forward"). */
  what: string;
}

/** A netlink socket owned by a relay process in some namespace. Made by startRelay. */
export class RelayTransport implements NetlinkTransport {
  /** pid of the relay process itself (nsenter execs perl or node, so it is the spawned pid). */
  readonly pid: number;
  readonly where: string;

  private readonly child: ChildProcessWithoutNullStreams;
  /** The command as error messages show it. */
  private readonly command: string[];
  private readonly decoder = new FrameDecoder();
  private readonly datagramListeners: Array<(datagram: Buffer) => void> = [];
  private readonly failureListeners: Array<(error: Error) => void> = [];
  private readonly pending = new Map<number, PendingRequest>();
  private readonly exited: Promise<void>;
  private state: RelayState = 'starting';
  private nextRequestId = 1;
  private stderr = '';
  private startError: Error | undefined;
  /** Why this side killed the relay, when it did: a timeout or a protocol violation. */
  private failure: string | undefined;
  private onReady: ((error?: Error) => void) | undefined;

  /** @internal Use startRelay. */
  constructor(child: ChildProcessWithoutNullStreams, command: string[], where: string) {
    this.child = child;
    this.command = command;
    this.where = where;
    this.pid = child.pid ?? 0;

    child.stdout.on('data', (chunk: Buffer) => this.receive(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-STDERR_LIMIT);
    });
    // EPIPE after the relay died: the 'close' event reports the death itself.
    child.stdin.on('error', () => {});
    child.on('error', (error) => {
      this.startError ??= error;
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (exitCode, signal) => {
        this.handleExit(exitCode, signal);
        resolve();
      });
    });
  }

  /** @internal Resolves when the relay reports its socket open; see startRelay. */
  waitUntilReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`timed out after ${timeoutMs} ms without reporting ready`);
      }, timeoutMs);
      this.onReady = (error) => {
        clearTimeout(timer);
        this.onReady = undefined;
        if (error === undefined) {
          resolve();
        } else {
          reject(error);
        }
      };
    });
  }

  send(datagram: Buffer): void {
    if (this.state !== 'ready') {
      throw new RelayError(`Cannot send to the relay in ${this.where}: ${describeState(this.state)}`, 0, this.where);
    }
    this.child.stdin.write(encodeMessage({ type: 'toKernel', datagram }));
  }

  onDatagram(listener: (datagram: Buffer) => void): void {
    this.datagramListeners.push(listener);
  }

  /**
   * Registers a listener for relay failures. It receives a HelperError when the relay
   * exits unexpectedly or its output is corrupt, and a RelayError with the errno when the
   * socket reports an error, such as ENOBUFS after a multicast overrun; the socket stays
   * usable then. NOTE: the Node relay cannot report an overrun, because netlink 0.3.0 throws
   * from its native poll callback and aborts the process, so an overrun there arrives as a
   * HelperError for a relay killed by SIGABRT.
   */
  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  async addMembership(group: number): Promise<void> {
    await this.request(`join multicast group ${group}`, (id) => ({ type: 'joinGroup', id, group }));
  }

  /** Reads a sysctl inside the relay's namespace and returns it trimmed, like `ip netns exec NS sysctl -n KEY`. */
  async readSysctl(key: string): Promise<string> {
    const path = sysctlPath(key);
    return this.sysctlRequest(key, `read sysctl ${key}`, (id) => ({ type: 'readSysctl', id, path }));
  }

  /** Writes a sysctl inside the relay's namespace, like `ip netns exec NS sysctl -w KEY=VALUE`. */
  async writeSysctl(key: string, value: string): Promise<void> {
    const path = sysctlPath(key);
    await this.sysctlRequest(key, `write sysctl ${key}=${value}`, (id) => ({ type: 'writeSysctl', id, path, value }));
  }

  /**
   * Closes the relay's stdin, which makes it close its socket and exit, and waits for the
   * exit. A relay still running after a grace period is killed by its pid. Pending
   * requests fail.
   */
  async close(): Promise<void> {
    if (this.state === 'starting' || this.state === 'ready') {
      this.state = 'closing';
      this.child.stdin.end();
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), CLOSE_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  private async sysctlRequest(key: string, what: string, build: (id: number) => RelayMessage): Promise<string> {
    try {
      return await this.request(what, build);
    } catch (error) {
      // The same error type as a local sysctl, so callers handle both alike.
      throw new SysctlError(key, (error as Error).message, error);
    }
  }

  private request(what: string, build: (id: number) => RelayMessage): Promise<string> {
    if (this.state !== 'ready') {
      return Promise.reject(new RelayError(`Failed to ${what} in ${this.where}: ${describeState(this.state)}`, 0, this.where));
    }
    const id = this.nextRequestId;
    this.nextRequestId = (this.nextRequestId % 0xffff_ffff) + 1;

    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, what });
      this.child.stdin.write(encodeMessage(build(id)));
    });
  }

  private receive(chunk: Buffer): void {
    let messages: RelayMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch (error) {
      if (!(error instanceof RelayProtocolError)) {
        throw error;
      }
      this.fail(`wrote a corrupt frame (${error.message})`);
      return;
    }
    for (const message of messages) {
      this.dispatch(message);
    }
  }

  private dispatch(message: RelayMessage): void {
    if (this.failure !== undefined) {
      // The relay is being killed, so a late frame, even "ready", must not revive it.
      return;
    }
    switch (message.type) {
      case 'fromKernel':
        for (const listener of this.datagramListeners) {
          listener(message.datagram);
        }
        return;
      case 'replyOk':
      case 'replyError': {
        const request = this.pending.get(message.id);
        if (request === undefined) {
          this.fail(`replied to unknown request ${message.id}`);
          return;
        }
        this.pending.delete(message.id);
        if (message.type === 'replyOk') {
          request.resolve(message.value);
        } else {
          const reason = withErrnoName(message.errno, message.message);
          request.reject(new RelayError(`Failed to ${request.what} in ${this.where}: ${reason}`, message.errno, this.where));
        }
        return;
      }
      case 'socketError': {
        const reason = withErrnoName(message.errno, message.message);
        const error = new RelayError(`Netlink socket in ${this.where}: ${reason}`, message.errno, this.where);
        this.failureListeners.forEach((listener) => listener(error));
        return;
      }
      case 'ready':
        if (this.state !== 'starting' || message.pid !== this.pid) {
          this.fail(`reported ready as pid ${message.pid} while ${this.state}, expected pid ${this.pid} while starting`);
          return;
        }
        this.state = 'ready';
        this.onReady?.();
        return;
      default:
        this.fail(`sent an unexpected ${message.type} frame`);
    }
  }

  /** Kills a relay that broke the protocol or timed out. The exit handler then reports `what` as the cause. */
  private fail(what: string): void {
    if (this.state === 'exited') {
      return;
    }
    this.failure ??= what;
    this.child.kill('SIGKILL');
  }

  private handleExit(exitCode: number | null, signal: NodeJS.Signals | null): void {
    const previous = this.state;
    this.state = 'exited';

    let error: HelperError;
    if (this.failure !== undefined) {
      error = new HelperError(this.command, this.failure, this.outcome(exitCode, signal));
    } else if (this.startError !== undefined && this.pid === 0) {
      const code = (this.startError as NodeJS.ErrnoException).code ?? this.startError.message;
      error = new HelperError(this.command, `could not be started (${code})`, { ...this.outcome(null, signal), cause: this.startError });
    } else if (signal !== null) {
      error = new HelperError(this.command, `was killed by signal ${signal}`, this.outcome(exitCode, signal));
    } else {
      error = new HelperError(this.command, `exited with code ${exitCode}`, this.outcome(exitCode, signal));
    }

    const closedError = previous === 'closing' ? new RelayError(`The relay in ${this.where} was closed`, 0, this.where) : error;
    for (const request of this.pending.values()) {
      request.reject(closedError);
    }
    this.pending.clear();

    if (previous === 'starting') {
      this.onReady?.(error);
    } else if (previous === 'ready') {
      this.failureListeners.forEach((listener) => listener(error));
    }
  }

  private outcome(exitCode: number | null, signal: string | null): HelperOutcome {
    return { exitCode, signal, stderr: this.stderr };
  }
}

function describeState(state: RelayState): string {
  switch (state) {
    case 'starting':
      return 'the relay has not reported ready yet';
    case 'ready':
      return 'the relay is running';
    case 'closing':
      return 'the relay is closing';
    case 'exited':
      return 'the relay has exited';
  }
}

/**
 * Puts the errno name before a relay's error text ("ENOENT: No such file or directory, open …").
 * Node's messages start with it already, and the Perl relay sends the strerror text.
 */
export function withErrnoName(errno: number, message: string): string {
  const name = errnoName(errno);
  return name === undefined || message.startsWith(name) ? message : `${name}: ${message}`;
}

function errnoName(errno: number): string | undefined {
  if (errno === 0) {
    return undefined;
  }
  return Object.entries(constants.errno).find(([, value]) => value === errno)?.[0];
}
