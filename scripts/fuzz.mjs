#!/usr/bin/env node
/**
 * Fuzzes the netlink decoders with hostile bytes, by default a million inputs.
 *
 * Inputs are the real kernel replies of test/fixtures/netlink, the iproute2 requests of
 * test/fixtures/wire and random valid messages built from the attribute tables, each mutated
 * one to three times, plus random bytes with and without a plausible header. Every input goes
 * through splitDatagram and every decoder (helpers/hostile.ts): a decoder must return a result
 * bounded by the input's size and made of views of it, or raise a DecodeError whose offset
 * lies inside the input. Any other outcome, or an input that runs for more than 10 seconds,
 * is a failure, printed in hex with the seed and round.
 *
 * Usage, after `npm run build`:
 *
 *   node scripts/fuzz.mjs [--count N] [--seed S]
 *
 * The same seed and count give the same inputs. Exit code 0 when every input passed, 1 otherwise.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const ROOT = new URL('../', import.meta.url);
const HANG_LIMIT_MS = 10_000;
const PROGRESS_EVERY = 50_000;
const MAX_INPUT = 1 << 20;
const MAX_REPORTED_FAILURES = 10;

if (isMainThread) await main();
else await fuzz(workerData);

async function main() {
  const { values } = parseArgs({ options: { count: { type: 'string' }, seed: { type: 'string' } } });
  const count = values.count === undefined ? 1_000_000 : Number(values.count);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 0x1_0000_0000) : Number(values.seed);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${values.count}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new Error(`--seed must be an integer from 0 to 4294967295, got ${values.seed}`);

  // The worker writes its round and the input under test here before each check, so a hang
  // can be reported with its input although the worker never posts a message again.
  const shared = new SharedArrayBuffer(8 + MAX_INPUT);
  const state = new Int32Array(shared, 0, 2);
  const worker = new Worker(new URL(import.meta.url), { workerData: { count, seed, shared } });
  const started = Date.now();
  process.stdout.write(`fuzzing ${count} inputs, seed ${seed} (node ${process.version})\n`);

  const result = await new Promise((resolve, reject) => {
    let lastRound = -1;
    let lastChange = Date.now();
    const watchdog = setInterval(() => {
      const round = Atomics.load(state, 0);
      if (round !== lastRound) {
        lastRound = round;
        lastChange = Date.now();
        return;
      }
      if (Date.now() - lastChange < HANG_LIMIT_MS) return;
      clearInterval(watchdog);
      const length = Atomics.load(state, 1);
      const input = Buffer.from(new Uint8Array(shared, 8, length)).toString('hex');
      void worker.terminate();
      resolve({ hang: { round, input } });
    }, 1000);
    worker.on('message', (message) => {
      if (message.progress !== undefined) process.stdout.write(`  ${message.progress} inputs, ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      if (message.done) {
        clearInterval(watchdog);
        resolve(message.done);
      }
    });
    worker.on('error', (error) => {
      clearInterval(watchdog);
      reject(error);
    });
  });

  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.hang) {
    process.stdout.write(`HANG: round ${result.hang.round} ran for more than ${HANG_LIMIT_MS / 1000} s (seed ${seed})\ninput ${result.hang.input}\n`);
    process.exitCode = 1;
    return;
  }
  for (const failure of result.failures) process.stdout.write(`FAIL round ${failure.round} (seed ${seed}): ${failure.problem}\ninput ${failure.input}\n`);
  process.stdout.write(
    `${result.count} inputs in ${seconds} s, seed ${seed}: ${result.failureCount} failures; ` +
      `${result.splitFailed} failed framing, ${result.decoded} decodes returned, ${result.rejected} raised DecodeError; ` +
      `slowest input ${result.slowestMs.toFixed(1)} ms, largest result ${result.maxUnitsPerByte.toFixed(2)} units per input byte\n`,
  );
  process.exitCode = result.failureCount === 0 ? 0 : 1;
}

async function fuzz({ count, seed, shared }) {
  const dist = new URL('dist/', ROOT);
  const { mulberry32, randomInteger } = await import(new URL('test/netlink/helpers/random.js', dist).href);
  const generate = await import(new URL('test/netlink/helpers/generate.js', dist).href);
  const { checkHostileInput } = await import(new URL('test/netlink/helpers/hostile.js', dist).href);
  const { encodeMessage, splitDatagram } = await import(new URL('src/netlink/message.js', dist).href);
  const codecs = await loadCodecs(dist);

  const state = new Int32Array(shared, 0, 2);
  const inputView = new Uint8Array(shared, 8, MAX_INPUT);
  const random = mulberry32(seed);
  const corpus = [...fixtureDatagrams(), ...codecs.map((codec) => encodeMessage(codec.type, 2, 1, codec.encode(codec.random(random))))];

  const result = { count: 0, failureCount: 0, failures: [], splitFailed: 0, decoded: 0, rejected: 0, slowestMs: 0, maxUnitsPerByte: 0 };
  for (let round = 0; round < count; round++) {
    const input = nextInput(random, randomInteger, generate, codecs, corpus, encodeMessage);
    Atomics.store(state, 1, Math.min(input.length, MAX_INPUT));
    inputView.set(input.subarray(0, MAX_INPUT));
    Atomics.store(state, 0, round);

    const began = performance.now();
    const problem = checkHostileInput(input);
    const elapsed = performance.now() - began;
    result.slowestMs = Math.max(result.slowestMs, elapsed);
    result.count++;
    if (problem !== null) {
      result.failureCount++;
      if (result.failures.length < MAX_REPORTED_FAILURES) result.failures.push({ round, problem, input: input.toString('hex') });
    }
    tally(result, input, splitDatagram, codecs, generate.decodedSize);
    if ((round + 1) % PROGRESS_EVERY === 0) parentPort.postMessage({ progress: round + 1 });
  }
  parentPort.postMessage({ done: result });
}

async function loadCodecs(dist) {
  const load = (path) => import(new URL(path, dist).href);
  const [link, address, route, rule, generate] = await Promise.all([
    load('src/netlink/link.js'),
    load('src/netlink/address.js'),
    load('src/netlink/route.js'),
    load('src/netlink/rule.js'),
    load('test/netlink/helpers/generate.js'),
  ]);
  return [
    { type: 16, random: generate.randomLinkMessage, encode: link.encodeLink, decode: link.decodeLink },
    { type: 20, random: generate.randomAddressMessage, encode: address.encodeAddress, decode: address.decodeAddress },
    { type: 24, random: generate.randomRouteMessage, encode: route.encodeRoute, decode: route.decodeRoute },
    { type: 32, random: generate.randomRuleMessage, encode: rule.encodeRule, decode: rule.decodeRule },
  ];
}

/** Returns the captured kernel replies and iproute2 requests, as datagrams. */
function fixtureDatagrams() {
  const state = JSON.parse(readFileSync(new URL('test/fixtures/netlink/namespace-state.json', ROOT), 'utf8'));
  const replies = state.exchanges.flatMap((exchange) => exchange.replies.map((hex) => Buffer.from(hex, 'hex')));
  const wireDirectory = new URL('test/fixtures/wire/', ROOT);
  const requests = readdirSync(wireDirectory)
    .filter((file) => file.endsWith('.json'))
    .flatMap((file) => JSON.parse(readFileSync(new URL(file, wireDirectory), 'utf8')).messages.map((hex) => Buffer.from(hex, 'hex')));
  return [...replies, ...requests];
}

