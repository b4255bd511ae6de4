/**
 * Decodes captured route dump datagrams in memory, over and over: the measured process of
 * benchmark 2. No socket is involved.
 *
 * Usage: node dist/bench/decode-worker.js ours|npm CAPTURE_FILE PASSES
 * CAPTURE_FILE contains datagrams, each after a u32 little-endian length (dump-worker.js
 * capture). Every pass splits each datagram into messages and decodes every route message
 * into a new array, as a dump that collects its results does. Prints one JSON line: the
 * route messages and bytes of one pass and the time of each pass in milliseconds.
 */
import { readFileSync } from 'node:fs';
import { parseMessages, rt as npmRoute } from 'netlink';

import { RTM_NEWROUTE } from '../src/netlink/constants.js';
import { splitDatagram } from '../src/netlink/message.js';
import { decodeRoute } from '../src/netlink/route.js';

export interface DecodeReport {
  decoder: 'ours' | 'npm';
  messages: number;
  bytes: number;
  passMs: number[];
}

function readCapture(path: string): Buffer[] {
  const file = readFileSync(path);
  const datagrams: Buffer[] = [];
  for (let offset = 0; offset + 4 <= file.length; ) {
    const length = file.readUInt32LE(offset);
    datagrams.push(file.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  return datagrams;
}

function decodeOurs(datagrams: readonly Buffer[]): unknown[] {
  const routes: unknown[] = [];
  for (const datagram of datagrams) {
    for (const message of splitDatagram(datagram)) if (message.type === RTM_NEWROUTE) routes.push(decodeRoute(message));
  }
  return routes;
}

function decodeNpm(datagrams: readonly Buffer[]): unknown[] {
  const routes: unknown[] = [];
  for (const datagram of datagrams) {
    for (const message of parseMessages(datagram)) if (message.type === RTM_NEWROUTE) routes.push(npmRoute.parseRouteMessage(message.data));
  }
  return routes;
}

function main(): void {
  const [decoder, path, passesText] = process.argv.slice(2);
  const passes = Number(passesText);
  if ((decoder !== 'ours' && decoder !== 'npm') || path === undefined || !Number.isInteger(passes) || passes < 1) {
    throw new Error(`usage: decode-worker.js ours|npm CAPTURE_FILE PASSES; got ${process.argv.slice(2).join(' ')}`);
  }

  const datagrams = readCapture(path);
  const decode = decoder === 'ours' ? decodeOurs : decodeNpm;
  const passMs: number[] = [];
  let messages = 0;
  for (let pass = 0; pass < passes; pass++) {
    const started = performance.now();
    messages = decode(datagrams).length;
    passMs.push(performance.now() - started);
  }

  const bytes = datagrams.reduce((sum, datagram) => sum + datagram.length, 0);
  const report: DecodeReport = { decoder, messages, bytes, passMs };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main();
