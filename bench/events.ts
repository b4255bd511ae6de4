/**
 * Benchmark 5: route events delivered while another process churns routes. In a namespace
 * of its own, one `ip -batch` process adds N routes and then deletes them (2N events), while
 * one feed watches: `algo-netns watch --json`, the library's Subscription without printing,
 * `ip monitor route`, and pyroute2. Each feed runs as a process of its own, through a churn
 * of its own. Feeds run interleaved, round after round, each round starting with the next
 * feed, so that a load spike on the machine hits all of them alike.
 */
import { rm, writeFile } from 'node:fs/promises';

import { IP_MONITOR_FEED, PYROUTE2_FEED, SUBSCRIPTION_FEED, WATCH_FEED, type Feed, type FeedName, type FeedRun } from './events-feeds.js';
import { TrackedProcesses } from './events-processes.js';
import { EVENTS_DEVICE, EVENTS_NAMESPACE, EVENTS_PEER_DEVICE } from './events-protocol.js';
import { runFeed, type Churn, type FeedRoundResult } from './events-run.js';
import { routeDestination } from './install-routes.js';
import { median, progress, pyroute2Missing, runCommand } from './measure.js';
import type { BenchSizes } from './options.js';
import { compare, type ReportEntry } from './report.js';

/** The churn's batch file, on the sandbox's private /run. */
const BATCH_FILE = `/run/${EVENTS_NAMESPACE}.batch`;

/**
 * Adds a veth pair to the namespace, both ends up, to hang the routes on. Address generation
 * is off, so that no IPv6 link-local address, and no route for one, appears while a feed runs.
 */
async function addLinks(): Promise<void> {
  const inside = ['ip', '-n', EVENTS_NAMESPACE, 'link'];
  await runCommand([...inside, 'add', EVENTS_DEVICE, 'type', 'veth', 'peer', 'name', EVENTS_PEER_DEVICE]);
  for (const device of [EVENTS_DEVICE, EVENTS_PEER_DEVICE]) {
    await runCommand([...inside, 'set', device, 'addrgenmode', 'none']);
    await runCommand([...inside, 'set', device, 'up']);
  }
}

/** Writes the batch file: N `route add` lines, then a `route del` line for each route. */
async function writeChurn(count: number): Promise<Churn> {
  const lines: string[] = [];
  for (let index = 0; index < count; index++) lines.push(`route add ${routeDestination(index)} dev ${EVENTS_DEVICE}`);
  for (let index = 0; index < count; index++) lines.push(`route del ${routeDestination(index)} dev ${EVENTS_DEVICE}`);
  await writeFile(BATCH_FILE, `${lines.join('\n')}\n`);
  return { batchFile: BATCH_FILE, changes: 2 * count };
}

/** Runs benchmark 5 and returns its results. Removes the namespace and stops every process it started. */
export async function benchEvents(sizes: BenchSizes): Promise<ReportEntry[]> {
  const processes = new TrackedProcesses();
  progress(`events: ${sizes.eventRoutes.toLocaleString('en-US')} routes added, then deleted, by ip -batch in ${EVENTS_NAMESPACE}, for each feed`);
  await runCommand(['ip', 'netns', 'add', EVENTS_NAMESPACE]);
  try {
    await addLinks();
    const churn = await writeChurn(sizes.eventRoutes);
    const missing = await pyroute2Missing();
    const feeds: Feed[] = [WATCH_FEED, SUBSCRIPTION_FEED, IP_MONITOR_FEED];
    if (missing === null) feeds.push(PYROUTE2_FEED);

    const ticksPerSecond = Number((await runCommand(['getconf', 'CLK_TCK'])).stdout.trim());
    const runs = new Map<FeedName, Measured[]>();
    for (let round = 1; round <= sizes.eventRounds; round++) {
      progress(`events: round ${round} of ${sizes.eventRounds}`);
      for (let position = 0; position < feeds.length; position++) {
        const feed = feeds[(position + round - 1) % feeds.length] as Feed;
        const measured = withCpuMs(await runFeed(feed, churn, processes), ticksPerSecond);
        runs.set(feed.name, [...(runs.get(feed.name) ?? []), measured]);
        progress(`events:   ${describeRun(feed, measured, churn.changes)}`);
      }
    }
    return eventResults(churn.changes, runs, missing);
  } finally {
    await processes.stopAll();
    await rm(BATCH_FILE, { force: true });
    await runCommand(['ip', 'netns', 'delete', EVENTS_NAMESPACE]);
  }
}

/** One run of a feed with the CPU time it used, in milliseconds (null when it exited early). */
interface Measured extends FeedRun {
  /** Wall time of the churn that ran while this feed watched. */
  churnMs: number;
  /** The feed's processes together. */
  cpuMs: number | null;
  /** The part of cpuMs used by its descendants (the relay of watch and of the Subscription worker). */
  descendantCpuMs: number | null;
  /** Program names of its descendants: the relay, "perl" or "node". */
  descendantPrograms: string[];
}

