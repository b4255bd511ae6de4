/**
 * The error type for configuration that cannot be read or is invalid, and the list that
 * validation collects its problems in.
 */

/** One invalid configuration value. */
export interface ConfigProblem {
  /** Dotted path of the field with list indexes, such as `wireguard.clientPools[1]`, or empty for the top level. */
  path: string;
  /** The value found there, or undefined when the field is missing. */
  value: unknown;
  /** Description of the fault, starting with the value: `"10.47.255.0/33" is not a valid IPv4 prefix`. */
  reason: string;
  /** Description of an accepted value: `an IPv4 network such as 10.47.255.0/30`. */
  expected: string;
}

export interface ConfigErrorOptions {
  /** Every invalid value found, in the order the fields were checked. */
  problems?: readonly ConfigProblem[];
  /** The configuration file involved, when there is one. */
  file?: string;
  /** 1-based line and column in `file` of a syntax error. */
  line?: number;
  column?: number;
  cause?: unknown;
}

/** Exit status the CLI uses for configuration errors, as for a usage error. */
export const CONFIG_ERROR_EXIT_CODE = 2;

/** Problems listed in an error message; the rest are counted. */
const MAX_PROBLEMS_SHOWN = 50;

/** Configuration that could not be read, parsed or validated. */
export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;
  readonly exitCode = CONFIG_ERROR_EXIT_CODE;

  constructor(message: string, options: ConfigErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ConfigError';
    this.problems = options.problems ?? [];
    this.file = options.file;
    this.line = options.line;
    this.column = options.column;
  }

  /** Builds the error for failed validation: a heading, then one problem per line. */
  static fromProblems(problems: readonly ConfigProblem[], file?: string): ConfigError {
    const where = file === undefined ? '' : ` in ${file}`;
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    // A huge list of wrong entries would bury the first ones; the count above stays exact.
    const shown = problems.slice(0, MAX_PROBLEMS_SHOWN).map((problem) => `  ${formatProblem(problem)}`);
    const lines = problems.length > MAX_PROBLEMS_SHOWN ? [...shown, `  ... and ${problems.length - MAX_PROBLEMS_SHOWN} more`] : shown;
    const message = [`invalid configuration${where} (${count}):`, ...lines].join('\n');
    return new ConfigError(message, file === undefined ? { problems } : { problems, file });
  }
}

/** Formats one problem as `path: reason; expected what`. */
export function formatProblem(problem: ConfigProblem): string {
  const path = problem.path === '' ? '(top level)' : problem.path;
  return `${path}: ${problem.reason}; expected ${problem.expected}`;
}

/** Problems collected during validation, in the order they were found. */
export class ProblemList {
  readonly items: ConfigProblem[] = [];

  add(path: string, value: unknown, reason: string, expected: string): void {
    this.items.push({ path, value, reason, expected });
  }
}

/**
 * Reports whether one field path is the same as the other or nested in it, in either direction:
 * `wireguard` and `wireguard.clientPools[0]` nest, `wireguard.interface` and `wireguard.interfaces` do not.
 */
export function pathsNest(a: string, b: string): boolean {
  return isSameOrInside(a, b) || isSameOrInside(b, a);
}

function isSameOrInside(inner: string, outer: string): boolean {
  if (outer === '' || inner === outer) {
    return true;
  }

  return inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
}

/** Reports whether a value is a plain object. A Date or a Uint8Array is a value, not a mapping. */
export function isPlainMapping(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return false;
  }

  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** Describes a value for a problem's reason: scalars as JSON, containers by kind. */
export function describeValue(value: unknown): string {
  if (value === undefined) {
    return 'nothing';
  }

  if (Array.isArray(value)) {
    return `a list of ${value.length} item${value.length === 1 ? '' : 's'}`;
  }

  if (isPlainMapping(value)) {
    return 'a mapping';
  }

  if (typeof value === 'object' && value !== null) {
    const constructorName = (value.constructor as { name?: string } | undefined)?.name ?? 'non-plain';
    return `a ${constructorName} object`;
  }

  if (typeof value === 'bigint') {
    return String(value);
  }

  return JSON.stringify(value);
}
