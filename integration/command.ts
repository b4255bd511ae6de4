/**
 * Runs one child process to completion and collects its output, for the integration helpers.
 *
 * No shell is involved: `argv[0]` is the program and the rest are its arguments.
 */

import { spawn } from 'node:child_process';

/** Milliseconds a command may run before it is killed, unless the caller sets `timeoutMs`. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

/**
 * Milliseconds to wait for a command's stdout and stderr to close after it exited. A background
 * process that the command left behind can hold them open for ever.
 */
const STREAM_CLOSE_GRACE_MS = 500;

/** Characters of a failed command's stderr that its error message repeats, from the end. */
const STDERR_EXCERPT_LENGTH = 2000;

export interface RunOptions {
  /** Kill the command (SIGKILL, by pid) after this many milliseconds and reject. */
  timeoutMs?: number;
  /** Variables added to this process's environment for the command. */
  env?: NodeJS.ProcessEnv;
  /** Resolve with the result instead of rejecting when the command exits non-zero. */
  allowFailure?: boolean;
  /** Bytes written to the command's stdin, which is then closed. */
  input?: string | Buffer;
  /** Working directory of the command. */
  cwd?: string;
}

export interface ExitStatus {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

/** A command that exited non-zero, was killed, or timed out. */
export class CommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: RunResult,
    readonly timedOutAfterMs: number | null,
  ) {
    super(describeFailure(command, result, timedOutAfterMs));
    this.name = 'CommandError';
  }
}

function describeFailure(command: string, result: RunResult, timedOutAfterMs: number | null): string {
  let outcome: string;
  if (timedOutAfterMs !== null) {
    outcome = `timed out after ${timedOutAfterMs} ms and was killed`;
  } else if (result.signal !== null) {
    outcome = `was killed by ${result.signal}`;
  } else {
    outcome = `exited with code ${result.code}`;
  }

  const stderr = result.stderr.trim();
  const tail = stderr.length > STDERR_EXCERPT_LENGTH ? `…${stderr.slice(-STDERR_EXCERPT_LENGTH)}` : stderr;
  return tail === '' ? `${command} ${outcome}` : `${command} ${outcome}: ${tail}`;
}

/** Formats argv the way a person would type it, for messages. */
export function formatArgv(argv: readonly string[]): string {
  return argv.map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`)).join(' ');
}

/**
 * Runs argv and resolves with its exit status and output.
 *
 * `description` replaces the formatted argv in error messages (the sandbox passes the command
 * without its nsenter prefix).
 */
export async function runCommand(
  argv: readonly string[],
  options: RunOptions = {},
  description: string = formatArgv(argv),
): Promise<RunResult> {
  const [file, ...args] = argv;
  if (file === undefined) {
    throw new TypeError('Expected argv to name a program, got an empty array');
  }

  const child = spawn(file, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });

  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  // A command that exits without reading its input makes the write fail with EPIPE. Its exit
  // status reports the real problem.
  child.stdin.on('error', () => {});
  child.stdin.end(options.input);

  const timeoutMs = options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);

  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let status: ExitStatus;
  try {
    status = await new Promise<ExitStatus>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
  } finally {
    clearTimeout(timer);
  }

  await waitAtMost(closed, STREAM_CLOSE_GRACE_MS);
  child.stdout.destroy();
  child.stderr.destroy();

  const result: RunResult = { ...status, stdout, stderr };
  if (timedOut) {
    throw new CommandError(description, result, timeoutMs);
  }
  if (result.code !== 0 && options.allowFailure !== true) {
    throw new CommandError(description, result, null);
  }
  return result;
}

/** Resolves when `promise` settles or after `ms` milliseconds, whichever comes first. */
export async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