// Half of the mutated inputs keep their framing, so that the mutations reach the decoders.
function nextInput(random, randomInteger, generate, codecs, corpus, encodeMessage) {
  const choice = random();
  const change = (bytes) => generate.mutate(bytes, random, corpus).output;
  const mutated = (original) => (random() < 0.5 ? generate.mutateOneMessage(original, random, change) : change(original));
  if (choice < 0.4) return mutated(corpus[randomInteger(random, corpus.length)]);
  const codec = codecs[randomInteger(random, codecs.length)];
  if (choice < 0.8) return mutated(encodeMessage(codec.type, 2, 1, codec.encode(codec.random(random))));
  const bytes = Buffer.from(Array.from({ length: randomInteger(random, 300) }, () => randomInteger(random, 256)));
  return choice < 0.9 ? encodeMessage(codec.type, 2, 1, bytes) : bytes;
}

/** Counts outcomes for the summary and the largest result per input byte. */
function tally(result, input, splitDatagram, codecs, decodedSize) {
  let messages;
  try {
    messages = splitDatagram(input);
  } catch {
    result.splitFailed++;
    return;
  }
  for (const message of messages) {
    const length = message.payload.length + 16;
    for (const codec of codecs) {
      try {
        const size = decodedSize(codec.decode(message), input);
        result.decoded++;
        result.maxUnitsPerByte = Math.max(result.maxUnitsPerByte, size.units / length);
      } catch {
        result.rejected++;
      }
    }
  }
}
