/**
 * The processes of the events benchmark, tracked by pid so that none outlives the suite. A
 * feed may start processes of its own (`watch` and the library worker each start a relay,
 * and a new one after a relay fails), so stopping a feed also stops the descendants seen
 * while it ran. Every signal goes to one pid, never to a name, and a descendant is
 * signalled only while /proc shows the start time it had when it was recorded.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** Time a process gets to exit after SIGTERM before it gets SIGKILL. */
const TERMINATE_GRACE_MS = 5_000;

/** How often a descendant is checked for its exit while it has its grace time. */
const EXIT_POLL_MS = 20;

/** A process identified by its pid and its start time (field 22 of /proc/PID/stat). */
export interface ProcessId {
  pid: number;
  startTime: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A child started by TrackedProcesses.spawn. */
export interface TrackedChild {
  child: ChildProcessByStdio<null, Readable, Readable>;
  pid: number;
  /** Settles when the child has exited. */
  exited: Promise<Exit>;
  /** Settles when the child has exited and its stdout and stderr have ended. */
  closed: Promise<void>;
  /** Null until the child exits. */
  exit: Exit | null;
  /** Descendants seen so far by noteDescendants or stop, by pid; they are stopped with the child. */
  descendants: Map<number, ProcessId>;
}

interface Stat {
  ppid: number;
  startTime: string;
  /** utime + stime + cutime + cstime: CPU time of the process and of the children it has waited for, in clock ticks. */
  cpuTicks: number;
}

/** Reads /proc/PID/stat, or returns null when the process is gone. */
function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in brackets and may contain spaces, so fields are counted
  // from the last ")": field 3 (state) comes first there, so field F is at index F - 3.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(fields[1]);
  const startTime = fields[19];
  const cpuTicks = [11, 12, 13, 14].reduce((sum, index) => sum + Number(fields[index]), 0);
  if (!Number.isInteger(ppid) || startTime === undefined || !Number.isFinite(cpuTicks)) return null;
  return { ppid, startTime, cpuTicks };
}

/** CPU time in clock ticks. */
export interface CpuTicks {
  /** The process itself, with the children it has waited for after they exited. */
  own: number;
  /** Its descendants that are still running. */
  descendants: number;
}

/** Returns the CPU time that a process and its descendants have used so far. */
export function cpuTicksOf(pid: number): CpuTicks {
  const descendants = descendantsOf(pid).reduce((sum, descendant) => sum + (readStat(descendant.pid)?.cpuTicks ?? 0), 0);
  return { own: readStat(pid)?.cpuTicks ?? 0, descendants };
}

function isRunning(process: ProcessId): boolean {
  return readStat(process.pid)?.startTime === process.startTime;
}

/** Returns the program name of a process (/proc/PID/comm: "perl", "node"), or null when it is gone. */
export function programName(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

/** Returns every process below `pid` in the process tree, as /proc shows it now. */
export function descendantsOf(pid: number): ProcessId[] {
  const children = new Map<number, ProcessId[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === null) continue;
    children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), { pid: Number(entry), startTime: stat.startTime }]);
  }

  const found: ProcessId[] = [];
  const pending = [pid];
  for (let parent = pending.pop(); parent !== undefined; parent = pending.pop()) {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      pending.push(child.pid);
    }
  }
  return found;
}

/** Sends SIGTERM to a process that is not our child, then SIGKILL if it is still there after the grace time. */
async function terminateStray(process_: ProcessId): Promise<void> {
  if (!isRunning(process_)) return;
  signal(process_.pid, 'SIGTERM');
  for (let waited = 0; waited < TERMINATE_GRACE_MS; waited += EXIT_POLL_MS) {
    await sleep(EXIT_POLL_MS);
    if (!isRunning(process_)) return;
  }
  if (isRunning(process_)) signal(process_.pid, 'SIGKILL');
}

/** Sends a signal, ignoring a process that has exited in the meantime (ESRCH). */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** The children the suite started, until stop() has ended them and their descendants. */
export class TrackedProcesses {
  private readonly unstopped = new Set<TrackedChild>();

  /**
   * Starts argv without a shell, with stdin ignored and stdout and stderr piped. setpriv
   * (util-linux) sets the parent-death signal and then execs argv in place, so the child
   * keeps the pid returned here and gets SIGTERM should the benchmark die without stopping it.
   */
  spawn(argv: readonly string[]): TrackedChild {
    const child = spawn('setpriv', ['--pdeathsig', 'TERM', '--', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let settle: (exit: Exit) => void = () => undefined;
    const tracked: TrackedChild = {
      child,
      pid: child.pid ?? -1,
      exit: null,
      descendants: new Map(),
      exited: new Promise((resolve) => (settle = resolve)),
      closed: new Promise((resolve) => child.once('close', () => resolve())),
    };
    const onExit = (exit: Exit): void => {
      tracked.exit ??= exit;
      settle(tracked.exit);
    };
    child.once('exit', (code, signal_) => onExit({ code, signal: signal_ }));
    // A child that could not start emits 'error' and 'close', but no 'exit'.
    child.once('error', () => onExit({ code: null, signal: null }));
    if (child.pid !== undefined) this.unstopped.add(tracked);
    return tracked;
  }

  /**
   * Records the child's current descendants, so that stop() finds them even after the child
   * has exited and they were left to init.
   */
  noteDescendants(tracked: TrackedChild): void {
    if (tracked.exit !== null) return;
    for (const descendant of descendantsOf(tracked.pid)) tracked.descendants.set(descendant.pid, descendant);
  }

  /**
   * Stops a child: SIGTERM, then SIGKILL after the grace time, then the same for each
   * descendant noted before or found now that is still there after the child exited.
   * Resolves once its output has been read to the end, or the grace time has passed after
   * its exit (a descendant that kept the pipes open would otherwise hold them).
   */
  async stop(tracked: TrackedChild): Promise<Exit> {
    this.noteDescendants(tracked);
    if (tracked.exit === null) {
      // ChildProcess.kill does nothing once Node has reaped the child, so a reused pid is safe.
      tracked.child.kill('SIGTERM');
      const timer = setTimeout(() => tracked.child.kill('SIGKILL'), TERMINATE_GRACE_MS);
      await tracked.exited;
      clearTimeout(timer);
    }
    await Promise.all([...tracked.descendants.values()].map(terminateStray));

    let timer: NodeJS.Timeout | undefined;
    await Promise.race([tracked.closed, new Promise((resolve) => (timer = setTimeout(resolve, TERMINATE_GRACE_MS)))]);
    clearTimeout(timer);
    this.unstopped.delete(tracked);
    return tracked.exit ?? { code: null, signal: null };
  }

  /** Stops every child not stopped yet, and its descendants, for the end of the suite or after a failure. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.unstopped].map((tracked) => this.stop(tracked)));
  }
}
