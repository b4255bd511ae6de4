import test from 'ava';

import { decodeAddress, encodeAddress, type AddressMessage } from '../../src/netlink/address.js';
import { AF_INET, AF_INET6, IFA_F_NODAD, IFA_F_PERMANENT, NLM_F_MULTI, RT_SCOPE_HOST, RT_SCOPE_UNIVERSE, RTM_NEWADDR } from '../../src/netlink/constants.js';
import { encodeMessage, splitDatagram, type Message } from '../../src/netlink/message.js';
import { attr, bytes, cstring, ipv4, ipv6Groups, s32, u16, u32, u8 } from './helpers/bytes.js';

function asMessage(body: Buffer): Message {
  const [message] = splitDatagram(encodeMessage(RTM_NEWADDR, NLM_F_MULTI, 1, body));
  if (!message) throw new Error('encodeMessage produced no message');
  return message;
}

test('IPv4 address with label', (t) => {
  const address: AddressMessage = {
    family: AF_INET,
    prefixLength: 16,
    flags: 0,
    scope: RT_SCOPE_UNIVERSE,
    index: 5,
    attributes: { local: '10.49.0.1', address: '10.49.0.1', label: 'wg0' },
  };

  const expected = bytes(
    // ifaddrmsg
    u8(2), // ifa_family AF_INET
    u8(16), // ifa_prefixlen
    u8(0), // ifa_flags
    u8(0), // ifa_scope RT_SCOPE_UNIVERSE
    u32(5), // ifa_index
    // IFA_ADDRESS 10.49.0.1
    u16(8), u16(1), ipv4('10.49.0.1'),
    // IFA_LOCAL 10.49.0.1
    u16(8), u16(2), ipv4('10.49.0.1'),
    // IFA_LABEL "wg0\0"
    u16(8), u16(3), cstring('wg0'),
  );

  t.deepEqual(encodeAddress(address), expected);
});

test('IPv6 address with lifetimes', (t) => {
  const address: AddressMessage = {
    family: AF_INET6,
    prefixLength: 48,
    flags: IFA_F_NODAD,
    scope: RT_SCOPE_UNIVERSE,
    index: 5,
    attributes: {
      address: '2001:db8:a160::1',
      cacheinfo: { preferred: 1800, valid: 3600, created: 0, updated: 0 },
      flags: IFA_F_NODAD,
    },
  };

  const expected = bytes(
    // ifaddrmsg
    u8(10), // ifa_family AF_INET6
    u8(48), // ifa_prefixlen
    u8(0x02), // ifa_flags IFA_F_NODAD
    u8(0), // ifa_scope
    u32(5), // ifa_index
    // IFA_ADDRESS 2001:db8:a160::1
    u16(20), u16(1), ipv6Groups(0x2001, 0x0db8, 0xa160, 0, 0, 0, 0, 1),
    // IFA_CACHEINFO: ifa_prefered, ifa_valid, cstamp, tstamp
    u16(20), u16(6), u32(1800), u32(3600), u32(0), u32(0),
    // IFA_FLAGS IFA_F_NODAD (all 32 bits)
    u16(8), u16(8), u32(0x02),
  );

  t.deepEqual(encodeAddress(address), expected);
});

test('IPv4 address round trip', (t) => {
  const address: AddressMessage = {
    family: AF_INET,
    prefixLength: 30,
    flags: IFA_F_PERMANENT,
    scope: RT_SCOPE_UNIVERSE,
    index: 12,
    attributes: {
      address: '10.47.255.2',
      local: '10.47.255.2',
      broadcast: '10.47.255.3',
      label: 'uplink',
      flags: IFA_F_PERMANENT,
      proto: 3,
      cacheinfo: { preferred: 0xffffffff, valid: 0xffffffff, created: 123, updated: 456 },
    },
  };

  t.deepEqual(decodeAddress(asMessage(encodeAddress(address))), address);
});

test('IPv6 address round trip', (t) => {
  const address: AddressMessage = {
    family: AF_INET6,
    prefixLength: 128,
    flags: IFA_F_NODAD,
    scope: RT_SCOPE_HOST,
    index: 1,
    attributes: { address: 'fd00::1', flags: IFA_F_NODAD | 0x400, rtPriority: 10, targetNetnsid: -1 },
  };

  t.deepEqual(decodeAddress(asMessage(encodeAddress(address))), address);
});

test('IFA_FLAGS keeps bits above 8', (t) => {
  // IFA_F_NOPREFIXROUTE (0x200) does not fit ifa_flags, only the IFA_FLAGS attribute.
  const body = bytes(u8(10), u8(64), u8(0), u8(0), u32(2), attr(1, ipv6Groups(0xfd00, 0, 0, 0, 0, 0, 0, 1)), attr(8, u32(0x200)));

  const decoded = decodeAddress(asMessage(body));

  t.is(decoded.flags, 0);
  t.is(decoded.attributes.flags, 0x200);
});

test('address target namespace id -1 stays signed', (t) => {
  const body = bytes(u8(2), u8(24), u8(0), u8(0), u32(2), attr(10, s32(-1)));

  t.is(decodeAddress(asMessage(body)).attributes.targetNetnsid, -1);
});
