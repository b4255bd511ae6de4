/**
 * A throwaway network and mount namespace for one integration test.
 *
 * `Sandbox.create()` starts a holder process with `unshare --mount --net`. The holder mounts
 * private tmpfs folders on /run (which hides /run/netns, /run/wireguard and /run/algo-netns of
 * whatever namespace the test runs in) and on /etc/netns and /var/lib/algo-netns where those
 * exist, brings `lo` up, and then waits until its stdin closes. Commands run inside it with
 * `nsenter -t PID --net --mount`, so a test can run the CLI as if on a fresh host. Namespaces made
 * inside with `ip netns add` are bound under the sandbox's own /run/netns and disappear with it.
 *
 * Every test that creates a sandbox registers `t.teardown(() => sandbox.destroy())`.
 */

import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants, readFileSync, readlinkSync } from 'node:fs';
import { access, open, readdir, readFile, readlink, type FileHandle } from 'node:fs/promises';

import {
  CommandError,
  formatArgv,
  runCommand,
  sleep,
  waitAtMost,
  type ExitStatus,
  type RunOptions,
  type RunResult,
} from './command.js';

export { CommandError, type ExitStatus, type RunOptions, type RunResult } from './command.js';

/** Milliseconds the holder may take to set the sandbox up. */
const HOLDER_READY_TIMEOUT_MS = 10_000;

/** Milliseconds a process gets between SIGTERM and SIGKILL when the sandbox is destroyed. */
const STOP_GRACE_MS = 3_000;

/** Characters of each output stream that a daemon keeps. Older output is dropped. */
const DAEMON_OUTPUT_LIMIT = 1 << 20;

/**
 * The holder's setup, run by `sh -c` inside the new namespaces. It prints `ready` when done and
 * then becomes `cat`, which exits when the test process closes its stdin, or dies. `mount -n`
 * keeps libmount from writing /run/mount/utab into the /run that the tmpfs is about to cover.
 */
const HOLDER_SCRIPT = `
set -e
mount -n -t tmpfs -o mode=0755 algo-netns-sandbox /run
if [ -d /etc/netns ]; then mount -n -t tmpfs -o mode=0755 algo-netns-sandbox /etc/netns; fi
if [ -d /var/lib/algo-netns ]; then mount -n -t tmpfs -o mode=0755 algo-netns-sandbox /var/lib/algo-netns; fi
ip link set lo up
echo ready
exec cat >/dev/null
`;

export interface DaemonOptions {
  /** Variables added to this process's environment for the daemon. */
  env?: NodeJS.ProcessEnv;
  /** Working directory inside the sandbox; defaults to this process's working directory. */
  cwd?: string;
}

/** A long-running process inside a sandbox, tracked by pid until it exits. */
export class Daemon {
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | null = null;
  private stdoutTail = '';
  private stderrTail = '';

  constructor(
    readonly pid: number,
    readonly argv: readonly string[],
    child: ChildProcessWithoutNullStreams,
  ) {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdoutTail = keepTail(this.stdoutTail + chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = keepTail(this.stderrTail + chunk);
    });
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      });
    });
  }

  get running(): boolean {
    return this.exitStatus === null;
  }

  /** The end of what the daemon wrote to stdout, up to DAEMON_OUTPUT_LIMIT characters. */
  get stdout(): string {
    return this.stdoutTail;
  }

  /** The end of what the daemon wrote to stderr, up to DAEMON_OUTPUT_LIMIT characters. */
  get stderr(): string {
    return this.stderrTail;
  }

  /** Sends SIGTERM, then SIGKILL if the daemon is still running after `graceMs`. */
  async stop(graceMs: number = STOP_GRACE_MS): Promise<ExitStatus> {
    if (this.exitStatus !== null) {
      return this.exitStatus;
    }

    signalPid(this.pid, 'SIGTERM');
    if (!(await waitAtMost(this.exited, graceMs))) {
      signalPid(this.pid, 'SIGKILL');
    }
    return this.exited;
  }
}

function keepTail(text: string): string {
  return text.length > DAEMON_OUTPUT_LIMIT ? text.slice(-DAEMON_OUTPUT_LIMIT) : text;
}

/** Sends a signal to one pid. A process that already exited is not an error. */
function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') {
      throw error;
    }
  }
}

