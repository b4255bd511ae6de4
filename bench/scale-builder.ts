/**
 * Builds N service namespaces with the library's idempotent operations: the "ours" side of
 * the scale benchmark, and the same work as bench/scripts/scale-ip.sh. Namespace svc-I gets
 * lo up, a veth pair vb-I / uplink with a /30 from 100.64.0.0/10, a default route to the root
 * side, and the root namespace a route to 10.(200 + I/256).(I%256).0/24 through it.
 *
 * Usage: node dist/bench/scale-builder.js N [CONCURRENCY]
 * Builds CONCURRENCY namespaces at a time (default 1, one after another as the script does).
 * Within one namespace, steps that do not depend on each other run at the same time.
 * Prints one JSON line: the build time without Node's start-up, the time of each namespace,
 * the peak RSS of this process and of the largest relay, and how many operations were
 * repeated after an interrupted dump.
 */
import { readFileSync } from 'node:fs';

import { DumpInterruptedError } from '../src/netlink/errors.js';
import { ensureAddress } from '../src/ops/addresses.js';
import { openCurrentNamespace, openNamedNamespace, type NetnsHandle } from '../src/ops/handle.js';
import { ensureLinkUp, ensureVethPair } from '../src/ops/links.js';
import { createNamespace, namespaceExists } from '../src/ops/netns.js';
import { ensureRoute } from '../src/ops/routes.js';

/** The builder's output line. */
export interface ScaleReport {
  namespaces: number;
  concurrency: number;
  buildMs: number;
  /** Time of each namespace from its creation to its last route, in build order. */
  namespaceMs: number[];
  selfPeakKiB: number;
  relayPeakKiB: number;
  /** Operations repeated because a dump they made was interrupted (see retryInterrupted). */
  interruptedRetries: number;
}

/** Times one operation is tried when its dump keeps being interrupted. */
const MAX_TRIES = 5;

let interruptedRetries = 0;

/**
 * Runs an idempotent operation again when a dump inside it was interrupted. The ensure*
 * operations dump a whole table and do not retry themselves. With hundreds of veths the
 * root namespace's tables also change without us, probably as IPv6 link-local addresses
 * finish duplicate address detection, and concurrent builds change them for each other.
 * The retries are counted and reported, so that the figures show how often this happened.
 */
async function retryInterrupted<T>(operation: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      if (!(error instanceof DumpInterruptedError) || attempt >= MAX_TRIES) throw error;
      interruptedRetries++;
    }
  }
}

/** Returns the addresses of namespace `index`, as scale-ip.sh's plan() computes them. */
export function scalePlan(index: number): { host: string; peer: string; pool: string } {
  const base = index * 4;
  const third = Math.floor(base / 256);
  const fourth = base % 256;
  return {
    host: `100.64.${third}.${fourth + 1}`,
    peer: `100.64.${third}.${fourth + 2}`,
    pool: `10.${200 + Math.floor(index / 256)}.${index % 256}.0/24`,
  };
}

function peakKiB(pid: number | 'self'): number {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0);
}

/**
 * Builds namespace `index`; returns the peak RSS of its relay and the closing of the relay,
 * which the caller awaits later. Steps that do not depend on each other run together, as
 * `up` runs them: the two ends of the veth pair get their addresses at the same time, for example.
 * The addresses come before the links go up, and both before the routes, whose gateways
 * must be reachable over a link that is up.
 */
async function buildNamespace(root: NetnsHandle, index: number): Promise<{ relayPeakKiB: number; closed: Promise<void> }> {
  const name = `svc-${index}`;
  const hostLink = `vb-${index}`;
  const plan = scalePlan(index);

  if (!(await namespaceExists(name))) await createNamespace(name);
  const ns = await openNamedNamespace(name);
  try {
    await Promise.all([
      retryInterrupted(() => ensureLinkUp(ns, 'lo')),
      retryInterrupted(() => ensureVethPair(root, ns, { name: hostLink, peerName: 'uplink' })),
    ]);
    await Promise.all([
      retryInterrupted(() => ensureAddress(root, hostLink, `${plan.host}/30`)),
      retryInterrupted(() => ensureAddress(ns, 'uplink', `${plan.peer}/30`)),
    ]);
    await Promise.all([retryInterrupted(() => ensureLinkUp(root, hostLink)), retryInterrupted(() => ensureLinkUp(ns, 'uplink'))]);
    await Promise.all([
      retryInterrupted(() => ensureRoute(ns, { destination: 'default', family: 4, gateway: plan.host, device: 'uplink' })),
      retryInterrupted(() => ensureRoute(root, { destination: plan.pool, gateway: plan.peer, device: hostLink })),
    ]);
    return { relayPeakKiB: peakKiB(ns.pid), closed: ns.close() };
  } catch (error) {
    await ns.close();
    throw error;
  }
}

async function main(): Promise<void> {
  const count = Number(process.argv[2]);
  const concurrency = Number(process.argv[3] ?? 1);
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(concurrency) || concurrency < 1) {
    throw new Error(`usage: scale-builder.js N [CONCURRENCY], with positive integers; got ${process.argv.slice(2).join(' ')}`);
  }

  const root = openCurrentNamespace();
  const namespaceMs = new Array<number>(count).fill(0);
  let relayPeakKiB = 0;
  let next = 0;
  const started = performance.now();
  // A relay that is done exits while the next namespace is built; the closes are awaited at the end.
  const closing: Promise<void>[] = [];
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      const namespaceStarted = performance.now();
      const built = await buildNamespace(root, index);
      namespaceMs[index] = performance.now() - namespaceStarted;
      relayPeakKiB = Math.max(relayPeakKiB, built.relayPeakKiB);
      closing.push(built.closed);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
    await Promise.all(closing);
  } finally {
    await root.close();
  }
  const buildMs = performance.now() - started;

  const report: ScaleReport = { namespaces: count, concurrency, buildMs, namespaceMs, selfPeakKiB: peakKiB('self'), relayPeakKiB, interruptedRetries };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

await main();
