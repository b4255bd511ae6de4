/** The shape of one subcommand, so that each lives in a file of its own under commands/. */
import type { TopologyConfig } from '../setup/config.js';

export interface Output {
  write(text: string): unknown;
}

export interface Streams {
  stdout: Output;
  stderr: Output;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/**
 * Options every command takes, described once for the help texts. The "Options:" heading is
 * added where a help text's first option line starts.
 */
export const COMMON_OPTIONS_HELP = `  --config FILE   YAML or JSON file; whatever it omits keeps the built-in default
  --verbose       log every netlink request and reply to stderr
  --help          show this help

Environment:
  ALGO_NETNS_RELAY=perl|node  the program that talks netlink inside a namespace; by
                  default perl where it is installed, else node
  ALGO_NETNS_DEBUG=1|2        trace netlink messages on stderr (2 adds hex dumps)

More in docs/operations.md.`;

/** An option of one command, as node:util parseArgs takes it. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
}

export interface CommandContext {
  config: TopologyConfig;
  /** Origin of the configuration: a path or "built-in defaults". */
  source: string;
  streams: Streams;
  /** Parsed values of the command's own options (the common ones are handled before). */
  options: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  verbose: boolean;
}

export interface Command {
  name: string;
  /** The full text of `algo-netns NAME --help`. */
  help: string;
  /** Options beyond --config, --verbose and --help. */
  options?: Record<string, OptionSpec>;
  /** Most positional arguments allowed (default none). */
  maxPositionals?: number;
  /** Whether the command works on namespaces or routing and so needs root. */
  needsRoot: boolean;
  run(context: CommandContext): Promise<number>;
}

/** Returns "1 change" or "N changes". */
export function countChanges(count: number): string {
  return count === 1 ? '1 change' : `${count} changes`;
}