/** Returns whether a process with this pid exists (a zombie counts). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Reads the namespace identity the kernel shows for a process, such as `net:[4026532285]`.
 * Returns null when the process is gone or its namespaces are not readable by this process.
 */
export async function readNamespaceId(pid: number | 'self', kind: 'net' | 'mnt'): Promise<string | null> {
  try {
    return await readlink(`/proc/${pid}/ns/${kind}`);
  } catch {
    return null;
  }
}

/**
 * Returns the machine's own network namespace id: that of PID 1, or of kthreadd (PID 2, whose
 * kernel threads always stay in the initial namespace) where PID 1's is not readable, as on
 * machines whose init is not dumpable. Returns null when neither is readable.
 */
export function machineNetworkNamespace(): string | null {
  for (const pid of [1, 2]) {
    try {
      if (pid === 2 && readFileSync('/proc/2/comm', 'utf8').trim() !== 'kthreadd') {
        continue;
      }
      return readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      // Not readable by this process; try the next one.
    }
  }
  return null;
}

/** A process found in a sandbox's namespaces after its holder and daemons were stopped. */
interface StrayProcess {
  pid: number;
  commandLine: string;
}

export class Sandbox {
  private readonly daemons = new Set<Daemon>();
  private destroying: Promise<void> | null = null;

  private constructor(
    /** Pid of the holder, the process whose namespaces the sandbox is. */
    readonly pid: number,
    private readonly holder: ChildProcessWithoutNullStreams,
    private readonly holderExited: Promise<ExitStatus>,
  ) {}

