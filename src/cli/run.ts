/**
 * Argument parsing, dispatch and exit codes of the command, separate from process globals
 * so that tests can run it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../setup/config-load.js';
import { ConfigError } from '../setup/errors.js';
import { RELAY_VARIABLE, relayChoiceProblem } from '../ops/relay/implementation.js';
import { COMMON_OPTIONS_HELP, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Command, type Streams } from './command.js';
import { COMMANDS } from './commands/index.js';
import { UsageError } from './locking.js';

export { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type Streams } from './command.js';

/** Returns the main help text, listing every command. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const list = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n');
  return `Usage: algo-netns <command> [options]

Isolates the services of an Algo VPN server (WireGuard, strongSwan, the DNS resolver)
in network namespaces of their own.

Commands:
${list}

Options:
${COMMON_OPTIONS_HELP}
  --version       print the version

Exit codes: 0 success, 1 failure, 2 bad usage or configuration.
Run "algo-netns <command> --help" for the options of one command.`;
}

// Puts "Options:" above the first option line of a command's help text.
function withOptionsHeading(help: string): string {
  const lines = help.split('\n');
  const first = lines.findIndex((line) => line.startsWith('  -'));
  if (first !== -1) lines.splice(first, 0, 'Options:');
  return lines.join('\n');
}

/** Returns the version in package.json. */
export function packageVersion(): string {
  const manifest = readFileSync(new URL('../../../package.json', import.meta.url), 'utf8');
  return (JSON.parse(manifest) as { version: string }).version;
}

/** Runs the command line `argv` (without "node" and the script) and returns the exit code. */
export async function run(argv: string[], streams: Streams): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    streams.stdout.write(`algo-netns ${packageVersion()}\n`);
    return EXIT_OK;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    streams.stdout.write(`${mainHelp()}\n`);
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const entry = COMMANDS.find((candidate) => candidate.name === name);
  if (!entry) {
    const names = COMMANDS.map((candidate) => candidate.name).join(', ');
    streams.stderr.write(`algo-netns: unknown command "${name}"; expected one of ${names}. Run "algo-netns --help".\n`);
    return EXIT_USAGE;
  }
  const command = await entry.load();

  const parsed = parseCommandLine(command, rest, streams);
  if (typeof parsed === 'number') return parsed;
  const { values, positionals } = parsed;
  if (values.help) {
    streams.stdout.write(`${withOptionsHeading(command.help)}\n`);
    return EXIT_OK;
  }

  const verbose = values.verbose === true;
  try {
    const loaded = await loadConfig(typeof values.config === 'string' ? values.config : undefined);
    if (command.needsRoot && process.getuid?.() !== 0) {
      streams.stderr.write(`algo-netns ${command.name} needs root, because it works on network namespaces and routing; run it with sudo.\n`);
      return EXIT_FAILURE;
    }
    if (verbose) process.env.ALGO_NETNS_DEBUG ??= '1';
    // Checked here so that a bad value stops the command before it changes anything.
    const relayProblem = relayChoiceProblem(process.env[RELAY_VARIABLE]);
    if (relayProblem !== null) {
      streams.stderr.write(`algo-netns ${command.name}: ${relayProblem}\n`);
      return EXIT_USAGE;
    }

    return await command.run({ config: loaded.config, source: loaded.source, streams, options: values, positionals, verbose });
  } catch (error) {
    if (error instanceof ConfigError) {
      streams.stderr.write(`algo-netns ${command.name}: ${error.message}\n`);
      return error.exitCode;
    }
    if (error instanceof UsageError) {
      streams.stderr.write(`algo-netns ${command.name}: ${error.message}. Run "algo-netns ${command.name} --help".\n`);
      return EXIT_USAGE;
    }
    streams.stderr.write(`algo-netns ${command.name} failed: ${(error as Error).message}\n`);
    if (verbose && error instanceof Error && error.stack) streams.stderr.write(`${error.stack}\n`);
    return EXIT_FAILURE;
  }
}

type ParsedValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

function parseCommandLine(command: Command, args: string[], streams: Streams): { values: ParsedValues; positionals: string[] } | number {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        ...command.options,
      },
      strict: true,
      allowPositionals: true,
    });
    const maxPositionals = command.maxPositionals ?? 0;
    if (positionals.length > maxPositionals) {
      streams.stderr.write(`algo-netns ${command.name}: unexpected argument "${positionals[maxPositionals]}". Run "algo-netns ${command.name} --help".\n`);
      return EXIT_USAGE;
    }
    return { values: values as ParsedValues, positionals };
  } catch (error) {
    streams.stderr.write(`algo-netns ${command.name}: ${describeParseError(error as Error & { code?: string })}. Run "algo-netns ${command.name} --help".\n`);
    return EXIT_USAGE;
  }
}

// parseArgs explains how to pass a positional that starts with "-"; an operator needs less.
function describeParseError(error: Error & { code?: string }): string {
  const option = /'(-[^']*)'/.exec(error.message)?.[1];
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option) return `unknown option ${option}`;
  if (error.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && option) return `option ${option} needs a value`;
  return error.message;
}
