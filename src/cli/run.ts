/**
 * Argument parsing, dispatch and exit codes of the command, separate from process globals
 * so that tests can run it.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../setup/errors.js';
import { loadConfig } from '../setup/config-load.js';
import { COMMAND_HELP, COMMANDS, MAIN_HELP, type CommandName } from './help.js';
import { runConfig, runDown, runStatus, runUp } from './commands.js';

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

/** Runs the command line `argv` (without "node" and the script) and returns the exit code. */
export async function run(argv: string[], streams: Streams): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    streams.stdout.write(`${MAIN_HELP}\n`);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (!(COMMANDS as readonly string[]).includes(command)) {
    streams.stderr.write(`algo-netns: unknown command "${command}"; expected one of ${COMMANDS.join(', ')}. Run "algo-netns --help".\n`);
    return EXIT_USAGE;
  }
  const name = command as CommandName;

  let values: { config?: string; json?: boolean; verbose?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        config: { type: 'string' },
        json: { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    streams.stderr.write(`algo-netns ${name}: ${(error as Error).message}. Run "algo-netns ${name} --help".\n`);
    return EXIT_USAGE;
  }
  if (values.help) {
    streams.stdout.write(`${COMMAND_HELP[name]}\n`);
    return EXIT_OK;
  }
  if (values.json && (name === 'up' || name === 'down')) {
    streams.stderr.write(`algo-netns ${name}: --json is not an option of ${name}; it applies to status and config.\n`);
    return EXIT_USAGE;
  }

  try {
    const loaded = await loadConfig(values.config);
    if (name === 'config') return runConfig(loaded.config, values.json ? 'json' : 'yaml', streams);

    if (process.getuid?.() !== 0) {
      streams.stderr.write(`algo-netns ${name} needs root, because it works on network namespaces and routing; run it with sudo.\n`);
      return EXIT_FAILURE;
    }
    if (values.verbose) process.env.ALGO_NETNS_DEBUG ??= '1';

    const context = { config: loaded.config, source: loaded.source, streams, json: values.json ?? false, verbose: values.verbose ?? false };
    if (name === 'up') return await runUp(context);
    if (name === 'down') return await runDown(context);
    return await runStatus(context);
  } catch (error) {
    if (error instanceof ConfigError) {
      streams.stderr.write(`algo-netns ${name}: ${error.message}\n`);
      return error.exitCode;
    }
    streams.stderr.write(`algo-netns ${name} failed: ${(error as Error).message}\n`);
    if (values.verbose && error instanceof Error && error.stack) streams.stderr.write(`${error.stack}\n`);
    return EXIT_FAILURE;
  }
}
