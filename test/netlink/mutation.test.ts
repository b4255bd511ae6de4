import test from 'ava';

import { decodeAddress } from '../../src/netlink/address.js';
import { DecodeError } from '../../src/netlink/errors.js';
import { decodeLink } from '../../src/netlink/link.js';
import { decodeError, splitDatagram, type Message } from '../../src/netlink/message.js';
import { decodeRoute } from '../../src/netlink/route.js';
import { decodeRule } from '../../src/netlink/rule.js';
import { loadFixture } from './helpers/fixtures.js';
import { mulberry32, randomInteger, seedFromEnvironment } from './helpers/random.js';

// Mutated kernel replies must decode or fail with DecodeError, never with another exception
// (RangeError from a Buffer read, TypeError from a missing field, a stack overflow).
// Replay a failure with NETLINK_TEST_SEED=<seed from the title>; NETLINK_TEST_SEED=random
// explores new inputs.

const SEED = seedFromEnvironment();
const MUTATIONS = 20_000;

const DECODERS: [string, (message: Message) => unknown][] = [
  ['decodeLink', decodeLink],
  ['decodeAddress', decodeAddress],
  ['decodeRoute', decodeRoute],
  ['decodeRule', decodeRule],
  ['decodeError', decodeError],
];

const originals = loadFixture().exchanges.flatMap((exchange) => exchange.replies);

// Values that hit length checks: zero, just below and above a header, and the maximum.
const INTERESTING_U16 = [0, 1, 3, 4, 5, 8, 15, 16, 17, 20, 0x7fff, 0x8000, 0x8004, 0xffff];
const INTERESTING_U32 = [0, 4, 15, 16, 17, 20, 0x7fffffff, 0x80000000, 0xffffffff];

type Mutation = (input: Buffer, random: () => number) => Buffer;

const MUTATORS: [string, Mutation][] = [
  [
    'flip a bit',
    (input, random) => {
      const output = Buffer.from(input);
      const at = randomInteger(random, output.length);
      output[at] = (output[at] ?? 0) ^ (1 << randomInteger(random, 8));
      return output;
    },
  ],
  [
    'randomize bytes',
    (input, random) => {
      const output = Buffer.from(input);
      const count = 1 + randomInteger(random, 8);
      for (let i = 0; i < count; i++) output[randomInteger(random, output.length)] = randomInteger(random, 256);
      return output;
    },
  ],
  [
    'write a length-like u16',
    (input, random) => {
      const output = Buffer.from(input);
      if (output.length < 2) return output;
      const at = randomInteger(random, output.length - 1);
      output.writeUInt16LE(INTERESTING_U16[randomInteger(random, INTERESTING_U16.length)] ?? 0, at);
      return output;
    },
  ],
  [
    'write a length-like u32',
    (input, random) => {
      const output = Buffer.from(input);
      if (output.length < 4) return output;
      const at = randomInteger(random, output.length - 3);
      output.writeUInt32LE(INTERESTING_U32[randomInteger(random, INTERESTING_U32.length)] ?? 0, at);
      return output;
    },
  ],
  ['truncate', (input, random) => input.subarray(0, randomInteger(random, input.length))],
  [
    'splice from another reply',
    (input, random) => {
      const donor = originals[randomInteger(random, originals.length)] ?? input;
      const from = randomInteger(random, donor.length);
      const chunk = donor.subarray(from, from + 1 + randomInteger(random, 64));
      const at = randomInteger(random, input.length);
      const replace = random() < 0.5;
      return Buffer.concat([input.subarray(0, at), chunk, input.subarray(replace ? at + chunk.length : at)]);
    },
  ],
  [
    'duplicate a range',
    (input, random) => {
      const from = randomInteger(random, input.length);
      const chunk = input.subarray(from, from + 1 + randomInteger(random, 128));
      return Buffer.concat([input.subarray(0, from), chunk, input.subarray(from)]);
    },
  ],
];

