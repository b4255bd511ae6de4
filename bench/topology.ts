/**
 * Benchmark 3: `algo-netns up` and `down` from scratch against bench/scripts/topology-ip.sh,
 * which builds the same topology with iproute2, and a no-op `up` on a topology that is
 * already up. Both sides are whole commands, timed from spawn to exit, so Node's start-up
 * counts against us as it would for an operator. Rounds alternate which side goes first.
 */
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

import { measureCommand, mebibytes, median, progress, runCommand } from './measure.js';
import type { BenchSizes } from './options.js';
import { compare, type ReportEntry } from './report.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const IP_SCRIPT = fileURLToPath(new URL('../../bench/scripts/topology-ip.sh', import.meta.url));

/**
 * The configuration `up` runs with: the defaults without the nftables table, which the ip
 * script does not build. The path lies on the sandbox's private /run.
 */
const CONFIG_FILE = '/run/algo-netns-bench.yaml';
const CONFIG_TEXT = 'firewall:\n  enabled: false\n';

interface Timings {
  wallMs: number[];
  peakKiB: number[];
}

function emptyTimings(): Timings {
  return { wallMs: [], peakKiB: [] };
}

async function timed(argv: string[], into: Timings): Promise<string> {
  const measured = await measureCommand(argv);
  into.wallMs.push(measured.wallMs);
  into.peakKiB.push(measured.maxRssKiB);
  return measured.stdout;
}

async function ipJson(args: string[]): Promise<Record<string, unknown>[]> {
  const { stdout } = await runCommand(['ip', '-j', ...args]);
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as Record<string, unknown>[]);
}

/**
 * Describes the live topology as sorted lines. They list the namespaces, and in each
 * namespace every link with its alias and up state, every address except link-local ones,
 * and the routes that are not the kernel's own. The root namespace's rules follow. Two
 * builds of the same topology give the same lines.
 */
async function describeTopology(): Promise<string[]> {
  const namespaces = (await ipJson(['netns', 'list'])).map((entry) => String(entry['name'])).sort();
  const lines = [`namespaces ${namespaces.join(' ')}`];
  for (const namespace of ['', ...namespaces]) {
    const where = namespace === '' ? [] : ['-n', namespace];
    const label = namespace === '' ? 'root' : namespace;
    for (const link of await ipJson([...where, 'address', 'show'])) {
      const flags = (link['flags'] as string[] | undefined) ?? [];
      lines.push(`${label} link ${String(link['ifname'])} alias=${String(link['ifalias'] ?? '')} up=${flags.includes('UP')}`);
      for (const address of (link['addr_info'] as Record<string, unknown>[] | undefined) ?? []) {
        if (address['scope'] === 'link') continue;
        lines.push(`${label} address ${String(link['ifname'])} ${String(address['local'])}/${String(address['prefixlen'])}`);
      }
    }
    for (const family of ['-4', '-6']) {
      for (const route of await ipJson([...where, family, 'route', 'show', 'table', 'all'])) {
        if (route['protocol'] === 'kernel') continue;
        lines.push(`${label} route ${String(route['type'] ?? 'unicast')} ${String(route['dst'])} via=${String(route['gateway'] ?? '')} dev=${String(route['dev'] ?? '')} proto=${String(route['protocol'] ?? '')}`);
      }
    }
  }
  for (const family of ['-4', '-6']) {
    for (const rule of await ipJson([family, 'rule', 'show'])) {
      lines.push(`root rule ${JSON.stringify(rule)}`);
    }
  }
  return lines.sort();
}

async function assertClean(after: string): Promise<void> {
  const namespaces = await ipJson(['netns', 'list']);
  if (namespaces.length > 0) throw new Error(`namespaces left after ${after}: ${namespaces.map((entry) => String(entry['name'])).join(', ')}`);
}

/** Returns the lines only one of the two descriptions has, each marked with the side that has it. */
function difference(ours: string[], peer: string[]): string[] {
  const only = (a: string[], b: string[], mark: string): string[] => a.filter((line) => !b.includes(line)).map((line) => `${mark} ${line}`);
  return [...only(ours, peer, 'up only:'), ...only(peer, ours, 'script only:')];
}

/** Runs benchmark 3 and returns its results. */
export async function benchTopology(sizes: BenchSizes): Promise<ReportEntry[]> {
  const ours = { up: emptyTimings(), noop: emptyTimings(), down: emptyTimings(), inProcessUpMs: [] as number[] };
  const script = { up: emptyTimings(), down: emptyTimings() };
  let differences: string[] = [];

  await assertClean('the start of the topology benchmark');
  await writeFile(CONFIG_FILE, CONFIG_TEXT);
  const cli = (command: string): string[] => [process.execPath, CLI, command, '--config', CONFIG_FILE];
  for (let round = 1; round <= sizes.topologyRounds; round++) {
    progress(`topology: round ${round} of ${sizes.topologyRounds}`);
    const runOurs = async (): Promise<string[]> => {
      const output = await timed(cli('up'), ours.up);
      // `up` prints its own time without Node's start-up: "up: 63 changes made in 356 ms".
      const inProcess = /in (\d+) ms/.exec(output);
      if (inProcess?.[1]) ours.inProcessUpMs.push(Number(inProcess[1]));
      const described = round === 1 ? await describeTopology() : [];
      await timed(cli('up'), ours.noop);
      await timed(cli('down'), ours.down);
      await assertClean('algo-netns down');
      return described;
    };
    const runScript = async (): Promise<string[]> => {
      await timed(['sh', IP_SCRIPT, 'up'], script.up);
      const described = round === 1 ? await describeTopology() : [];
      await timed(['sh', IP_SCRIPT, 'down'], script.down);
      await assertClean('topology-ip.sh down');
      return described;
    };

    if (round % 2 === 1) {
      const ourLines = await runOurs();
      const scriptLines = await runScript();
      if (round === 1) differences = difference(ourLines, scriptLines);
    } else {
      await runScript();
      await runOurs();
    }
  }

  const wall = (timings: Timings): number => median(timings.wallMs);
  const peak = (timings: Timings): number => mebibytes(median(timings.peakKiB));
  const same = differences.length === 0 ? 'the script builds the same namespaces, links, addresses, routes and rules as up' : `TOPOLOGIES DIFFER: ${differences.join('; ')}`;
  return [
    compare('up from scratch: ours vs ip script', wall(ours.up), wall(script.up), 'ms', {
      better: 'lower',
      target: '<= 1 (no slower)',
      meets: ({ ratio }) => ratio <= 1,
      note: `${same}; up runs with firewall.enabled: false; median of ${sizes.topologyRounds} rounds`,
    }),
    compare('up from scratch without Node start-up: ours vs ip script', median(ours.inProcessUpMs), wall(script.up), 'ms', {
      better: 'lower',
      note: "ours is the time `up` reports itself, from its first step to its last",
    }),
    compare('down: ours vs ip script', wall(ours.down), wall(script.down), 'ms', { better: 'lower' }),
    compare('no-op up on a topology already up vs up from scratch (ours)', wall(ours.noop), wall(ours.up), 'ms', { better: 'lower' }),
    compare('peak RSS of up: ours vs ip script', peak(ours.up), peak(script.up), 'MiB', {
      better: 'lower',
      note: 'the largest single process of each command: node or one of its relays for ours, sh or ip for the script',
    }),
  ];
}
