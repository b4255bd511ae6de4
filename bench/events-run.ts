/**
 * One run of one feed in the events benchmark. The feed starts, and the marker route is
 * added and deleted until the feed reports it. Then the churn runs. Once the feed has
 * delivered every churn event or has gone quiet, it and its descendants are stopped by pid.
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Feed, FeedReader, FeedRun } from './events-feeds.js';
import { cpuTicksOf, programName, type CpuTicks, type Exit, type TrackedChild, type TrackedProcesses } from './events-processes.js';
import { EVENTS_DEVICE, EVENTS_NAMESPACE, MARKER_DESTINATION } from './events-protocol.js';
import { runCommand } from './measure.js';

/** Time a feed gets from its start to report the marker route, which includes starting Node or Python and a relay. */
const LIVE_TIMEOUT_MS = 30_000;

/** Pause between two changes of the marker route while the feed starts. */
const MARKER_INTERVAL_MS = 100;

/**
 * Once the churn has ended, a feed that has delivered nothing more for this long is
 * stopped: the events it has not delivered by then were lost (an overrun). NOTE: 5 s is
 * an estimate, not a measured bound, of the time the snapshot after an overrun of ours
 * takes under load. It dumps up to N routes, and the Subscription holds back the events
 * that arrive meanwhile.
 */
const QUIET_MS = 5_000;

/** Maximum time a feed may take to deliver a backlog after the churn, however steadily it delivers. */
const MAX_DRAIN_MS = 5 * 60_000;

/** Time one churn run may take. */
const CHURN_TIMEOUT_MS = 10 * 60_000;

/** How often the runner checks the feed's count. */
const POLL_MS = 20;

/** Characters of a feed's stderr kept for error messages. */
const STDERR_TAIL = 2000;

/** The changes made while a feed runs: one `ip -batch` file that adds then deletes N routes. */
export interface Churn {
  batchFile: string;
  /** Events the churn causes: two per route. */
  changes: number;
}

export interface FeedRoundResult {
  run: FeedRun;
  /** Wall time of the churn's `ip -batch`, spawn to exit. */
  churnMs: number;
  /**
   * CPU time the feed and its descendants used from the moment it reported the marker
   * until it was stopped, or null when it had exited by then. A relay that failed and was
   * replaced in between counts in `own`, because the feed's process waited for it.
   */
  cpuTicks: CpuTicks | null;
  /** Program names of the feed's descendants once it was live: its relay, "perl" or "node". */
  descendantPrograms: string[];
}

/** Runs one feed through one churn and returns what it delivered. */
export async function runFeed(feed: Feed, churn: Churn, processes: TrackedProcesses): Promise<FeedRoundResult> {
  const reader = feed.reader();
  const tracked = processes.spawn(feed.argv(churn.changes));
  let stderrTail = '';
  forEachLine(tracked.child.stdout, (line) => reader.stdoutLine(line, performance.now()));
  forEachLine(tracked.child.stderr, (line) => {
    stderrTail = `${stderrTail}${line}\n`.slice(-STDERR_TAIL);
    reader.stderrLine(line, performance.now());
  });

  try {
    await waitUntilLive(feed, tracked, reader, () => stderrTail);
    // The feed's relays exist by now; noting them lets stop() end them even if the feed dies.
    processes.noteDescendants(tracked);
    const descendantPrograms = [...tracked.descendants.keys()].flatMap((pid) => programName(pid) ?? []);
    const cpuAtStart = cpuTicksOf(tracked.pid);

    const churnMs = await runChurn(churn, processes);
    await waitForEvents(reader, tracked, churn.changes, performance.now());

    const exitBeforeStop = tracked.exit;
    let cpuTicks: CpuTicks | null = null;
    if (exitBeforeStop === null) {
      const cpuAtEnd = cpuTicksOf(tracked.pid);
      cpuTicks = { own: cpuAtEnd.own - cpuAtStart.own, descendants: cpuAtEnd.descendants - cpuAtStart.descendants };
    }
    await processes.stop(tracked);
    let run: FeedRun;
    try {
      run = reader.finish();
    } catch (error) {
      throw new Error(`${feed.label} ${describeExit(tracked.exit ?? { code: null, signal: null })}: ${(error as Error).message}; its stderr ends: ${stderrTail.trim()}`, { cause: error });
    }
    if (exitBeforeStop !== null) run.endedEarly ??= `${describeExit(exitBeforeStop)}: ${lastLine(stderrTail)}`;
    return { run, churnMs, cpuTicks, descendantPrograms };
  } finally {
    await processes.stop(tracked);
  }
}

