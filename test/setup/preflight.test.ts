import test from 'ava';

import { collisionMessage } from '../../src/setup/preflight.js';

test('pool collision asks for another range', (t) => {
  const message = collisionMessage('198.51.100.2/24', 'eth0', 'strongswan.clientPools', '198.51.100.0/24');

  t.true(message.startsWith('address 198.51.100.2/24 on eth0 in the root namespace collides with strongswan.clientPools 198.51.100.0/24; '), message);
  t.regex(message, /choose another range for strongswan\.clientPools in the configuration/);
  t.notRegex(message, /remove it/);
  t.notRegex(message, /Algo puts/);
});

test('transit collision asks for another range', (t) => {
  const message = collisionMessage('10.47.255.2/24', 'eth1', 'wireguard.transitIPv4', '10.47.255.0/30');

  t.regex(message, /choose another range for wireguard\.transitIPv4/);
  t.notRegex(message, /remove it/);
});

test('DNS service address collision may remove it', (t) => {
  const message = collisionMessage('172.16.0.1/32', 'lo', 'dns.serviceAddresses', '172.16.0.1/32');

  t.regex(message, /remove it from lo \(Algo puts the DNS service address on lo\) or choose another address in dns\.serviceAddresses/);
});

test('loopback collision never suggests removal', (t) => {
  for (const field of ['dns.serviceAddresses', 'wireguard.clientPools', 'strongswan.transitIPv4']) {
    const message = collisionMessage('127.0.0.1/8', 'lo', field, '127.0.0.0/8');
    t.notRegex(message, /remove it/, field);
    t.regex(message, /outside the loopback network 127\.0\.0\.0\/8/, field);
  }

  const ipv6 = collisionMessage('::1/128', 'lo', 'dns.serviceAddresses', '::1/128');
  t.notRegex(ipv6, /remove it/);
  t.regex(ipv6, /outside the loopback network ::1\/128/);
});
