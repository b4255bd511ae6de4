import test from 'ava';

import { errnoMessage, errnoName } from '../../src/netlink/errno.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import { messageTypeName } from '../../src/netlink/names.js';

test('errno 17 is EEXIST', (t) => {
  t.is(errnoName(17), 'EEXIST');
  t.is(errnoMessage(17), 'File exists');
});

test('errno 95 is EOPNOTSUPP', (t) => {
  // ENOTSUP has the same number on Linux; iproute2 and strerror() name it EOPNOTSUPP.
  t.is(errnoName(95), 'EOPNOTSUPP');
  t.is(errnoMessage(95), 'Operation not supported');
});

test('errno names and glibc messages', (t) => {
  const expected: [number, string, string][] = [
    [1, 'EPERM', 'Operation not permitted'],
    [2, 'ENOENT', 'No such file or directory'],
    [3, 'ESRCH', 'No such process'],
    [13, 'EACCES', 'Permission denied'],
    [16, 'EBUSY', 'Device or resource busy'],
    [19, 'ENODEV', 'No such device'],
    [22, 'EINVAL', 'Invalid argument'],
    [34, 'ERANGE', 'Numerical result out of range'],
    [90, 'EMSGSIZE', 'Message too long'],
    [97, 'EAFNOSUPPORT', 'Address family not supported by protocol'],
    [99, 'EADDRNOTAVAIL', 'Cannot assign requested address'],
    [101, 'ENETUNREACH', 'Network is unreachable'],
    [105, 'ENOBUFS', 'No buffer space available'],
  ];
  for (const [errno, name, message] of expected) {
    t.is(errnoName(errno), name, `errno ${errno}`);
    t.is(errnoMessage(errno), message, `errno ${errno}`);
  }
});

test('errno outside the glibc list uses libuv text', (t) => {
  // EPROTO (71) has no glibc entry in the table, so libuv's "protocol error" is capitalised.
  t.is(errnoName(71), 'EPROTO');
  t.is(errnoMessage(71), 'Protocol error');
});

test('unknown errno', (t) => {
  t.is(errnoName(4000), 'E4000');
  t.is(errnoMessage(4000), 'Unknown error 4000');
  t.is(errnoName(0), 'E0');
});

test('NetlinkError names its errno', (t) => {
  const error = new NetlinkError({ errno: 4000, operation: 'RTM_NEWRULE', description: 'add rule 100', seq: 3 });

  t.is(error.code, 'E4000');
  t.is(error.message, 'add rule 100: Unknown error 4000');
  t.is(error.name, 'NetlinkError');
  t.true(error instanceof Error);
});

test('message type names', (t) => {
  t.is(messageTypeName(16), 'RTM_NEWLINK');
  t.is(messageTypeName(20), 'RTM_NEWADDR');
  t.is(messageTypeName(24), 'RTM_NEWROUTE');
  t.is(messageTypeName(32), 'RTM_NEWRULE');
  t.is(messageTypeName(2), 'NLMSG_ERROR');
  t.is(messageTypeName(1000), 'unknown(1000)');
});