/** Adds and deletes the marker route until the feed reports it. */
async function waitUntilLive(feed: Feed, tracked: TrackedChild, reader: FeedReader, stderr: () => string): Promise<void> {
  const deadline = performance.now() + LIVE_TIMEOUT_MS;
  const inside = ['ip', '-n', EVENTS_NAMESPACE, 'route'];
  const marker = [`${MARKER_DESTINATION}/32`, 'dev', EVENTS_DEVICE];
  while (!reader.live) {
    if (tracked.exit !== null) throw new Error(`${feed.label} ${describeExit(tracked.exit)} before it reported the marker route: ${stderr().trim()}`);
    if (performance.now() > deadline) throw new Error(`${feed.label} did not report the marker route ${MARKER_DESTINATION} within ${LIVE_TIMEOUT_MS / 1000} s: ${stderr().trim()}`);
    await runCommand([...inside, 'replace', ...marker]);
    await runCommand([...inside, 'del', ...marker]);
    await sleep(MARKER_INTERVAL_MS);
  }
}

/** Runs the churn as a tracked process and returns its wall time. Throws unless it exits 0. */
async function runChurn(churn: Churn, processes: TrackedProcesses): Promise<number> {
  const started = performance.now();
  const tracked = processes.spawn(['ip', '-n', EVENTS_NAMESPACE, '-batch', churn.batchFile]);
  let stderr = '';
  tracked.child.stderr.setEncoding('utf8');
  tracked.child.stderr.on('data', (chunk: string) => (stderr = `${stderr}${chunk}`.slice(-STDERR_TAIL)));
  tracked.child.stdout.resume();

  const timer = setTimeout(() => void processes.stop(tracked), CHURN_TIMEOUT_MS);
  const exit = await tracked.exited;
  clearTimeout(timer);
  const churnMs = performance.now() - started;
  await processes.stop(tracked);
  if (exit.code !== 0) throw new Error(`the churn (ip -batch ${churn.batchFile}) ${describeExit(exit)}: ${stderr.trim()}`);
  return churnMs;
}

/**
 * Waits until the feed has counted every churn event, has exited, or has delivered
 * nothing for QUIET_MS since the churn ended.
 */
async function waitForEvents(reader: FeedReader, tracked: TrackedChild, expected: number, churnEnded: number): Promise<void> {
  while (reader.counted < expected && tracked.exit === null) {
    const now = performance.now();
    if (now - Math.max(reader.lastEventAt ?? 0, churnEnded) >= QUIET_MS) return;
    if (now - churnEnded >= MAX_DRAIN_MS) return;
    await sleep(POLL_MS);
  }
}

/**
 * Calls onLine for each line of the stream. A line that spans many chunks (a snapshot
 * line of `watch` contains every route) is joined once, not once per chunk.
 */
function forEachLine(stream: Readable, onLine: (line: string) => void): void {
  const parts: string[] = [];
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline !== -1; newline = chunk.indexOf('\n', start)) {
      parts.push(chunk.slice(start, newline));
      onLine(parts.join(''));
      parts.length = 0;
      start = newline + 1;
    }
    if (start < chunk.length) parts.push(chunk.slice(start));
  });
  stream.on('end', () => {
    if (parts.length > 0) onLine(parts.join(''));
  });
}

function describeExit(exit: Exit): string {
  if (exit.signal !== null) return `was killed by ${exit.signal}`;
  if (exit.code === null) return 'could not start';
  return `exited with code ${exit.code}`;
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