function withCpuMs(result: FeedRoundResult, ticksPerSecond: number): Measured {
  const toMs = (ticks: number): number => (ticks / ticksPerSecond) * 1000;
  const cpu = result.cpuTicks;
  return {
    ...result.run,
    churnMs: result.churnMs,
    descendantPrograms: result.descendantPrograms,
    cpuMs: cpu === null ? null : toMs(cpu.own + cpu.descendants),
    descendantCpuMs: cpu === null ? null : toMs(cpu.descendants),
  };
}

function describeRun(feed: Feed, run: Measured, changes: number): string {
  const cpu = run.cpuMs === null ? '' : `, CPU ${Math.round(run.cpuMs)} ms`;
  const relay = run.descendantPrograms.length === 0 ? '' : ` (relay: ${run.descendantPrograms.join(', ')})`;
  const ended = run.endedEarly === undefined ? '' : `; ended early: ${run.endedEarly}`;
  return `${feed.label}${relay}: ${run.delivered} of ${changes} events in ${Math.round(run.spanMs)} ms, ${run.overruns} overruns${cpu}; churn ${Math.round(run.churnMs)} ms${ended}`;
}

/** Events per second from the first churn event to the last; 0 when fewer than two arrived. */
function eventRate(run: FeedRun): number {
  return run.delivered < 2 || run.spanMs <= 0 ? 0 : (run.delivered / run.spanMs) * 1000;
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** The comparisons of the report: ours first, then the peer. */
type Pair = [FeedName, FeedName];

const RATE_PAIRS: Pair[] = [
  ['watch', 'ip-monitor'],
  ['watch', 'pyroute2'],
  ['subscription', 'watch'],
  ['subscription', 'ip-monitor'],
];
const CPU_PAIRS: Pair[] = [
  ['watch', 'ip-monitor'],
  ['watch', 'pyroute2'],
  ['subscription', 'watch'],
];
const LOSS_PAIRS: Pair[] = [
  ['watch', 'ip-monitor'],
  ['watch', 'pyroute2'],
  ['subscription', 'ip-monitor'],
];

const LABELS: Record<FeedName, string> = {
  watch: WATCH_FEED.label,
  subscription: `${SUBSCRIPTION_FEED.label} (no printing)`,
  'ip-monitor': IP_MONITOR_FEED.label,
  pyroute2: PYROUTE2_FEED.label,
};

function eventResults(changes: number, runs: Map<FeedName, Measured[]>, pyroute2Skip: string | null): ReportEntry[] {
  const of = (name: FeedName): Measured[] => runs.get(name) ?? [];
  const rate = (name: FeedName): number => median(of(name).map(eventRate));
  const fraction = (name: FeedName): number => median(of(name).map((run) => run.delivered / changes));
  const overruns = (name: FeedName): number => mean(of(name).map((run) => run.overruns));
  const cpuPerThousand = (name: FeedName, part: 'cpuMs' | 'descendantCpuMs' = 'cpuMs'): number => {
    const perRun = of(name).flatMap((run) => {
      const cpuMs = run[part];
      return cpuMs === null || run.delivered === 0 ? [] : [(cpuMs / run.delivered) * 1000];
    });
    return perRun.length === 0 ? Number.NaN : median(perRun);
  };
  const changesText = changes.toLocaleString('en-US');
  const title = (metric: string, [ours, peer]: Pair): string => `${metric}, ${changesText} route changes: ${LABELS[ours]} vs ${LABELS[peer]}`;
  const skipped = ([, peer]: Pair): boolean => peer === 'pyroute2' && pyroute2Skip !== null;

  const entries: ReportEntry[] = [];
  for (const pair of RATE_PAIRS) {
    if (skipped(pair)) {
      entries.push({ name: title('events/s', pair), skipped: pyroute2Skip ?? '' });
      continue;
    }
    const first = entries.length === 0;
    const note = first ? rateNote(changes, runs) : endedNote(pair, runs);
    entries.push(compare(title('events/s', pair), rate(pair[0]), rate(pair[1]), 'events/s', { better: 'higher', ...(note === undefined ? {} : { note }) }));
  }
  for (const pair of CPU_PAIRS) {
    if (skipped(pair)) continue;
    const result = compare(title('CPU per 1,000 events', pair), cpuPerThousand(pair[0]), cpuPerThousand(pair[1]), 'ms', { better: 'lower' });
    if (pair === CPU_PAIRS[0]) result.note = CPU_NOTE;
    if (pair[0] === 'subscription') {
      const relay = (name: FeedName): string => cpuPerThousand(name, 'descendantCpuMs').toFixed(1);
      result.note = `of which the relay used ${relay('subscription')} ms (Subscription) and ${relay('watch')} ms (watch --json)`;
    }
    entries.push(result);
  }
  for (const pair of LOSS_PAIRS) {
    if (skipped(pair)) continue;
    entries.push(compare(title('delivered fraction', pair), fraction(pair[0]), fraction(pair[1]), `of ${changesText}`, { better: 'higher', note: lowestNote(pair, changes, runs) }));
  }
  for (const pair of LOSS_PAIRS) {
    if (skipped(pair)) continue;
    const result = compare(title('overruns per run', pair), overruns(pair[0]), overruns(pair[1]), 'overruns', { better: 'lower' });
    // 0/0 would read as infinitely worse; two feeds without an overrun are equal.
    if (result.ours === 0 && result.peer === 0) result.ratio = 1;
    const notes = pair === LOSS_PAIRS[0] ? ['mean over the rounds, because a median would hide a rare overrun; ratio 1 where neither had one'] : [];
    const lost = lostPerOverrun(pair, changes, runs);
    if (lost !== undefined) notes.push(lost);
    if (notes.length > 0) result.note = notes.join('; ');
    entries.push(result);
  }
  return entries;
}

const CPU_NOTE =
  'user and system time of the feed from the moment it reported the marker route until it was stopped, from /proc/PID/stat ' +
  '(in clock ticks, usually 10 ms), divided by the events it delivered, median over the rounds; watch and the Subscription worker include their relay';

/**
 * Returns the note of the first row: how the rate is measured, and the churn's rate while
 * each feed ran. A feed that keeps up delivers at the churn's rate and no faster. On a busy
 * machine, the CPU a feed uses also slows the churn beside it.
 */
function rateNote(changes: number, runs: Map<FeedName, Measured[]>): string {
  const churnRates = [...runs].map(([name, list]) => `${LABELS[name]} ${Math.round((changes / median(list.map((run) => run.churnMs))) * 1000).toLocaleString('en-US')}`);
  const ended = endedNote(['watch', 'ip-monitor'], runs);
  const relays = (['watch', 'subscription'] as const).map((name) => `${LABELS[name]} ${relayPrograms(runs.get(name) ?? [])}`);
  return (
    `relay program (set ALGO_NETNS_RELAY to choose): ${relays.join(', ')}; ` +
    `events delivered divided by the time from the first churn event to the last, median of ${runs.get('watch')?.length ?? 0} rounds; ` +
    'the benchmark timestamps the lines of watch and ip monitor as they arrive, and the Subscription worker and pyroute2 time themselves; ' +
    `a feed cannot deliver faster than the churn (one ip -batch, spawn to exit), which made a median of (changes/s) ${churnRates.join(', ')} in the runs of each feed` +
    (ended === undefined ? '' : `; ${ended}`)
  );
}

/**
 * Returns how many events each side lost per overrun over all its runs, for the sides that
 * had one, or undefined when neither had one. ENOBUFS does not say how many notifications the
 * kernel dropped, so the events missing at the end are what the overruns cost.
 */
function lostPerOverrun(pair: Pair, changes: number, runs: Map<FeedName, Measured[]>): string | undefined {
  const parts: string[] = [];
  for (const name of pair) {
    const list = runs.get(name) ?? [];
    const overruns = list.reduce((sum, run) => sum + run.overruns, 0);
    const lost = list.reduce((sum, run) => sum + changes - run.delivered, 0);
    if (overruns > 0) parts.push(`${LABELS[name]} ${Math.round(lost / overruns).toLocaleString('en-US')}`);
  }
  return parts.length === 0 ? undefined : `events lost per overrun, over all rounds: ${parts.join(', ')}`;
}

/** Returns the relay programs a feed's runs used, such as "perl", or "none seen". */
function relayPrograms(runs: readonly Measured[]): string {
  const programs = new Set(runs.flatMap((run) => run.descendantPrograms));
  return programs.size === 0 ? 'none seen' : [...programs].sort().join(' and ');
}

/** Says which of the two feeds ended before it was stopped, and why; undefined when neither did. */
function endedNote(pair: Pair, runs: Map<FeedName, Measured[]>): string | undefined {
  const parts: string[] = [];
  for (const name of pair) {
    const ended = (runs.get(name) ?? []).filter((run) => run.endedEarly !== undefined);
    if (ended.length > 0) parts.push(`${LABELS[name]} ended early in ${ended.length} run(s): ${ended[0]?.endedEarly ?? ''}`);
  }
  return parts.length === 0 ? undefined : parts.join('; ');
}

/** Names the worst run of each side, which a median hides, and any early end. */
function lowestNote(pair: Pair, changes: number, runs: Map<FeedName, Measured[]>): string {
  const lowest = (name: FeedName): string => Math.min(...(runs.get(name) ?? []).map((run) => run.delivered)).toLocaleString('en-US');
  const ended = endedNote(pair, runs);
  return (
    `median over the rounds; the lowest run delivered ${lowest(pair[0])} (${LABELS[pair[0]]}) and ${lowest(pair[1])} (${LABELS[pair[1]]}) of ${changes.toLocaleString('en-US')}` +
    (ended === undefined ? '' : `; ${ended}`)
  );
}
