/**
 * Running measured child processes: wall time from this process, peak resident set size
 * from GNU time (`/usr/bin/time -f %M`, the getrusage maximum of the largest process it
 * waited for), and statistics over repeated runs.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';

/** Default limit for one measured command; the long mode raises it where it needs to. */
const DEFAULT_TIMEOUT_MS = 10 * 60_000;

export interface MeasuredRun {
  stdout: string;
  stderr: string;
  /** Wall time of the whole command as seen from this process, spawn to exit. */
  wallMs: number;
  /** Peak RSS in KiB of the largest process in the command, from GNU time. */
  maxRssKiB: number;
}

export interface MeasureOptions {
  /** Run inside this named namespace (`nsenter --net=/run/netns/NAME`). */
  namespace?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** A measured command that failed; its message ends with the command's stderr. */
export class CommandFailedError extends Error {
  override name = 'CommandFailedError';
}

/** Runs argv under GNU time and returns its output, wall time and peak RSS. Rejects unless it exits 0. */
export async function measureCommand(argv: readonly string[], options: MeasureOptions = {}): Promise<MeasuredRun> {
  const folder = await mkdtemp('/run/algo-netns-bench-time-');
  const timeFile = join(folder, 'time');
  try {
    const prefix = options.namespace === undefined ? [] : ['nsenter', `--net=/run/netns/${options.namespace}`, '--'];
    const command = [...prefix, GNU_TIME, '-f', '%M', '-o', timeFile, ...argv];
    const result = await runCommand(command, options);
    const maxRssKiB = Number((await readFile(timeFile, 'utf8')).trim().split('\n').pop());
    if (!Number.isFinite(maxRssKiB)) throw new CommandFailedError(`${argv.join(' ')}: GNU time wrote no peak RSS`);
    return { ...result, maxRssKiB };
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

/** Runs argv without a shell, collects its output, and rejects unless it exits 0 in time. */
export function runCommand(argv: readonly string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ stdout: string; stderr: string; wallMs: number }> {
  const [file, ...args] = argv;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(file ?? '', args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }, timeoutMs);

    child.on('error', (error) => {
      clearTimeout(timer);
      reject(new CommandFailedError(`${argv.join(' ')} could not start: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      const out = Buffer.concat(stdout).toString('utf8');
      const err = Buffer.concat(stderr).toString('utf8');
      if (code === 0) {
        resolve({ stdout: out, stderr: err, wallMs });
        return;
      }
      let outcome = `exited with code ${code}`;
      if (timedOut) outcome = `timed out after ${timeoutMs} ms`;
      else if (signal !== null) outcome = `was killed by ${signal}`;
      reject(new CommandFailedError(`${argv.join(' ')} ${outcome}: ${excerpt(err.trim())}`));
    });
  });
}

/** Characters of a failed command's stderr kept from its start and from its end. */
const EXCERPT_HEAD = 600;
const EXCERPT_TAIL = 1400;

/** Shortens stderr for an error message, keeping its start (the error) and its end. */
function excerpt(text: string): string {
  if (text.length <= EXCERPT_HEAD + EXCERPT_TAIL) return text;
  return `${text.slice(0, EXCERPT_HEAD)} […] ${text.slice(-EXCERPT_TAIL)}`;
}

/** Returns the median; the mean of the two middle values for an even count. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** KiB to MiB. */
export function mebibytes(kibibytes: number): number {
  return kibibytes / 1024;
}

/** Prints a progress line on stderr, so that stdout holds only the report. */
export function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** The system Python: Debian's python3-pyroute2 installs for it, and it may not be first on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** Returns null when pyroute2 imports under the system Python, else why not. */
export async function pyroute2Missing(): Promise<string | null> {
  try {
    await runCommand([SYSTEM_PYTHON, '-c', 'import pyroute2']);
    return null;
  } catch (error) {
    return `pyroute2 does not import under ${SYSTEM_PYTHON} (install the Debian package python3-pyroute2): ${(error as Error).message.split('\n')[0]}`;
  }
}