  /** Starts a holder process in new network and mount namespaces and waits until it is set up. */
  static async create(): Promise<Sandbox> {
    const holder = spawn('unshare', ['--mount', '--net', '--propagation', 'private', '--', 'sh', '-c', HOLDER_SCRIPT], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const holderExited = new Promise<ExitStatus>((resolve) => {
      holder.on('exit', (code, signal) => resolve({ code, signal }));
    });

    let stderr = '';
    holder.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

    const ready = new Promise<void>((resolve, reject) => {
      let stdout = '';
      holder.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('ready\n')) {
          resolve();
        }
      });
      holder.on('error', reject);
      void holderExited.then((status) => {
        const reason = stderr.trim() === '' ? `exit code ${status.code}, signal ${status.signal}` : stderr.trim();
        reject(new Error(`Sandbox holder (unshare --mount --net) exited during setup: ${reason}`));
      });
    });

    if (!(await waitAtMost(ready, HOLDER_READY_TIMEOUT_MS))) {
      holder.kill('SIGKILL');
      throw new Error(`Sandbox holder did not finish its setup within ${HOLDER_READY_TIMEOUT_MS} ms: ${stderr.trim()}`);
    }
    await ready;
    // A holder that printed `ready` was started, so it has a pid.
    return new Sandbox(holder.pid ?? 0, holder, holderExited);
  }

  /** Returns the nsenter prefix that runs a program in this sandbox, with `cwd` as working directory. */
  private enter(cwd: string | undefined): string[] {
    this.assertAlive();
    return ['nsenter', '-t', String(this.pid), '--net', '--mount', `--wdns=${cwd ?? process.cwd()}`, '--'];
  }

  private assertAlive(): void {
    if (this.destroying !== null) {
      throw new Error(`Sandbox ${this.pid} was already destroyed. Create a new sandbox to run more commands`);
    }
  }

  /** Runs argv inside the sandbox, without a shell, and resolves with its exit status and output. */
  run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    const { cwd, ...rest } = options;
    return runCommand([...this.enter(cwd), ...argv], rest, `${formatArgv(argv)} (in sandbox ${this.pid})`);
  }

  /** Runs a shell script inside the sandbox with `sh -c`. */
  runShell(script: string, options: RunOptions = {}): Promise<RunResult> {
    return this.run(['sh', '-c', script], options);
  }

  /** Runs `ip -j ARGS` inside the sandbox and parses its JSON output. */
  async ipJson<T = unknown>(args: readonly string[], options: RunOptions = {}): Promise<T> {
    const { stdout } = await this.run(['ip', '-j', ...args], options);
    // `ip -j` prints nothing at all for some empty results.
    return JSON.parse(stdout.trim() === '' ? '[]' : stdout) as T;
  }

  /**
   * Starts a long-running program inside the sandbox and tracks its pid; `destroy()` stops it.
   *
   * The program runs under `setpriv --pdeathsig TERM`, so it also ends if the test worker dies
   * before its teardown runs. It must stay in the foreground, because a program that forks into
   * the background leaves the tracked pid behind.
   */
  spawnDaemon(argv: readonly string[], options: DaemonOptions = {}): Daemon {
    const command = [...this.enter(options.cwd), 'setpriv', '--pdeathsig', 'TERM', '--', ...argv];
    const [file, ...args] = command;
    const child = spawn(file ?? 'nsenter', args, {
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) {
      // The spawn failure also arrives as an 'error' event, which would crash the worker unhandled.
      child.on('error', () => {});
      throw new Error(`Could not start ${formatArgv(argv)} in sandbox ${this.pid}: nsenter was not found or could not run`);
    }

    const daemon = new Daemon(child.pid, argv, child);
    this.daemons.add(daemon);
    return daemon;
  }

  /**
   * Stops the tracked daemons, ends the holder, and checks that every pid is gone.
   *
   * Any process still found in the sandbox's namespaces afterwards is killed by pid: one that a
   * command forked into the background, say, or one started with `ip netns exec`. destroy then
   * rejects with their list, because a test that leaks processes has a bug. Calling destroy
   * again returns the same promise.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.tearDown();
    return this.destroying;
  }

  private async tearDown(): Promise<void> {
    // Open handles keep the namespaces, and so their inode numbers, alive until the stray check
    // below is done. Without them a namespace freed here could hand its number to another test's
    // new sandbox, and the check would kill that test's processes.
    const namespaces = await this.openNamespaces();
    try {
      await Promise.all([...this.daemons].map((daemon) => daemon.stop()));

      this.holder.stdin.end();
      if (!(await waitAtMost(this.holderExited, STOP_GRACE_MS))) {
        signalPid(this.pid, 'SIGKILL');
        await this.holderExited;
      }

      const stillThere = [this.pid, ...[...this.daemons].map((daemon) => daemon.pid)].filter(pidExists);
      if (stillThere.length > 0) {
        throw new Error(`Sandbox ${this.pid}: processes ${stillThere.join(', ')} still exist after destroy`);
      }

      await killStrays(this.pid, new Set(namespaces.keys()));
    } finally {
      await Promise.all([...namespaces.values()].map((handle) => handle.close()));
    }
  }

  /**
   * Opens the sandbox's namespaces: the holder's network and mount namespaces and every network
   * namespace bound under the sandbox's /run/netns. Returns the handles by namespace id.
   */
  private async openNamespaces(): Promise<Map<string, FileHandle>> {
    const paths = [`/proc/${this.pid}/ns/net`, `/proc/${this.pid}/ns/mnt`];
    const netnsFolder = `/proc/${this.pid}/root/run/netns`;
    try {
      paths.push(...(await readdir(netnsFolder)).map((name) => `${netnsFolder}/${name}`));
    } catch {
      // No `ip netns add` ran in this sandbox.
    }

    const handles = new Map<string, FileHandle>();
    for (const path of paths) {
      let handle: FileHandle;
      try {
        handle = await open(path, 'r');
      } catch {
        continue; // Removed while we listed the folder.
      }

      // A namespace file reports the namespace's own inode, the number in `net:[N]`.
      const { ino } = await handle.stat();
      const id = `${path.endsWith('/ns/mnt') ? 'mnt' : 'net'}:[${ino}]`;
      if (handles.has(id)) {
        await handle.close();
      } else {
        handles.set(id, handle);
      }
    }
    return handles;
  }
}

/**
 * Kills, by pid, every process left in the namespaces `ids` after the holder exited, and rejects
 * with their list if there were any.
 */
async function killStrays(holderPid: number, ids: ReadonlySet<string>): Promise<void> {
  const strays = await findProcessesIn(ids);
  if (strays.length === 0) {
    return;
  }

  for (const stray of strays) {
    signalPid(stray.pid, 'SIGKILL');
  }
  await waitFor('stray processes to exit', async () => !strays.some((stray) => pidExists(stray.pid)), STOP_GRACE_MS);

  const list = strays.map((stray) => `${stray.pid} (${stray.commandLine})`).join(', ');
  throw new Error(`Sandbox ${holderPid} had untracked processes left after its holder exited; killed ${list}`);
}

