import test from 'ava';

import { decodeAddress, encodeAddress } from '../../src/netlink/address.js';
import { NLM_F_MULTI, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWROUTE, RTM_NEWRULE } from '../../src/netlink/constants.js';
import { decodeLink, encodeLink } from '../../src/netlink/link.js';
import { encodeMessage, splitDatagram, type Message } from '../../src/netlink/message.js';
import { decodeRoute, encodeRoute } from '../../src/netlink/route.js';
import { decodeRule, encodeRule } from '../../src/netlink/rule.js';
import { decodedSize, mutate, randomAddressMessage, randomLinkMessage, randomRouteMessage, randomRuleMessage, type Random } from './helpers/generate.js';
import { checkHostileInput } from './helpers/hostile.js';
import { mulberry32, randomInteger, seedFromEnvironment } from './helpers/random.js';

// Properties over seeded random input. Replay a failure with NETLINK_TEST_SEED=<seed from the
// title>; NETLINK_TEST_SEED=random explores new input. scripts/fuzz.mjs runs the same
// generators over a million inputs.

const SEED = seedFromEnvironment();
const ROUNDS = 1500;

interface Codec<T> {
  type: number;
  random: (random: Random) => T;
  encode: (value: T) => Buffer;
  decode: (message: Message) => T;
}

const CODECS: [string, Codec<never>][] = [
  ['link', { type: RTM_NEWLINK, random: randomLinkMessage, encode: encodeLink, decode: decodeLink } as unknown as Codec<never>],
  ['address', { type: RTM_NEWADDR, random: randomAddressMessage, encode: encodeAddress, decode: decodeAddress } as unknown as Codec<never>],
  ['route', { type: RTM_NEWROUTE, random: randomRouteMessage, encode: encodeRoute, decode: decodeRoute } as unknown as Codec<never>],
  ['rule', { type: RTM_NEWRULE, random: randomRuleMessage, encode: encodeRule, decode: decodeRule } as unknown as Codec<never>],
];

function asMessage(type: number, body: Buffer): Message {
  const [message] = splitDatagram(encodeMessage(type, NLM_F_MULTI, 1, body));
  if (!message) throw new Error('encodeMessage produced no message');
  return message;
}

for (const [name, codec] of CODECS) {
  test(`random ${name} messages survive a round trip (seed ${SEED})`, (t) => {
    const random = mulberry32(SEED);
    for (let round = 0; round < ROUNDS; round++) {
      const value = codec.random(random);
      const encoded = codec.encode(value);
      const decoded = codec.decode(asMessage(codec.type, encoded));

      if (!t.deepEqual(decoded, value, `round ${round}`)) return;
      // Encoding what was decoded gives the same bytes again.
      if (!t.deepEqual(codec.encode(decoded), encoded, `round ${round}: re-encoded bytes`)) return;
    }
  });
}

test(`hostile bytes end only in DecodeError (seed ${SEED})`, (t) => {
  const random = mulberry32(SEED);
  const valid = CODECS.map(([, codec]) => encodeMessage(codec.type, NLM_F_MULTI, 1, codec.encode(codec.random(random))));
  let failures = 0;

  for (let round = 0; round < ROUNDS * 4; round++) {
    // A valid message of a random family, mutated; or random bytes behind a plausible header.
    const [, codec] = CODECS[randomInteger(random, CODECS.length)]!;
    const original = encodeMessage(codec.type, NLM_F_MULTI, 1, codec.encode(codec.random(random)));
    let input: Buffer;
    if (random() < 0.8) {
      input = mutate(original, random, valid).output;
    } else {
      const body = Buffer.from(Array.from({ length: randomInteger(random, 200) }, () => randomInteger(random, 256)));
      input = encodeMessage(codec.type, NLM_F_MULTI, 1, body);
    }

    const problem = checkHostileInput(input);
    if (problem !== null) {
      failures++;
      t.fail(`round ${round}, seed ${SEED}: ${problem}\ninput ${input.toString('hex')}`);
      if (failures >= 3) return;
    }
  }
  t.is(failures, 0);
});

test('size check sees copies and excess', (t) => {
  const input = Buffer.from([1, 2, 3, 4]);

  t.deepEqual(decodedSize({ view: input.subarray(1) }, input), { units: 2, copiedBytes: 0 });
  t.deepEqual(decodedSize({ copy: Buffer.from(input) }, input), { units: 2, copiedBytes: 4 });
  t.is(decodedSize({ text: 'abcdef', list: [1, 2n, true] }, input).units, 2 + 6 + 3 + 3);
});
