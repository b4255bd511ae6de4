/**
 * The choice of relay program for a namespace, and its command line. Both relays speak
 * protocol.ts. The Perl relay (perl-relay.ts) is the default because it starts in a few
 * milliseconds. The Node relay (main.ts) is the fallback for a system without perl. These
 * functions are pure, so that tests can check the choice without running either relay.
 */
import { PERL_RELAY_SCRIPT } from './perl-relay.js';

/** Environment variable that forces one relay: "perl" or "node". Empty or unset lets startRelay choose. */
export const RELAY_VARIABLE = 'ALGO_NETNS_RELAY';

export const RELAY_IMPLEMENTATIONS = ['perl', 'node'] as const;
export type RelayImplementation = (typeof RELAY_IMPLEMENTATIONS)[number];

/** Placeholder for the Perl script in the command that error messages show, instead of its full text. */
export const PERL_SCRIPT_LABEL = '<perl-relay.ts script>';

/**
 * Returns the relay to run: the requested one, or perl when it was found and node when not.
 * `requested` is an option or the value of ALGO_NETNS_RELAY; empty means none. Throws when
 * the value is neither "perl" nor "node", or when perl is requested but `perlPath` is null.
 */
export function chooseRelay(requested: string | undefined, perlPath: string | null): RelayImplementation {
  if (requested === undefined || requested === '') {
    return perlPath === null ? 'node' : 'perl';
  }
  const problem = relayChoiceProblem(requested);
  if (problem !== null) throw new Error(problem);
  if (requested === 'perl' && perlPath === null) {
    throw new Error(`The Perl relay was requested, but perl was not found in the system folders; install perl-base or unset ${RELAY_VARIABLE}`);
  }
  return requested as RelayImplementation;
}

/**
 * Returns why `requested` (an option or the value of ALGO_NETNS_RELAY) names no relay, or
 * null when it is "perl", "node", empty or unset. The CLI checks the variable with it
 * before a command changes anything.
 */
export function relayChoiceProblem(requested: string | undefined): string | null {
  if (requested === undefined || requested === '' || (RELAY_IMPLEMENTATIONS as readonly string[]).includes(requested)) return null;
  return (
    `Invalid relay ${JSON.stringify(requested)} (from the option or ${RELAY_VARIABLE}): expected "perl" or "node", ` +
    'or leave it unset to use perl when it is installed and node otherwise'
  );
}

/** Inputs of relayCommand: the programs found and the namespace to enter. */
export interface RelayCommandInput {
  implementation: RelayImplementation;
  /** Path of perl; used when implementation is "perl". */
  perlPath: string | null;
  /** Path of node (process.execPath) and of the compiled main.js. */
  nodePath: string;
  nodeMain: string;
  /** Path of nsenter. */
  nsenterPath: string;
  /** Namespace file to enter (/run/netns/NAME), or null to stay in this process's namespace. */
  namespaceFile: string | null;
}

/** A relay's command line: `argv` to run, and `displayArgv` for error messages, with the Perl script as a short label. */
export interface RelayCommand {
  argv: string[];
  displayArgv: string[];
}

/**
 * Builds the relay's command line. nsenter calls setns() and then execs the relay in place,
 * without forking, so the relay keeps the pid that spawn() returns.
 */
export function relayCommand(input: RelayCommandInput): RelayCommand {
  const prefix = input.namespaceFile === null ? [] : [input.nsenterPath, `--net=${input.namespaceFile}`, '--'];
  if (input.implementation === 'node') {
    const argv = [...prefix, input.nodePath, input.nodeMain];
    return { argv, displayArgv: argv };
  }

  if (input.perlPath === null) {
    throw new TypeError('Expected perlPath for the Perl relay, got null');
  }
  return {
    argv: [...prefix, input.perlPath, '-e', PERL_RELAY_SCRIPT],
    displayArgv: [...prefix, input.perlPath, '-e', PERL_SCRIPT_LABEL],
  };
}
