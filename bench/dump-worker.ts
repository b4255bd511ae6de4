/**
 * One measured route dump, run as a process of its own so that its peak RSS is its own.
 *
 * Usage: node dist/bench/dump-worker.js MODE [NAMESPACE | CAPTURE_FILE]
 * It dumps the IPv4 routes of every table of the namespace it runs in (the suite starts it
 * with nsenter), except `ours-relay`, which reaches NAMESPACE through a relay. It prints one
 * JSON line: the mode, routes decoded, messages, datagrams and bytes received, the dump's
 * time from sending the request to NLMSG_DONE, and peak RSS (VmHWM) of itself and any relay.
 *
 * Modes:
 *   ours          RtnlSession.dumpAll with decodeRoute on openCurrentNamespace (collects all)
 *   ours-stream   RtnlSession.dump with decodeRoute, counting, keeping nothing
 *   ours-relay    like `ours`, through openNamedNamespace(NAMESPACE)
 *   npm           the npm netlink package: parseMessages and rt.parseRouteMessage (collects all)
 *   bare          RawNetlinkSocket with our transport's options; walks message headers only
 *   bare-32k      as bare, reading into a fixed 32 KiB buffer instead of peeking each datagram
 *   capture       as bare, and writes the datagrams to CAPTURE_FILE, each after a u32 length
 *
 * With BENCH_CPU_PROFILE=FILE set, the dump alone (not Node's start-up) is profiled with the
 * inspector's sampling profiler and the profile written to FILE, as `node --cpu-prof` would.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { parseMessages, RawNetlinkSocket, rt as npmRoute, type RawNetlinkSocketOptions } from 'netlink';

import { AF_INET, NETLINK_ROUTE, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP, NLM_F_REQUEST, RTM_GETROUTE, RTM_NEWROUTE } from '../src/netlink/constants.js';
import { encodeMessage } from '../src/netlink/message.js';
import { decodeRoute, encodeRoute, type RouteMessage } from '../src/netlink/route.js';
import { openCurrentNamespace, openNamedNamespace, type NetnsHandle } from '../src/ops/handle.js';
import { DUMP_MODES, type DumpReport } from './dump-report.js';

/** The same request for every mode: all IPv4 routes of every table, like `ip -4 route show table all`. */
const DUMP_BODY = encodeRoute({ family: AF_INET, dstLength: 0, srcLength: 0, tos: 0, table: 0, protocol: 0, scope: 0, type: 0, flags: 0, attributes: {} });

/** The options SocketTransport gives its socket, so that the bare loop reads the way ours does. */
const TRANSPORT_SOCKET_OPTIONS: RawNetlinkSocketOptions = { recvBufferSize: 8 * 1024 * 1024, sendBufferSize: 1024 * 1024 };

/**
 * A route dump datagram is at most SKB_WITH_OVERHEAD(32768) bytes (netlink_recvmsg caps the
 * dump allocation there), so a 32 KiB read fits each one.
 */
const FIXED_READ_BYTES = 32 * 1024;

function peakKiB(pid: number | 'self'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  if (!match?.[1]) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]);
}

async function dumpOurs(mode: 'ours' | 'ours-stream' | 'ours-relay', namespace: string | undefined): Promise<DumpReport> {
  let handle: NetnsHandle;
  if (mode === 'ours-relay') {
    if (namespace === undefined) throw new Error('ours-relay needs the namespace name as its second argument');
    handle = await openNamedNamespace(namespace);
  } else {
    handle = openCurrentNamespace();
  }

  // Count the datagrams and bytes the session receives, without changing its path.
  let datagrams = 0;
  let bytes = 0;
  handle.session.transport.onDatagram((datagram) => {
    datagrams++;
    bytes += datagram.length;
  });

  const started = performance.now();
  let routes = 0;
  if (mode === 'ours-stream') {
    // Reading a decoded field keeps the decode from being optimised away.
    for await (const message of handle.session.dump(RTM_GETROUTE, DUMP_BODY, 'benchmark route dump')) {
      if (decodeRoute(message).family === AF_INET) routes++;
    }
  } else {
    const decoded: RouteMessage[] = await handle.session.dumpAll(RTM_GETROUTE, DUMP_BODY, 'benchmark route dump', decodeRoute);
    routes = decoded.length;
  }
  const dumpMs = performance.now() - started;

  // The dump's messages are the routes and the closing NLMSG_DONE.
  const report: DumpReport = { mode, routes, messages: routes + 1, datagrams, bytes, dumpMs, selfPeakKiB: peakKiB('self') };
  if (mode === 'ours-relay') report.relayPeakKiB = peakKiB(handle.pid);
  await handle.close();
  return report;
}

/**
 * Sends the dump request on a raw socket and hands every datagram to `onDatagram` until one
 * holds NLMSG_DONE. Resolves with the time from send to that datagram.
 */
