import test from 'ava';

import { decodeAddress } from '../../src/netlink/address.js';
import { decodeLink } from '../../src/netlink/link.js';
import { decodeError, splitDatagram, type Message } from '../../src/netlink/message.js';
import { decodeRoute } from '../../src/netlink/route.js';
import { decodeRule } from '../../src/netlink/rule.js';
import { loadFixture } from './helpers/fixtures.js';
import { mutate, mutateOneMessage } from './helpers/generate.js';
import { checkHostileInput } from './helpers/hostile.js';
import { mulberry32, randomInteger, seedFromEnvironment } from './helpers/random.js';

// Mutated kernel replies must decode or fail with DecodeError, never with another exception
// (RangeError from a Buffer read, TypeError from a missing field, a stack overflow). What they
// decode to must be views of the input, bounded by its size (helpers/hostile.ts).
// Replay a failure with NETLINK_TEST_SEED=<seed from the title>; NETLINK_TEST_SEED=random
// explores new inputs.

const SEED = seedFromEnvironment();
const MUTATIONS = 20_000;

// For the counts in the log; checkHostileInput runs every decoder, decodeChange too.
const DECODERS: [string, (message: Message) => unknown][] = [
  ['decodeLink', decodeLink],
  ['decodeAddress', decodeAddress],
  ['decodeRoute', decodeRoute],
  ['decodeRule', decodeRule],
  ['decodeError', decodeError],
];

const originals = loadFixture().exchanges.flatMap((exchange) => exchange.replies);

/** Counts how often the decoders returned and how often they raised, for the log. Throws when the framing is broken. */
function countOutcomes(datagram: Buffer): { decoded: number; failed: number } {
  const counts = { decoded: 0, failed: 0 };
  for (const message of splitDatagram(datagram)) {
    for (const [, decode] of DECODERS) {
      try {
        decode(message);
        counts.decoded++;
      } catch {
        counts.failed++;
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
      const { output, applied: names } = mutate(bytes, random, originals);
      applied.push(...names);
      return output;
    };
    const input = keepFraming ? mutateOneMessage(original, random, mutateBytes) : mutateBytes(original);

    const problem = checkHostileInput(input);
    if (problem !== null) {
      t.fail(`round ${round} (${applied.join(', ')}), seed ${SEED}: ${problem}\ninput ${input.toString('hex')}`);
      return;
    }
    try {
      const counts = countOutcomes(input);
      outcomes.framed++;
      outcomes.messagesDecoded += counts.decoded;
      outcomes.messagesFailed += counts.failed;
    } catch {
      outcomes.badFraming++;
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
