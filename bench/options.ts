/** Command-line options of `npm run bench`, and the sizes each mode runs at. */
import { resolve } from 'node:path';

export type BenchMode = 'quick' | 'full' | 'long';

export type SuiteName = 'dump' | 'decode' | 'topology' | 'scale' | 'events';

export const SUITE_NAMES: readonly SuiteName[] = ['dump', 'decode', 'topology', 'scale', 'events'];

export interface BenchOptions {
  mode: BenchMode;
  json: boolean;
  /** File that --json=FILE names for the JSON object, or null when none was given. */
  jsonFile: string | null;
  /** Whether --help asked for the usage text; nothing runs then. */
  help: boolean;
  /** Suites to run, in their fixed order. */
  suites: SuiteName[];
  /** Folder for a CPU profile of our dump, or null for none. */
  cpuProfileDirectory: string | null;
}

/** Sizes and repetitions per mode. */
export interface BenchSizes {
  /** Routes installed for the dump and decode benchmarks. */
  routes: number;
  /** Runs of each dump peer; the median is reported. */
  dumpRuns: number;
  /** Timed passes of each decoder over the captured replies. */
  decodePasses: number;
  /** Rounds of up, down and the ip script. */
  topologyRounds: number;
  /** Service namespace counts for the scale benchmark. */
  scaleCounts: number[];
  /** Whether pyroute2 runs on this size (it is slow enough to dominate the long mode). */
  runPyroute2: boolean;
  /** Routes the events benchmark's churn adds and then deletes: twice as many events. */
  eventRoutes: number;
  /** Rounds of the events benchmark; each round runs every feed through one churn. */
  eventRounds: number;
}

export const SIZES: Record<BenchMode, BenchSizes> = {
  quick: { routes: 10_000, dumpRuns: 3, decodePasses: 5, topologyRounds: 3, scaleCounts: [1, 16], runPyroute2: true, eventRoutes: 10_000, eventRounds: 3 },
  full: { routes: 100_000, dumpRuns: 5, decodePasses: 7, topologyRounds: 7, scaleCounts: [1, 16, 64, 256], runPyroute2: true, eventRoutes: 100_000, eventRounds: 3 },
  long: { routes: 1_000_000, dumpRuns: 3, decodePasses: 3, topologyRounds: 7, scaleCounts: [1, 16, 64, 256], runPyroute2: false, eventRoutes: 100_000, eventRounds: 3 },
};

export const USAGE = `Usage: npm run bench -- [--quick | --long] [--json[=FILE]] [--only=SUITE[,SUITE]] [--cpu-prof=DIR]

  --quick        10,000 routes, 3 rounds, 1 and 16 namespaces (under two minutes)
  --long         1,000,000 routes (the streaming memory target)
  --json         print one JSON object { machine, results } instead of a table; npm
                 prints its own lines first, so pipe \`npm run --silent bench -- --json\`
  --json=FILE    write that JSON object to FILE, and print the table as usual
  --only=LIST    run only these suites: ${SUITE_NAMES.join(', ')}
  --cpu-prof=DIR profile one more dump of ours (the dump only, not start-up), write the
                 .cpuprofile into DIR and print its top functions on stderr; DIR must
                 be outside /run, which the sandbox hides
`;

/** Parses argv; throws an Error with the usage text on anything it does not know. */
export function parseOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { mode: 'full', json: false, jsonFile: null, help: false, suites: [...SUITE_NAMES], cpuProfileDirectory: null };
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg === '--quick' || arg === '--long') options.mode = chooseMode(options.mode, arg);
    else if (arg === '--json') options.json = true;
    else if (arg.startsWith('--json=')) options.jsonFile = outsideSandboxMounts(resolve(nonEmpty(arg, '--json=')));
    else if (arg.startsWith('--only=')) options.suites = parseSuites(nonEmpty(arg, '--only='));
    else if (arg.startsWith('--cpu-prof=')) options.cpuProfileDirectory = nonEmpty(arg, '--cpu-prof=');
    else throw new Error(`unknown option ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return options;
}

function chooseMode(current: BenchMode, arg: '--quick' | '--long'): BenchMode {
  const mode = arg === '--quick' ? 'quick' : 'long';
  if (current !== 'full' && current !== mode) throw new Error(`--quick and --long exclude each other\n${USAGE}`);
  return mode;
}

// The sandbox mounts an empty tmpfs on these, so a file written there is gone when it ends.
const SANDBOX_MOUNTS = ['/run', '/etc/netns', '/var/lib/algo-netns'];

function outsideSandboxMounts(path: string): string {
  const hidden = SANDBOX_MOUNTS.find((mount) => path === mount || path.startsWith(`${mount}/`));
  if (hidden !== undefined) throw new Error(`--json=${path}: the benchmark's sandbox hides ${hidden}; choose a file elsewhere\n${USAGE}`);
  return path;
}

/** Returns the value after `prefix` in `arg`; an empty value is an error. */
function nonEmpty(arg: string, prefix: string): string {
  const value = arg.slice(prefix.length);
  if (value === '') throw new Error(`${prefix.slice(0, -1)} needs a value\n${USAGE}`);
  return value;
}

function parseSuites(list: string): SuiteName[] {
  const requested = list.split(',').filter((name) => name !== '');
  for (const name of requested) {
    if (!(SUITE_NAMES as readonly string[]).includes(name)) {
      throw new Error(`unknown suite ${JSON.stringify(name)} in --only: expected one of ${SUITE_NAMES.join(', ')}\n${USAGE}`);
    }
  }
  return SUITE_NAMES.filter((name) => requested.includes(name));
}