function rawDump(options: RawNetlinkSocketOptions, onDatagram: (datagram: Buffer) => boolean): Promise<number> {
  const socket = new RawNetlinkSocket(NETLINK_ROUTE, options);
  return new Promise((resolve, reject) => {
    let started = 0;
    socket.on('message', (datagram) => {
      let done: boolean;
      try {
        done = onDatagram(datagram);
      } catch (error) {
        socket.close();
        reject(error as Error);
        return;
      }
      if (done) {
        const elapsed = performance.now() - started;
        socket.close();
        resolve(elapsed);
      }
    });
    socket.on('truncatedMessage', () => {
      socket.close();
      reject(new Error('a dump datagram was truncated'));
    });
    socket.on('error', (error) => {
      socket.close();
      reject(error);
    });
    started = performance.now();
    socket.send(encodeMessage(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 1, DUMP_BODY), {}, (error) => {
      if (error) reject(error);
    });
  });
}

/** Walks the message headers of a datagram; returns the message count and whether NLMSG_DONE was among them. */
function walkHeaders(datagram: Buffer): { messages: number; done: boolean } {
  let offset = 0;
  let messages = 0;
  let done = false;
  while (offset + 16 <= datagram.length) {
    const length = datagram.readUInt32LE(offset);
    const type = datagram.readUInt16LE(offset + 4);
    if (type === NLMSG_ERROR) throw new Error(`the kernel rejected the dump (NLMSG_ERROR at offset ${offset})`);
    if (type === NLMSG_DONE) done = true;
    messages++;
    if (length < 16) throw new Error(`message at offset ${offset} claims ${length} bytes`);
    offset += (length + 3) & ~3;
  }
  return { messages, done };
}

async function dumpBare(mode: 'bare' | 'bare-32k' | 'capture', captureFile: string | undefined): Promise<DumpReport> {
  const options = mode === 'bare-32k' ? { ...TRANSPORT_SOCKET_OPTIONS, messagePeeking: false, msgBufferSize: FIXED_READ_BYTES } : TRANSPORT_SOCKET_OPTIONS;
  const captured: Buffer[] = [];
  let datagrams = 0;
  let bytes = 0;
  let messages = 0;
  const dumpMs = await rawDump(options, (datagram) => {
    datagrams++;
    bytes += datagram.length;
    if (mode === 'capture') captured.push(datagram);
    const walked = walkHeaders(datagram);
    messages += walked.messages;
    return walked.done;
  });
  const selfPeakKiB = peakKiB('self');

  if (mode === 'capture') {
    if (captureFile === undefined) throw new Error('capture needs the output file as its second argument');
    const framed: Buffer[] = [];
    for (const datagram of captured) {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(datagram.length, 0);
      framed.push(length, datagram);
    }
    await writeFile(captureFile, Buffer.concat(framed));
  }
  // Every message but the final NLMSG_DONE is a route.
  return { mode, routes: messages - 1, messages, datagrams, bytes, dumpMs, selfPeakKiB };
}

async function dumpNpm(): Promise<DumpReport> {
  const decoded: unknown[] = [];
  let datagrams = 0;
  let bytes = 0;
  let messages = 0;
  const dumpMs = await rawDump(TRANSPORT_SOCKET_OPTIONS, (datagram) => {
    datagrams++;
    bytes += datagram.length;
    let done = false;
    for (const message of parseMessages(datagram)) {
      messages++;
      if (message.type === RTM_NEWROUTE) decoded.push(npmRoute.parseRouteMessage(message.data));
      else if (message.type === NLMSG_DONE) done = true;
      else if (message.type === NLMSG_ERROR) throw new Error('the kernel rejected the dump');
    }
    return done;
  });
  return { mode: 'npm', routes: decoded.length, messages, datagrams, bytes, dumpMs, selfPeakKiB: peakKiB('self') };
}

/** Variable naming the file that receives a CPU profile of the dump. */
const PROFILE_VARIABLE = 'BENCH_CPU_PROFILE';

/** Sampling interval of the profiler, in microseconds; V8's default of 1000 misses short functions. */
const PROFILE_INTERVAL_US = 100;

async function profiled<T>(path: string | undefined, run: () => Promise<T>): Promise<T> {
  if (path === undefined) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: PROFILE_INTERVAL_US });
  await session.post('Profiler.start');
  const result = await run();
  const { profile } = await session.post('Profiler.stop');
  await writeFile(path, JSON.stringify(profile));
  session.disconnect();
  return result;
}

async function main(): Promise<void> {
  const [mode, argument] = process.argv.slice(2);
  const report = await profiled(process.env[PROFILE_VARIABLE], () => dump(mode, argument));
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function dump(mode: string | undefined, argument: string | undefined): Promise<DumpReport> {
  let report: DumpReport;
  switch (mode) {
    case 'ours':
    case 'ours-stream':
    case 'ours-relay':
      report = await dumpOurs(mode, argument);
      break;
    case 'npm':
      report = await dumpNpm();
      break;
    case 'bare':
    case 'bare-32k':
    case 'capture':
      report = await dumpBare(mode, argument);
      break;
    default:
      throw new Error(`unknown mode ${JSON.stringify(mode)}: expected one of ${DUMP_MODES.join(', ')}`);
  }
  return report;
}

await main();