/** Applies `mutate` to the payload of one message of `datagram` and rewrites that message's nlmsg_len. */
function mutateOneMessage(datagram: Buffer, random: () => number, mutate: (payload: Buffer) => Buffer): Buffer {
  const messages = splitDatagram(datagram);
  const chosen = randomInteger(random, messages.length);
  const parts = messages.map((message, index) => {
    const payload = index === chosen ? mutate(message.payload) : message.payload;
    const header = Buffer.from(datagram.subarray(message.payloadOffset - 16, message.payloadOffset));
    header.writeUInt32LE(16 + payload.length, 0);
    return Buffer.concat([header, payload, Buffer.alloc((4 - (payload.length % 4)) % 4)]);
  });
  return Buffer.concat(parts);
}

/** Raised when a decoder fails other than with DecodeError, or with an offset outside its message. */
class UnexpectedFailure extends Error {}

/**
 * Decodes every message with every decoder, as a reply of the wrong type might be, and
 * checks that each DecodeError points into the message it came from.
 */
function decodeEverything(datagram: Buffer): { decoded: number; failed: number } {
  const counts = { decoded: 0, failed: 0 };
  for (const message of splitDatagram(datagram)) {
    const start = message.payloadOffset - 16;
    const end = message.payloadOffset + message.payload.length;
    for (const [name, decode] of DECODERS) {
      try {
        decode(message);
        counts.decoded++;
      } catch (error) {
        counts.failed++;
        if (!(error instanceof DecodeError)) throw new UnexpectedFailure(`${name} threw ${String(error)}`, { cause: error });
        if (!Number.isInteger(error.offset) || error.offset < start || error.offset > end) {
          throw new UnexpectedFailure(`${name}: DecodeError offset ${error.offset} outside its message at ${start}..${end}: ${error.message}`);
        }
      }
    }
  }
  return counts;
}

test('unmutated fixtures decode', (t) => {
  t.true(originals.length > 0);
  for (const datagram of originals) t.notThrows(() => splitDatagram(datagram));
});

test(`mutated replies raise only DecodeError (seed ${SEED})`, (t) => {
  const random = mulberry32(SEED);
  const outcomes = { framed: 0, badFraming: 0, messagesDecoded: 0, messagesFailed: 0 };

  for (let round = 0; round < MUTATIONS; round++) {
    const original = originals[randomInteger(random, originals.length)] ?? Buffer.alloc(0);
    // Half of the rounds keep the framing intact, so that the mutations reach the decoders.
    const keepFraming = random() < 0.5;
    const applied: string[] = keepFraming ? ['inside one message'] : [];
    const mutateBytes = (bytes: Buffer): Buffer => {
      let output = bytes;
      const steps = 1 + randomInteger(random, 3);
      for (let step = 0; step < steps && output.length > 0; step++) {
        const [name, mutate] = MUTATORS[randomInteger(random, MUTATORS.length)] ?? MUTATORS[0]!;
        output = mutate(output, random);
        applied.push(name);
      }
      return output;
    };
    const input = keepFraming ? mutateOneMessage(original, random, mutateBytes) : mutateBytes(original);

    try {
      const counts = decodeEverything(input);
      outcomes.framed++;
      outcomes.messagesDecoded += counts.decoded;
      outcomes.messagesFailed += counts.failed;
    } catch (error) {
      if (error instanceof DecodeError && error.offset >= 0 && error.offset <= input.length) {
        outcomes.badFraming++;
        continue;
      }
      t.fail(`round ${round} (${applied.join(', ')}), seed ${SEED}: ${String(error)}\ninput ${input.toString('hex')}`);
      return;
    }
  }

  t.log(
    `${outcomes.framed} datagrams split into messages and ${outcomes.badFraming} failed splitting with DecodeError; ` +
      `decoders returned ${outcomes.messagesDecoded} times and raised DecodeError ${outcomes.messagesFailed} times`,
  );
  t.is(outcomes.framed + outcomes.badFraming, MUTATIONS);
  t.true(outcomes.badFraming > 0, 'some mutations should break the framing');
  t.true(outcomes.messagesFailed > 0, 'some mutations should break a message body');
});