/** Lists the processes whose network or mount namespace is one of `ids`. */
async function findProcessesIn(ids: ReadonlySet<string>): Promise<StrayProcess[]> {
  const strays: StrayProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }

    const pid = Number(entry);
    const net = await readNamespaceId(pid, 'net');
    const mnt = await readNamespaceId(pid, 'mnt');
    if ((net === null || !ids.has(net)) && (mnt === null || !ids.has(mnt))) {
      continue;
    }

    let commandLine = '?';
    try {
      commandLine = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
    } catch {
      // The process exited meanwhile.
    }
    strays.push({ pid, commandLine });
  }
  return strays;
}

const probeResults = new Map<string, Promise<string | null>>();

/**
 * Runs argv in a fresh sandbox to find out whether a feature works. Resolves with null when it
 * does, or with a reason to print when a test skips. Each probe runs once per test worker.
 */
export function probeFeature(feature: string, argv: readonly string[]): Promise<string | null> {
  const key = `${feature}\0${argv.join('\0')}`;
  let result = probeResults.get(key);
  if (result === undefined) {
    result = runProbe(feature, argv);
    probeResults.set(key, result);
  }
  return result;
}

async function runProbe(feature: string, argv: readonly string[]): Promise<string | null> {
  let sandbox: Sandbox;
  try {
    sandbox = await Sandbox.create();
  } catch (error) {
    return `${feature} is unavailable: cannot create a sandbox: ${(error as Error).message}`;
  }

  try {
    const result = await sandbox.run(argv, { allowFailure: true, timeoutMs: 10_000 });
    if (result.code === 0) {
      return null;
    }
    const detail = result.stderr.trim() === '' ? `exit code ${result.code}` : result.stderr.trim();
    return `${feature} is unavailable: \`${formatArgv(argv)}\` failed: ${detail}`;
  } catch (error) {
    return `${feature} is unavailable: ${(error as Error).message}`;
  } finally {
    await sandbox.destroy();
  }
}

/** Resolves with null when the kernel can create WireGuard links, else with the reason. */
export function probeKernelWireguard(): Promise<string | null> {
  return probeFeature('Kernel WireGuard', ['ip', 'link', 'add', 'probe-wg', 'type', 'wireguard']);
}

/** Resolves with null when TUN devices can be created (wireguard-go needs them), else with the reason. */
export function probeTun(): Promise<string | null> {
  return probeFeature('TUN devices', ['ip', 'tuntap', 'add', 'dev', 'probe-tun', 'mode', 'tun']);
}

/** Resolves with null when `program` is an executable file in a PATH folder, else with the reason. */
export async function probeProgram(program: string): Promise<string | null> {
  for (const folder of (process.env['PATH'] ?? '').split(':')) {
    if (folder === '') {
      continue;
    }
    try {
      await access(`${folder}/${program}`, constants.X_OK);
      return null;
    } catch {
      // Not in this folder.
    }
  }
  return `${program} is not installed (not found on PATH)`;
}

/** Resolves after `predicate` returns true, or rejects with `description` after `timeoutMs`. */
export async function waitFor(
  description: string,
  predicate: () => Promise<boolean>,
  timeoutMs = 5_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() >= deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${description}`);
    }
    await sleep(intervalMs);
  }
}

/** Returns whether this process runs inside the integration runner's sandbox (see runner.ts). */
export function insideRunnerSandbox(): boolean {
  return process.env['ALGO_NETNS_SANDBOX'] === '1';
}


/** Creates a sandbox that is destroyed when the test ends. */
export async function sandboxFor(t: { teardown(fn: () => Promise<void>): void }): Promise<Sandbox> {
  const sandbox = await Sandbox.create();
  t.teardown(() => sandbox.destroy());
  return sandbox;
}

/**
 * Logs why the test cannot run here and passes it when `reason` is not null (a probe's answer
 * for a missing program or kernel feature). Returns whether the test should stop.
 */
export function skipsFor(t: { log(...values: unknown[]): void; pass(): void }, reason: string | null): boolean {
  if (reason === null) return false;
  t.log(`skipped: ${reason}`);
  t.pass();
  return true;
}
