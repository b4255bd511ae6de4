/**
 * Runs the external programs (`unshare`, `mount`, `nsenter`, …) that do what Node must not
 * do in its own multi-threaded process, such as entering or creating a namespace.
 */
import { spawn, type StdioOptions } from 'node:child_process';
import { findProgram, SYSTEM_FOLDERS } from './programs.js';

/** Default time a helper may run before it is killed, in milliseconds. */
export const DEFAULT_HELPER_TIMEOUT_MS = 10_000;

/** Fields of a helper's end, as Node's `child_process` reports them. */
export interface HelperOutcome {
  exitCode: number | null;
  signal: string | null;
  stderr: string;
  cause?: unknown;
}

/**
 * A helper program that failed: it could not be started, exited with a non-zero code,
 * was killed by a signal or timed out.
 */
export class HelperError extends Error {
  override name = 'HelperError';
  /** The program and its arguments, as run. */
  readonly command: string[];
  /** Exit code, or null when the helper did not exit on its own. */
  readonly exitCode: number | null;
  /** Name of the signal that ended the helper ("SIGKILL"), or null. */
  readonly signal: string | null;
  /** Everything the helper wrote to stderr. */
  readonly stderr: string;

  /** `what` describes the outcome in words: "exited with code 1", "timed out after 10000 ms". */
  constructor(command: string[], what: string, outcome: HelperOutcome) {
    const detail = outcome.stderr.trim();
    const message = `${formatCommand(command)} ${what}` + (detail === '' ? '' : `: ${detail}`);
    super(message, outcome.cause === undefined ? undefined : { cause: outcome.cause });
    this.command = command;
    this.exitCode = outcome.exitCode;
    this.signal = outcome.signal;
    this.stderr = outcome.stderr;
  }
}

export interface RunHelperOptions {
  /** Time after which the helper is killed with SIGKILL, in milliseconds (default 10000). */
  timeoutMs?: number;
  /** Text written to the helper's stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string;
  /**
   * Open file descriptors of this process that the helper gets as its fds 3, 4, ….
   * They share the open file description, so a lock the helper takes on one (`flock 3`)
   * stays held by this process after the helper exits.
   */
  passFds?: number[];
}

/**
 * Runs a program without a shell and returns its output once it exits with code 0.
 * Rejects with a HelperError when it cannot start, exits non-zero, is killed or times out.
 */
export async function runHelper(
  command: string[],
  options: RunHelperOptions = {},
): Promise<{ stdout: string; stderr: string }> {
  const [file, ...args] = command;
  if (file === undefined) {
    throw new TypeError('Expected the helper command to name a program, got an empty array');
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_HELPER_TIMEOUT_MS;
  validateTimeout(timeoutMs);

  // A bare name is looked up in the system folders only, never in PATH (see programs.ts).
  const program = await findProgram(file);
  if (program === null) {
    throw new HelperError(command, `could not be started: ${file} was not found in ${SYSTEM_FOLDERS.join(', ')}`, { exitCode: null, signal: null, stderr: '' });
  }

  const stdio: StdioOptions = [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe', ...(options.passFds ?? [])];
  const child = spawn(program, args, { stdio });

  return new Promise((resolve, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    let startError: Error | undefined;

    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));

    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    child.on('error', (error) => {
      // 'error' means the spawn failed or a kill failed; 'close' follows in both cases.
      startError ??= error;
    });

    child.on('close', (exitCode, signal) => {
      clearTimeout(timer);
      const outcome: HelperOutcome = { exitCode, signal, stderr: Buffer.concat(stderr).toString('utf8') };

      if (timedOut) {
        reject(new HelperError(command, `timed out after ${timeoutMs} ms`, outcome));
      } else if (startError !== undefined && child.pid === undefined) {
        const code = (startError as NodeJS.ErrnoException).code ?? startError.message;
        reject(new HelperError(command, `could not be started (${code})`, { ...outcome, exitCode: null, cause: startError }));
      } else if (signal !== null) {
        reject(new HelperError(command, `was killed by signal ${signal}`, outcome));
      } else if (exitCode !== 0) {
        reject(new HelperError(command, `exited with code ${exitCode}`, outcome));
      } else {
        resolve({ stdout: Buffer.concat(stdout).toString('utf8'), stderr: outcome.stderr });
      }
    });

    if (options.input !== undefined && child.stdin !== null) {
      // A helper may exit without reading its input, and then its exit status reports the outcome.
      child.stdin.on('error', () => {});
      child.stdin.end(options.input);
    }
  });
}

/** Throws a TypeError unless `timeoutMs` is a positive finite number of milliseconds. */
export function validateTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new TypeError(`Expected the timeout to be a positive number of milliseconds, got ${String(timeoutMs)}`);
  }
}

/** Renders a command as a shell would need it typed, for messages and logs. */
export function formatCommand(command: string[]): string {
  return command.map(quoteArgument).join(' ');
}

function quoteArgument(argument: string): string {
  if (/^[\w@%+=:,./-]+$/.test(argument)) {
    return argument;
  }
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}
