/**
 * The four feeds the events benchmark compares, each a process of its own, and how their
 * output is read. `watch --json` and `ip monitor route` print a line per event, which this
 * process counts and timestamps as the lines arrive. The library worker and the pyroute2
 * script count by themselves and report as events-protocol.ts describes.
 */
import { fileURLToPath } from 'node:url';

import { SYSTEM_PYTHON } from './measure.js';
import { CHURN_PREFIX, EVENTS_NAMESPACE, MARKER_DESTINATION, type FeedSummary } from './events-protocol.js';

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const WORKER = fileURLToPath(new URL('./events-worker.js', import.meta.url));
const PYROUTE2_SCRIPT = fileURLToPath(new URL('../../bench/scripts/events-pyroute2.py', import.meta.url));

/** Text of the iproute2 error line for a recvmsg() that failed with ENOBUFS, after which `ip monitor` reads on. */
const IP_OVERRUN_TEXT = 'No buffer space available';

export type FeedName = 'watch' | 'subscription' | 'ip-monitor' | 'pyroute2';

/** One run of a feed: how much of the churn it delivered, how fast, and its overruns. */
export interface FeedRun {
  /** Churn events delivered: routes reported as added plus routes reported as deleted. */
  delivered: number;
  overruns: number;
  /** From the first churn event to the last, in milliseconds. */
  spanMs: number;
  /** Reason the feed ended before it was stopped, if it did. */
  endedEarly?: string;
}

/** Reads the output lines of one run of a feed. */
export interface FeedReader {
  stdoutLine(line: string, now: number): void;
  stderrLine(line: string, now: number): void;
  /** Whether the feed has reported a change of the marker route. */
  readonly live: boolean;
  /** Churn events counted so far; a worker's count as of its last progress line. */
  readonly counted: number;
  /** When the last churn event or progress line arrived (performance.now()), or null before any. */
  readonly lastEventAt: number | null;
  /** Returns the run's figures once the process has exited and its output is read. */
  finish(): FeedRun;
}

export interface Feed {
  name: FeedName;
  /** Name in progress lines and rows. */
  label: string;
  /** The command, given the number of churn events to expect. */
  argv(expected: number): string[];
  reader(): FeedReader;
}

type LineKind = 'new' | 'del' | 'marker' | 'overrun' | null;

/** Counts the event lines of a feed that prints one line per event, with this process's clock. */
class LineCounter implements FeedReader {
  live = false;
  counted = 0;
  lastEventAt: number | null = null;
  private firstEventAt: number | null = null;
  private overruns = 0;

  constructor(
    private readonly classifyStdout: (line: string) => LineKind,
    private readonly classifyStderr: (line: string) => LineKind,
  ) {}

  stdoutLine(line: string, now: number): void {
    this.count(this.classifyStdout(line), now);
  }

  stderrLine(line: string, now: number): void {
    this.count(this.classifyStderr(line), now);
  }

  private count(kind: LineKind, now: number): void {
    if (kind === 'marker') this.live = true;
    else if (kind === 'overrun') this.overruns++;
    else if (kind !== null) {
      this.counted++;
      this.firstEventAt ??= now;
      this.lastEventAt = now;
    }
  }

  finish(): FeedRun {
    const spanMs = this.firstEventAt === null || this.lastEventAt === null ? 0 : this.lastEventAt - this.firstEventAt;
    return { delivered: this.counted, overruns: this.overruns, spanMs };
  }
}

/** Reads a worker's marker, progress and summary lines (events-protocol.ts). */
class WorkerReader implements FeedReader {
  live = false;
  counted = 0;
  lastEventAt: number | null = null;
  private summary: FeedSummary | null = null;

  constructor(private readonly label: string) {}

  stdoutLine(line: string, now: number): void {
    if (line === 'marker') {
      this.live = true;
    } else if (line.startsWith('progress ')) {
      this.counted = Number(line.slice('progress '.length));
      this.lastEventAt = now;
    } else if (line.startsWith('{')) {
      this.summary = JSON.parse(line) as FeedSummary;
    }
  }

  stderrLine(): void {
    // The runner keeps the end of stderr for error messages.
  }

  finish(): FeedRun {
    if (this.summary === null) throw new Error(`${this.label} printed no summary line`);
    const run: FeedRun = { delivered: this.summary.newEvents + this.summary.delEvents, overruns: this.summary.overruns, spanMs: this.summary.spanMs };
    if (this.summary.error !== undefined) run.endedEarly = this.summary.error;
    return run;
  }
}

/** Classifies a route change by its destination: the marker, a churn route, or neither. */
function classifyDestination(destination: string, deleted: boolean): LineKind {
  if (destination === MARKER_DESTINATION) return 'marker';
  if (!destination.startsWith(CHURN_PREFIX)) return null;
  return deleted ? 'del' : 'new';
}

/** The start of each `watch --json` line: {"namespace":…,"event":"route",… */
const WATCH_EVENT = /^\{"namespace":(?:null|"[^"]*"),"event":"(\w+)"/;
const WATCH_DESTINATION = '"dst":"';

/** Classifies a line of `watch --json`; snapshot lines and the other families count as nothing. */
export function classifyWatchLine(line: string): LineKind {
  const event = WATCH_EVENT.exec(line)?.[1];
  if (event === 'overrun') return 'overrun';
  if (event !== 'route') return null;
  const start = line.indexOf(WATCH_DESTINATION);
  if (start === -1) return null;
  const from = start + WATCH_DESTINATION.length;
  return classifyDestination(line.slice(from, line.indexOf('"', from)), line.includes('"change":"del"'));
}

/**
 * Classifies a line of `ip monitor route`. A unicast route prints as "10.0.0.1 dev e0 …",
 * and its deletion as "Deleted 10.0.0.1 dev e0 …" (iproute2 6.1).
 */
export function classifyIpMonitorLine(line: string): LineKind {
  const deleted = line.startsWith('Deleted ');
  const route = deleted ? line.slice('Deleted '.length) : line;
  const end = route.indexOf(' ');
  return classifyDestination(end === -1 ? route : route.slice(0, end), deleted);
}

export const WATCH_FEED: Feed = {
  name: 'watch',
  label: 'watch --json',
  argv: () => [process.execPath, CLI, 'watch', '--namespace', EVENTS_NAMESPACE, '--json'],
  reader: () => new LineCounter(classifyWatchLine, () => null),
};

export const SUBSCRIPTION_FEED: Feed = {
  name: 'subscription',
  label: 'Subscription',
  argv: (expected) => [process.execPath, WORKER, EVENTS_NAMESPACE, String(expected)],
  reader: () => new WorkerReader('the Subscription worker'),
};

export const IP_MONITOR_FEED: Feed = {
  name: 'ip-monitor',
  label: 'ip monitor route',
  argv: () => ['ip', '-n', EVENTS_NAMESPACE, 'monitor', 'route'],
  reader: () => new LineCounter(classifyIpMonitorLine, (line) => (line.includes(IP_OVERRUN_TEXT) ? 'overrun' : null)),
};

export const PYROUTE2_FEED: Feed = {
  name: 'pyroute2',
  label: 'pyroute2',
  // nsenter execs the interpreter in place, as setpriv execs nsenter, so the pid the suite tracks is Python's.
  argv: (expected) => ['nsenter', `--net=/run/netns/${EVENTS_NAMESPACE}`, '--', SYSTEM_PYTHON, PYROUTE2_SCRIPT, String(expected), CHURN_PREFIX, MARKER_DESTINATION],
  reader: () => new WorkerReader('the pyroute2 script'),
};

